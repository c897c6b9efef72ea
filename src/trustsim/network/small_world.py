"""The Watts–Strogatz small world (docs/model.md §2), with networkx ``watts_strogatz_graph`` semantics."""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.network.csr import check_seed, from_keys, pick_index, row_starts, set_contains, set_insert, sort_keys
from trustsim.network.graph import Network, network_dtypes
from trustsim.rng import stream_id, uniform


@nb.njit(parallel=True, cache=True)
def _sw_plan(n: int, half: int, p: float, seed: int, stream: int) -> tuple[np.ndarray, int]:
    """Rewire decisions ``U(net:sw_rewire, j, u, 0) < p`` for every lattice edge, and their count.

    ``state[(j-1)·n + u]`` is 1 for a planned rewiring of ``(u, u+j mod n)``, else 0.
    """
    state = np.zeros(n * half, dtype=np.uint8)
    count = 0
    for idx in nb.prange(n * half):
        j = idx // n + 1
        u = idx - (j - 1) * n
        if uniform(seed, stream, j, u, 0) < p:
            state[idx] = 1
            count += 1
    return state, count


@nb.njit(cache=True)
def _sw_has_edge(n: int, half: int, state: np.ndarray, added: np.ndarray, shift: int, u: int, w: int) -> bool:
    """Whether ``(u, w)`` is currently an edge: a lattice edge not removed, or a rewired one."""
    d = (w - u) % n
    if 1 <= d <= half and state[(d - 1) * n + u] != 2:
        return True
    if 1 <= n - d <= half and state[(n - d - 1) * n + w] != 2:
        return True
    return set_contains(added, shift, min(u, w) * n + max(u, w))


@nb.njit(cache=True)
def _sw_rewire(n: int, half: int, state: np.ndarray, n_planned: int, seed: int, s_target: int) -> np.ndarray:
    """networkx's sequential rewiring loop; marks removed lattice edges 2, returns the new edges' keys.

    For ``j = 1 … k/2`` and ``u = 0 … n-1`` in order, a planned rewiring of
    ``(u, v = u+j mod n)`` draws ``w = floor(U(net:sw_target, j, u, a)·n)`` for
    ``a = 0, 1, …`` until ``w ≠ u`` and ``(u, w)`` is no edge, then replaces
    ``(u, v)`` by ``(u, w)``; it is skipped when ``u`` already has degree ``n-1``.
    """
    bits = 4
    while (1 << bits) < 2 * max(n_planned, 1):
        bits += 1
    added = np.full(1 << bits, -1, dtype=np.int64)
    shift = 64 - bits
    deg = np.full(n, 2 * half, dtype=np.int32)
    new_keys = np.empty(n_planned, dtype=np.int64)
    n_new = 0
    for j in range(1, half + 1):
        for u in range(n):
            idx = (j - 1) * n + u
            if state[idx] != 1 or deg[u] >= n - 1:
                continue
            a = 0
            w = pick_index(uniform(seed, s_target, j, u, a), n)
            while w == u or _sw_has_edge(n, half, state, added, shift, u, w):
                a += 1
                w = pick_index(uniform(seed, s_target, j, u, a), n)
            state[idx] = 2
            deg[(u + j) % n] -= 1
            deg[w] += 1
            new_keys[n_new] = min(u, w) * n + max(u, w)
            set_insert(added, shift, new_keys[n_new])
            n_new += 1
    return new_keys[:n_new]


@nb.njit(cache=True)
def _sw_lattice_keys(n: int, half: int, state: np.ndarray) -> np.ndarray:
    """Keys ``min·n + max`` of the surviving lattice edges (for the reference build, :func:`small_world_by_sorting`)."""
    keys = np.empty(n * half, dtype=np.int64)
    e = 0
    for idx in range(n * half):
        if state[idx] != 2:
            j = idx // n + 1
            u = idx - (j - 1) * n
            v = (u + j) % n
            keys[e] = min(u, v) * n + max(u, v)
            e += 1
    return keys[:e]


@nb.njit(inline="always", cache=True)
def _lattice_present(n: int, state: np.ndarray, u: int, j: int) -> bool:
    """Whether the lattice edge ``(u, u+j mod n)`` survived the rewiring."""
    return state[(j - 1) * n + u] != 2


@nb.njit(inline="always", cache=True)
def _ring(u: int, n: int) -> int:
    """``u mod n`` for ``-n ≤ u < 2n`` (a neighbour on the ring), without a division."""
    return u + n if u < 0 else (u - n if u >= n else u)


@nb.njit(parallel=True, cache=True)
def _sw_row_counts(n: int, half: int, state: np.ndarray, hstart: np.ndarray, lstart: np.ndarray,
                   degree: np.ndarray, higher: np.ndarray) -> None:  # fmt: skip
    """Every agent's degree and its number of higher neighbours (the edges it is the lower end of)."""
    for i in nb.prange(n):
        deg = hstart[i + 1] - hstart[i] + lstart[i + 1] - lstart[i]
        hi = hstart[i + 1] - hstart[i]
        for j in range(1, half + 1):
            forward, backward = _ring(i + j, n), _ring(i - j, n)
            if _lattice_present(n, state, i, j):
                deg += 1
                hi += forward > i
            if _lattice_present(n, state, backward, j):
                deg += 1
                hi += backward > i
        degree[i], higher[i] = deg, hi


@nb.njit(inline="always", cache=True)
def _insert(row: np.ndarray, start: int, end: int, value: int) -> int:
    """Insert ``value`` into the increasing ``row[start:end]``, keeping it increasing; the new end."""
    k = end
    while k > start and row[k - 1] > value:
        row[k] = row[k - 1]
        k -= 1
    row[k] = value
    return end + 1


@nb.njit(parallel=True, cache=True)
def _sw_fill_rows(n: int, half: int, state: np.ndarray, hi_keys: np.ndarray, hstart: np.ndarray,
                  lo_keys: np.ndarray, lstart: np.ndarray, offsets: np.ndarray,
                  neighbours: np.ndarray) -> None:  # fmt: skip
    """Each row's neighbours in increasing id order."""
    for i in nb.prange(n):
        o = offsets[i]
        # Listed nearly in order (i-k/2 … i-1, i+1 … i+k/2 unless the ring wraps), so an
        # insertion sort orders the row in about one pass.
        for j in range(half, 0, -1):
            backward = _ring(i - j, n)
            if _lattice_present(n, state, backward, j):
                o = _insert(neighbours, offsets[i], o, backward)
        for j in range(1, half + 1):
            if _lattice_present(n, state, i, j):
                o = _insert(neighbours, offsets[i], o, _ring(i + j, n))
        for p in range(lstart[i], lstart[i + 1]):
            o = _insert(neighbours, offsets[i], o, lo_keys[p] - i * np.int64(n))
        for p in range(hstart[i], hstart[i + 1]):
            o = _insert(neighbours, offsets[i], o, hi_keys[p] - i * np.int64(n))


def _sw_csr(n: int, half: int, state: np.ndarray, new_keys: np.ndarray) -> Network:
    """The CSR network of the surviving lattice edges (``state != 2``) and the rewired edges ``new_keys``.

    Built row by row from the lattice's known shape, without sorting the ``n·k/2`` edge keys
    (which took 64 bytes an edge at its peak): only the rewired edges are sorted, once by
    lower end and once by higher end. The result is the network :func:`from_keys` builds
    from all the keys (a test checks it).
    """
    hi_keys = sort_keys(new_keys, n * n)
    lo_keys = sort_keys((new_keys % n) * np.int64(n) + new_keys // n, n * n)
    hstart = row_starts(hi_keys, n, n)
    lstart = row_starts(lo_keys, n, n)
    degree = np.empty(n, dtype=np.int64)
    higher = np.empty(n, dtype=np.int64)
    _sw_row_counts(n, half, state, hstart, lstart, degree, higher)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(degree, out=offsets[1:])
    del degree
    estart = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(higher, out=estart[1:])
    del higher
    n_edges = int(estart[n])
    dtypes = network_dtypes()
    neighbours = np.empty(2 * n_edges, dtype=dtypes["neighbours"])
    _sw_fill_rows(n, half, state, hi_keys, hstart, lo_keys, lstart, offsets, neighbours)
    return Network(n, offsets, neighbours, estart)


def _rewired(n: int, k: int, p: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The lattice's state after the rewiring (2: removed) and the rewired edges' keys."""
    seed = check_seed(seed)
    if k % 2 or not 2 <= k < n:
        raise ValueError(f"small_world needs an even k with 2 <= k < n (got k={k}, n={n}); pick an even k below n")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"small_world needs a rewiring probability p in [0, 1] (got p={p})")
    half = k // 2
    state, n_planned = _sw_plan(n, half, float(p), seed, stream_id("net:sw_rewire"))
    new_keys = _sw_rewire(n, half, state, n_planned, seed, stream_id("net:sw_target"))
    return state, new_keys


def small_world(n: int, k: int, p: float, seed: int) -> Network:
    """Watts–Strogatz small world with networkx ``watts_strogatz_graph`` semantics.

    A ring lattice joins each node to its ``k/2`` nearest neighbours on each side;
    then, for ``j = 1 … k/2`` and ``u = 0 … n-1`` in order, the lattice edge
    ``(u, u+j mod n)`` is rewired with probability ``p`` (``U(net:sw_rewire, t=j,
    k=u, slot=0) < p``) to ``(u, w)``, ``w = floor(U(net:sw_target, t=j, k=u,
    slot=a)·n)`` for attempts ``a = 0, 1, …`` until ``w`` is neither ``u`` nor a
    current neighbour of ``u``; a node already joined to all others keeps its edge.
    The graph has exactly ``n·k/2`` edges. Needs an even ``k`` with ``2 ≤ k < n``.
    """
    state, new_keys = _rewired(n, k, p, seed)
    return _sw_csr(n, k // 2, state, new_keys)


def small_world_by_sorting(n: int, k: int, p: float, seed: int) -> Network:
    """:func:`small_world` built the general way, by sorting every edge key (a reference for the tests)."""
    state, new_keys = _rewired(n, k, p, seed)
    return from_keys(n, np.concatenate((_sw_lattice_keys(n, k // 2, state), new_keys)))
