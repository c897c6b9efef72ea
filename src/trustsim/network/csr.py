"""Building a :class:`~trustsim.network.graph.Network` from edge keys: sorting, CSR rows, a hash set.

An edge ``(u, v)`` with ``u < v`` is the key ``u·N + v``; sorted keys are the edge
order of docs/model.md §2. Generators draw keys and hand them here.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.network.graph import Network, network_dtypes

_EMPTY = np.int64(-1)
_FIB = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(inline="always", cache=True)
def _slot_of(key: int, shift: int) -> int:
    """Home slot of ``key`` in a table of ``2**(64 - shift)`` slots (Fibonacci hashing)."""
    return np.int64((np.uint64(key) * _FIB) >> np.uint64(shift))


@nb.njit(cache=True)
def set_contains(table: np.ndarray, shift: int, key: int) -> bool:
    """Whether the open-addressing set ``table`` (empty slots ``-1``) holds ``key``."""
    mask = table.shape[0] - 1
    h = _slot_of(key, shift)
    while True:
        cur = table[h]
        if cur == key:
            return True
        if cur == _EMPTY:
            return False
        h = (h + 1) & mask


@nb.njit(cache=True)
def set_insert(table: np.ndarray, shift: int, key: int) -> bool:
    """Add ``key`` to the set; False if it was there already."""
    mask = table.shape[0] - 1
    h = _slot_of(key, shift)
    while True:
        cur = table[h]
        if cur == key:
            return False
        if cur == _EMPTY:
            table[h] = key
            return True
        h = (h + 1) & mask


def hash_set(n_keys: int) -> tuple[np.ndarray, int]:
    """An empty set for ``n_keys`` keys: a power of two ≥ 2·n_keys slots, and its shift."""
    bits = max(4, int(2 * max(n_keys, 1) - 1).bit_length())
    return np.full(1 << bits, -1, dtype=np.int64), 64 - bits


@nb.njit(inline="always", cache=True)
def pick_index(u: float, n: int) -> int:
    """Index ``floor(u·n)`` in ``0 … n-1`` for a uniform ``u`` in [0, 1)."""
    i = int(u * n)
    return i if i < n else n - 1


_SORT_CHUNKS = 64  # fixed, so the work split never depends on the thread count
_BUCKET_SIZE = 1024  # mean keys per bucket of the bucket sort


@nb.njit(parallel=True, cache=True)
def _bucket_sort(keys: np.ndarray, shift: int, n_buckets: int) -> np.ndarray:
    """Sorted copy of non-negative int64 ``keys``: parallel scatter by ``key >> shift``, then sort each bucket.

    The result is the sorted array whatever the thread count (sorting is canonical).
    """
    n_keys = keys.shape[0]
    size = (n_keys + _SORT_CHUNKS - 1) // _SORT_CHUNKS
    counts = np.zeros((_SORT_CHUNKS, n_buckets), dtype=np.int64)
    for c in nb.prange(_SORT_CHUNKS):
        for i in range(c * size, min(n_keys, (c + 1) * size)):
            counts[c, keys[i] >> shift] += 1
    bounds = np.empty(n_buckets + 1, dtype=np.int64)
    total = 0
    for b in range(n_buckets):
        bounds[b] = total
        for c in range(_SORT_CHUNKS):
            cnt = counts[c, b]
            counts[c, b] = total
            total += cnt
    bounds[n_buckets] = total
    out = np.empty(n_keys, dtype=np.int64)
    for c in nb.prange(_SORT_CHUNKS):
        pos = counts[c]
        for i in range(c * size, min(n_keys, (c + 1) * size)):
            b = keys[i] >> shift
            out[pos[b]] = keys[i]
            pos[b] += 1
    for b in nb.prange(n_buckets):
        out[bounds[b] : bounds[b + 1]].sort()
    return out


def sort_keys(keys: np.ndarray, key_bound: int) -> np.ndarray:
    """Sorted copy of int64 ``keys``, all in ``0 … key_bound``."""
    n_buckets_wanted = max(1, keys.shape[0] // _BUCKET_SIZE)
    shift = max(0, int(key_bound).bit_length() - n_buckets_wanted.bit_length())
    return _bucket_sort(keys, shift, (int(key_bound) >> shift) + 1)


@nb.njit(parallel=True, cache=True)
def _higher_ends(keys: np.ndarray, n: int) -> np.ndarray:
    """The higher end ``key % n`` of every edge key (int32)."""
    dst = np.empty(keys.shape[0], dtype=np.int32)
    for e in nb.prange(keys.shape[0]):
        dst[e] = keys[e] % n
    return dst


@nb.njit(parallel=True, cache=True)
def row_starts(keys: np.ndarray, div: int, n: int) -> np.ndarray:
    """``starts[i]``: first position whose row ``keys[p] // div`` is ≥ ``i`` (keys sorted), for i = 0 … n."""
    n_keys = keys.shape[0]
    starts = np.empty(n + 1, dtype=np.int64)
    for p in nb.prange(n_keys + 1):
        prev = keys[p - 1] // div if p > 0 else -1
        cur = keys[p] // div if p < n_keys else n
        for i in range(prev + 1, cur + 1):
            starts[i] = p
    return starts


@nb.njit(parallel=True, cache=True)
def _lower_keys(dst: np.ndarray) -> np.ndarray:
    """Keys ``dst[e]·E + e``: sorted, they list each agent's lower neighbours' edges in increasing order."""
    n_edges = dst.shape[0]
    keys = np.empty(n_edges, dtype=np.int64)
    for e in nb.prange(n_edges):
        keys[e] = dst[e] * np.int64(n_edges) + e
    return keys


@nb.njit(parallel=True, cache=True)
def _fill_rows(keys: np.ndarray, dst: np.ndarray, estart: np.ndarray, lower: np.ndarray, lstart: np.ndarray,
               offsets: np.ndarray, neighbours: np.ndarray) -> None:  # fmt: skip
    """CSR rows: agent ``i``'s lower neighbours (edges ``(s, i)``, increasing ``s``), then its higher ones.

    ``estart`` are the row starts of the sorted edge ``keys`` by lower end; ``lower`` the
    sorted keys ``dst·E + e`` with row starts ``lstart``. Row ``i`` starts at ``offsets[i]
    = estart[i] + lstart[i]``.
    """
    n_edges = dst.shape[0]
    n = estart.shape[0] - 1
    for i in nb.prange(n):
        o = offsets[i]
        for p in range(lstart[i], lstart[i + 1]):
            neighbours[o] = keys[lower[p] - i * np.int64(n_edges)] // n
            o += 1
        for e in range(estart[i], estart[i + 1]):
            neighbours[o] = dst[e]
            o += 1


def csr_rows(n_agents: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR rows of the sorted, distinct edge keys ``src·N + dst`` (``src < dst``): each row's first slot
    and the neighbours (int64 [N+1], int32 [2E]), and each agent's first edge (int64 [N+1])."""
    dst = _higher_ends(keys, n_agents)
    estart = row_starts(keys, n_agents, n_agents)
    if keys.shape[0] == 0:
        lower, lstart = keys, estart
    else:
        lower = sort_keys(_lower_keys(dst), n_agents * keys.shape[0])
        lstart = row_starts(lower, keys.shape[0], n_agents)
    # The CSR arrays are read every day: numpy allocates them, since numpy asks the
    # kernel for transparent huge pages on large arrays and numba's allocator does not.
    offsets = estart + lstart
    neighbours = np.empty(2 * keys.shape[0], dtype=network_dtypes()["neighbours"])
    _fill_rows(keys, dst, estart, lower, lstart, offsets, neighbours)
    return offsets, neighbours, estart


def from_sorted_keys(n_agents: int, keys: np.ndarray) -> Network:
    """A :class:`Network` from the sorted, distinct edge keys ``src·N + dst`` (``src < dst``), all in CSR."""
    offsets, neighbours, estart = csr_rows(n_agents, keys)
    return Network.from_counts(n_agents, 0, np.empty(0, dtype=network_dtypes()["ring"]), offsets, neighbours, estart)


def from_keys(n_agents: int, keys: np.ndarray) -> Network:
    """A :class:`Network` from distinct edge keys ``min·N + max`` in any order."""
    return from_sorted_keys(n_agents, sort_keys(keys, n_agents * n_agents))


def from_edge_arrays(n_agents: int, u: np.ndarray, v: np.ndarray) -> Network:
    """Build a :class:`Network` from the edge list ``(u[i], v[i])`` in any order and orientation.

    The pairs are normalised to ``(min, max)`` and sorted (parallel bucket sort).
    The input must hold no self-loops and no duplicates (the generators guarantee
    it; :func:`edge_file` checks it); ids must lie in ``0 … n_agents-1``.
    """
    u = np.asarray(u)
    v = np.asarray(v)
    if u.shape != v.shape or u.ndim != 1:
        raise ValueError(f"edge arrays must be 1-D and of equal length (got {u.shape} and {v.shape})")
    if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n_agents):
        raise ValueError(f"edge endpoints must lie in 0 … {n_agents - 1}")
    u = u.astype(np.int64, copy=False)
    v = v.astype(np.int64, copy=False)
    return from_keys(n_agents, np.minimum(u, v) * np.int64(n_agents) + np.maximum(u, v))


def check_seed(seed: int) -> int:
    """The seed as an int, checked to be an unsigned 32-bit integer."""
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in 0 … 2**32-1 (got {seed})")
    return seed
