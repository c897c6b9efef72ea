"""The social network of MODEL.md §2: the :class:`Network` container and its generators.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. The
adjacency is also stored in CSR form, each agent's neighbours in increasing id
order, with the edge index of every CSR slot.

Every generator is a pure function of its parameters and the run's ``seed``: all
randomness comes from the counter-based generator ``U(seed, stream, t, k, slot)``
of :mod:`trustsim.rng`, so the same graph comes out on any machine, thread count
or backend. The streams and counters are

=====================  ==========  ===================  ==========================
stream                 ``t``       ``k``                ``slot``
=====================  ==========  ===================  ==========================
``net:sw_rewire``      ``j``       lattice node ``u``   0 (rewire if ``U < p``)
``net:sw_target``      ``j``       lattice node ``u``   attempt ``a`` (new end)
``net:ba``             attempt     new node ``source``  0
``net:sbm_within``     region      edge no. in region   ``2a``, ``2a+1``
``net:sbm_between``    0           edge no.             ``2a``, ``2a+1``
=====================  ==========  ===================  ==========================

where ``j = 1 … k/2`` is the lattice distance of a Watts–Strogatz edge, an
*attempt* counts rejected draws (self-loops, duplicates) from 0, and a uniform
``U`` picks index ``floor(U·n)`` out of ``n`` candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from trustsim.errors import InputFileError, ScenarioError
from trustsim.rng import stream_id, uniform

_EMPTY = np.int64(-1)
_FIB = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges and CSR adjacency (MODEL.md §2).

    ``src[e] < dst[e]`` and the pairs are in lexicographic order, which defines the
    edge index ``e``. ``neighbours[offsets[i]:offsets[i + 1]]`` are agent ``i``'s
    neighbours in increasing order and ``edge_of_slot`` gives the edge of each slot.
    Instances compare by identity (arrays do not support value equality). During a run
    the engine reorders each row in place so that active neighbours come first
    (:func:`cut_edge`); ``src``, ``dst`` and ``offsets`` never change.
    """

    n_agents: int
    src: np.ndarray
    dst: np.ndarray
    offsets: np.ndarray
    neighbours: np.ndarray
    edge_of_slot: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.src.shape[0])

    def degree(self) -> np.ndarray:
        """Degree of every agent (int64 [N])."""
        return np.diff(self.offsets)


@nb.njit(inline="always", cache=True)
def _drop_slot(row: int, slot: int, offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray,
               degree: np.ndarray) -> None:  # fmt: skip
    # The active slots after it move up one, so the active ones stay in id order: the
    # friends' scores are then summed in the same order as on the GPU, which flags cut
    # slots in place (a swap with the last active slot would reorder the row).
    last = offsets[row] + degree[row] - 1
    neighbour, edge = neighbours[slot], edge_of_slot[slot]
    for k in range(slot, last):
        neighbours[k] = neighbours[k + 1]
        edge_of_slot[k] = edge_of_slot[k + 1]
    neighbours[last], edge_of_slot[last] = neighbour, edge
    degree[row] -= 1


@nb.njit(cache=True)
def cut_edge(u: int, slot: int, offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray,
             degree: np.ndarray) -> None:  # fmt: skip
    """Cut the active edge in ``u``'s CSR ``slot``, in both directions (MODEL.md §2).

    Rows keep their *active* neighbours first, in increasing id order:
    ``neighbours[offsets[i] : offsets[i] + degree[i]]`` are agent ``i``'s friends. A cut
    moves the slot behind that range (the active slots after it move up one, carrying
    their edge indices along) and lowers both degrees, so a cut edge is never visited
    again and never comes back.
    """
    v = neighbours[slot]
    _drop_slot(u, slot, offsets, neighbours, edge_of_slot, degree)
    for twin in range(offsets[v], offsets[v] + degree[v]):
        if neighbours[twin] == u:
            _drop_slot(v, twin, offsets, neighbours, edge_of_slot, degree)
            return


# --------------------------------------------------------------------------- hash set


@nb.njit(inline="always", cache=True)
def _slot_of(key: int, shift: int) -> int:
    """Home slot of ``key`` in a table of ``2**(64 - shift)`` slots (Fibonacci hashing)."""
    return np.int64((np.uint64(key) * _FIB) >> np.uint64(shift))


@nb.njit(cache=True)
def _hs_contains(table: np.ndarray, shift: int, key: int) -> bool:
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
def _hs_insert(table: np.ndarray, shift: int, key: int) -> bool:
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


def _hash_table(n_keys: int) -> tuple[np.ndarray, int]:
    """An empty set for ``n_keys`` keys: a power of two ≥ 2·n_keys slots, and its shift."""
    bits = max(4, int(2 * max(n_keys, 1) - 1).bit_length())
    return np.full(1 << bits, -1, dtype=np.int64), 64 - bits


@nb.njit(inline="always", cache=True)
def _pick(u: float, n: int) -> int:
    """Index ``floor(u·n)`` in ``0 … n-1`` for a uniform ``u`` in [0, 1)."""
    i = int(u * n)
    return i if i < n else n - 1


# --------------------------------------------------------------------------- sorting and CSR


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


def _sort_keys(keys: np.ndarray, key_bound: int) -> np.ndarray:
    """Sorted copy of int64 ``keys``, all in ``0 … key_bound``."""
    n_buckets_wanted = max(1, keys.shape[0] // _BUCKET_SIZE)
    shift = max(0, int(key_bound).bit_length() - n_buckets_wanted.bit_length())
    return _bucket_sort(keys, shift, (int(key_bound) >> shift) + 1)


@nb.njit(parallel=True, cache=True)
def _split_keys(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge ends ``(key // n, key % n)`` as int32 arrays."""
    src = np.empty(keys.shape[0], dtype=np.int32)
    dst = np.empty(keys.shape[0], dtype=np.int32)
    for e in nb.prange(keys.shape[0]):
        src[e] = keys[e] // n
        dst[e] = keys[e] - src[e] * np.int64(n)
    return src, dst


@nb.njit(parallel=True, cache=True)
def _row_starts(keys: np.ndarray, div: int, n: int) -> np.ndarray:
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
def _fill_csr(
    src: np.ndarray, dst: np.ndarray, estart: np.ndarray, lower: np.ndarray, lstart: np.ndarray,
    offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray,
) -> None:  # fmt: skip
    """CSR rows: agent ``i``'s lower neighbours (edges ``(s, i)``, increasing ``s``), then its higher ones.

    ``estart`` are the row starts of the sorted edges by ``src``; ``lower`` the sorted
    keys ``dst·E + e`` with row starts ``lstart``. Row ``i`` starts at ``offsets[i] =
    estart[i] + lstart[i]``.
    """
    n_edges = src.shape[0]
    n = estart.shape[0] - 1
    for i in nb.prange(n):
        o = offsets[i]
        for p in range(lstart[i], lstart[i + 1]):
            e = lower[p] - i * np.int64(n_edges)
            neighbours[o] = src[e]
            edge_of_slot[o] = e
            o += 1
        for e in range(estart[i], estart[i + 1]):
            neighbours[o] = dst[e]
            edge_of_slot[o] = e
            o += 1


def _from_sorted_keys(n_agents: int, keys: np.ndarray) -> Network:
    """A :class:`Network` from the sorted, distinct edge keys ``src·N + dst`` (``src < dst``)."""
    src, dst = _split_keys(keys, n_agents)
    estart = _row_starts(keys, n_agents, n_agents)
    if keys.shape[0] == 0:
        lower, lstart = keys, estart
    else:
        lower = _sort_keys(_lower_keys(dst), n_agents * keys.shape[0])
        lstart = _row_starts(lower, keys.shape[0], n_agents)
    # The CSR arrays are read every day: numpy allocates them, since numpy asks the
    # kernel for transparent huge pages on large arrays and numba's allocator does not.
    offsets = estart + lstart
    neighbours = np.empty(2 * keys.shape[0], dtype=np.int32)
    edge_of_slot = np.empty(2 * keys.shape[0], dtype=np.int64)
    _fill_csr(src, dst, estart, lower, lstart, offsets, neighbours, edge_of_slot)
    return Network(n_agents, src, dst, offsets, neighbours, edge_of_slot)


def _from_keys(n_agents: int, keys: np.ndarray) -> Network:
    """A :class:`Network` from distinct edge keys ``min·N + max`` in any order."""
    return _from_sorted_keys(n_agents, _sort_keys(keys, n_agents * n_agents))


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
    return _from_keys(n_agents, np.minimum(u, v) * np.int64(n_agents) + np.maximum(u, v))


def _check_seed(seed: int) -> int:
    """The seed as an int, checked to be an unsigned 32-bit integer."""
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in 0 … 2**32-1 (got {seed})")
    return seed


# --------------------------------------------------------------------------- small world


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
    return _hs_contains(added, shift, min(u, w) * n + max(u, w))


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
            w = _pick(uniform(seed, s_target, j, u, a), n)
            while w == u or _sw_has_edge(n, half, state, added, shift, u, w):
                a += 1
                w = _pick(uniform(seed, s_target, j, u, a), n)
            state[idx] = 2
            deg[(u + j) % n] -= 1
            deg[w] += 1
            new_keys[n_new] = min(u, w) * n + max(u, w)
            _hs_insert(added, shift, new_keys[n_new])
            n_new += 1
    return new_keys[:n_new]


@nb.njit(cache=True)
def _sw_edges(n: int, half: int, state: np.ndarray, new_keys: np.ndarray) -> np.ndarray:
    """Keys ``min·n + max`` of all edges: surviving lattice edges, then the rewired ones."""
    keys = np.empty(n * half, dtype=np.int64)
    e = 0
    for idx in range(n * half):
        if state[idx] != 2:
            j = idx // n + 1
            u = idx - (j - 1) * n
            v = (u + j) % n
            keys[e] = min(u, v) * n + max(u, v)
            e += 1
    keys[e:] = new_keys
    return keys


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
    seed = _check_seed(seed)
    if k % 2 or not 2 <= k < n:
        raise ValueError(f"small_world needs an even k with 2 <= k < n (got k={k}, n={n}); pick an even k below n")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"small_world needs a rewiring probability p in [0, 1] (got p={p})")
    half = k // 2
    state, n_planned = _sw_plan(n, half, float(p), seed, stream_id("net:sw_rewire"))
    new_keys = _sw_rewire(n, half, state, n_planned, seed, stream_id("net:sw_target"))
    keys = _sw_edges(n, half, state, new_keys)
    del state, new_keys
    return _from_keys(n, keys)


# --------------------------------------------------------------------------- scale free


@nb.njit(cache=True)
def _ba_edges(n: int, m: int, seed: int, stream: int) -> np.ndarray:
    """Keys ``target·n + source`` of the Barabási–Albert edges, grown as networkx does.

    The list ``repeated`` holds every endpoint of every edge so far (the star's
    centre ``m`` times, then ``1 … m``); node ``source`` draws targets
    ``repeated[floor(U(net:ba, t=attempt, k=source, 0)·len)]`` until it has ``m``
    distinct ones, then appends its targets (in draw order) and ``m`` copies of itself.
    """
    n_edges = m + m * (n - m - 1)
    keys = np.empty(n_edges, dtype=np.int64)
    repeated = np.empty(2 * n_edges, dtype=np.int32)
    for i in range(m):
        keys[i] = i + 1
        repeated[i] = 0
        repeated[m + i] = i + 1
    length = 2 * m
    e = m
    targets = np.empty(m, dtype=np.int32)
    for source in range(m + 1, n):
        found = 0
        attempt = 0
        while found < m:
            x = repeated[_pick(uniform(seed, stream, attempt, source, 0), length)]
            attempt += 1
            fresh = True
            for i in range(found):
                fresh = fresh and targets[i] != x
            if fresh:
                targets[found] = x
                found += 1
        for i in range(m):
            keys[e] = targets[i] * np.int64(n) + source
            e += 1
            repeated[length + i] = targets[i]
            repeated[length + m + i] = source
        length += 2 * m
    return keys


def scale_free(n: int, m: int, seed: int) -> Network:
    """Barabási–Albert preferential attachment with networkx ``barabasi_albert_graph`` semantics.

    Starts from the star on ``m + 1`` nodes (node 0 joined to ``1 … m``); each new
    node ``m+1 … n-1`` joins ``m`` distinct existing nodes drawn uniformly from the
    list of all edge endpoints so far (networkx's ``_random_subset``), using
    ``U(net:ba, t=attempt, k=node, slot=0)``. The graph has ``m·(n-m)`` edges and
    every node has degree at least ``m``. Needs ``1 ≤ m < n``.
    """
    seed = _check_seed(seed)
    if not 1 <= m < n:
        raise ValueError(f"scale_free needs 1 <= m < n (got m={m}, n={n}); pick a smaller m")
    return _from_keys(n, _ba_edges(n, m, seed, stream_id("net:ba")))


# --------------------------------------------------------------------------- regional SBM


@nb.njit(cache=True)
def _sbm_region(members: np.ndarray, count: int, n: int, seed: int, stream: int, r: int, keys: np.ndarray) -> None:
    """Region ``r``'s ``count`` within edges between ``members`` (its agents), their keys written to ``keys``."""
    size = members.shape[0]
    bits = 4
    while (1 << bits) < 2 * count:
        bits += 1
    table = np.full(1 << bits, -1, dtype=np.int64)
    for c in range(count):
        a = 0
        while True:
            i = members[_pick(uniform(seed, stream, r, c, 2 * a), size)]
            j = members[_pick(uniform(seed, stream, r, c, 2 * a + 1), size)]
            a += 1
            key = min(i, j) * np.int64(n) + max(i, j)
            if i != j and _hs_insert(table, 64 - bits, key):
                break
        keys[c] = key


@nb.njit(parallel=True, cache=True)
def _sbm_within(
    members: np.ndarray,
    roff: np.ndarray,
    counts: np.ndarray,
    eoff: np.ndarray,
    seed: int,
    stream: int,
    keys: np.ndarray,
) -> None:
    """Within-region edges; regions are independent (own counters, own duplicate set), so run in parallel."""
    n = members.shape[0]
    for r in nb.prange(counts.shape[0]):
        _sbm_region(
            members[roff[r] : roff[r + 1]],
            counts[r],
            n,
            seed,
            stream,
            r,
            keys[eoff[r] : eoff[r + 1]],
        )


@nb.njit(cache=True)
def _sbm_between(
    region: np.ndarray,
    members: np.ndarray,
    roff: np.ndarray,
    count: int,
    seed: int,
    stream: int,
    table: np.ndarray,
    shift: int,
    keys: np.ndarray,
    e0: int,
) -> None:
    """Between-region edges: one end uniform, the other uniform outside its region."""
    n = region.shape[0]
    for c in range(count):
        a = 0
        while True:
            i = _pick(uniform(seed, stream, 0, c, 2 * a), n)
            r = region[i]
            size = roff[r + 1] - roff[r]
            pos = _pick(uniform(seed, stream, 0, c, 2 * a + 1), n - size)
            j = members[pos if pos < roff[r] else pos + size]
            a += 1
            key = min(i, j) * np.int64(n) + max(i, j)
            if _hs_insert(table, shift, key):
                break
        keys[e0 + c] = key


def _sbm_counts(sizes: np.ndarray, mean_degree: float, within_share: float) -> tuple[np.ndarray, int]:
    """Edge counts per region and between regions, checked to fit in half the possible pairs."""
    n = int(sizes.sum())
    within = np.rint(within_share * mean_degree * sizes / 2.0).astype(np.int64)
    between = int(np.rint((1.0 - within_share) * mean_degree * n / 2.0))
    room = sizes * (sizes - 1) // 2
    bad = np.flatnonzero(2 * within > room)
    if bad.size:
        r = int(bad[0])
        raise ValueError(
            f"regional_sbm: region {r} has {int(sizes[r])} member(s), too few for {int(within[r])} within-region "
            "edges (at most half of its pairs); lower network.mean_degree or within_share, or use more agents"
        )
    between_room = (n * n - int((sizes * sizes).sum())) // 2
    if 2 * between > between_room:
        raise ValueError(
            f"regional_sbm: {between} between-region edges exceed half of the {between_room} possible pairs; "
            "raise within_share, lower mean_degree, use more agents or more regions"
        )
    return within, between


def regional_sbm(region: np.ndarray, n_regions: int, mean_degree: float, within_share: float, seed: int) -> Network:
    """Stochastic block model with blocks = regions, generated by edge counts (no N² work).

    Region ``r`` of ``n_r`` members gets ``round(within_share·mean_degree·n_r/2)``
    edges with both ends uniform over its members (stream ``net:sbm_within``,
    ``t=r``, ``k=`` edge number in the region, slots ``2a, 2a+1`` for attempt
    ``a``); then ``round((1-within_share)·mean_degree·N/2)`` between-region edges
    each join an agent uniform over all agents to one uniform over the agents
    outside its region (``net:sbm_between``, ``t=0``, ``k=`` edge number, slots
    ``2a, 2a+1``). Regions ``r ≠ s`` thus get a share
    ``n_r·n_s·(1/(N-n_r) + 1/(N-n_s))/N`` of the between edges: proportional to
    ``n_r·n_s`` when the regions have equal sizes, approximately otherwise.
    Self-loops and duplicates are redrawn (each region's within edges are checked
    against that region's, the between edges against the between edges: the sets
    are disjoint). Counts are rounded half to even. Regions are generated in
    parallel, each from its own counters, so the result does not depend on threads.

    A node's expected within-region degree is ``within_share·mean_degree`` and its
    expected between-region degree ``(1-within_share)·mean_degree`` exactly when
    the regions have equal sizes, approximately otherwise (nodes of small regions
    get more between-region ties). Raises ValueError when a region's within edges
    (or the between edges) would take more than half of the possible pairs, e.g. a
    region with a single member and a positive within-region count.
    """
    seed = _check_seed(seed)
    region = np.ascontiguousarray(region, dtype=np.int64)
    n = int(region.shape[0])
    if n and (region.min() < 0 or region.max() >= n_regions):
        raise ValueError(f"regional_sbm: region ids must lie in 0 … {n_regions - 1}")
    if mean_degree <= 0 or not 0.0 <= within_share <= 1.0:
        raise ValueError(
            f"regional_sbm needs mean_degree > 0 and within_share in [0, 1] (got {mean_degree}, {within_share})"
        )
    sizes = np.bincount(region, minlength=n_regions).astype(np.int64)
    within, between = _sbm_counts(sizes, float(mean_degree), float(within_share))
    members = np.argsort(region, kind="stable").astype(np.int32)
    roff = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    eoff = np.concatenate(([0], np.cumsum(within))).astype(np.int64)
    keys = np.empty(int(eoff[-1]) + between, dtype=np.int64)
    _sbm_within(members, roff, within, eoff, seed, stream_id("net:sbm_within"), keys)
    table, shift = _hash_table(between)
    _sbm_between(region, members, roff, between, seed, stream_id("net:sbm_between"), table, shift, keys, int(eoff[-1]))
    del table
    return _from_keys(n, keys)


# --------------------------------------------------------------------------- edge file


def _read_table(path: Path) -> Any:
    """The file as a pyarrow Table; one-line InputFileError if it cannot be read."""
    import pyarrow as pa

    if not path.is_file():
        raise InputFileError(f"{path}: edge file not found; check network.path in the scenario")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputFileError(f"{path}: unknown edge-file extension '{path.suffix}'; use a .parquet or .csv file")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except (pa.ArrowException, OSError) as err:
        kind = "a readable Parquet file" if suffix == ".parquet" else "a readable CSV file with a header row"
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(f"{path}: not {kind} ({detail})") from None


def _edge_columns(path: Path, table: Any) -> tuple[np.ndarray, np.ndarray]:
    """The two integer columns of an edge table as int64 arrays, after checking their types."""
    import pyarrow as pa

    names = list(table.column_names)
    if len(names) != 2:
        raise InputFileError(
            f"{path}: has {len(names)} column(s) {names}; "
            "an edge list needs exactly two integer columns, one edge a row"
        )
    if path.suffix.lower() == ".csv" and all(name.strip().lstrip("-").isdigit() for name in names):
        raise InputFileError(
            f"{path}: the first row ({','.join(names)}) looks like an edge, but it is read as the header; "
            "start the file with a header row such as `u,v`"
        )
    cols = []
    for index, name in enumerate(names):
        col = table.column(index)  # by position: two columns may share a name
        if table.num_rows == 0 and pa.types.is_null(col.type):
            cols.append(np.zeros(0, dtype=np.int64))
            continue
        if not pa.types.is_integer(col.type):
            raise InputFileError(f"{path}: column '{name}' has type {col.type}; edge ends must be integer agent ids")
        if col.null_count:
            raise InputFileError(
                f"{path}: column '{name}' has {col.null_count} missing value(s); fill or drop those rows"
            )
        cols.append(col.to_numpy())
    return cols[0], cols[1]


def _check_ids(path: Path, u: np.ndarray, v: np.ndarray, n_agents: int) -> None:
    """Reject ids outside ``0 … n_agents-1`` and self-loops, naming a bad row."""
    bad = (u < 0) | (u >= n_agents) | (v < 0) | (v >= n_agents)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputFileError(
            f"{path}: {int(bad.sum())} edge(s) name agents outside 0 … {n_agents - 1}, e.g. data row {row + 1}: "
            f"({int(u[row])}, {int(v[row])}); renumber the agents 0 … N-1 or change run.agents"
        )
    loops = u == v
    if loops.any():
        row = int(np.argmax(loops))
        raise InputFileError(
            f"{path}: {int(loops.sum())} self-loop(s), e.g. data row {row + 1}: ({int(u[row])}, {int(v[row])}); "
            "remove them"
        )


def _sorted_unique_keys(path: Path, u: np.ndarray, v: np.ndarray, n_agents: int) -> np.ndarray:
    """Sorted keys ``min·N + max`` of the edges; reject duplicates in either orientation."""
    keys = np.minimum(u, v) * np.int64(n_agents) + np.maximum(u, v)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    dup = np.flatnonzero(keys[1:] == keys[:-1])
    if dup.size:
        first, second = int(order[dup[0]]), int(order[dup[0] + 1])
        raise InputFileError(
            f"{path}: {dup.size} duplicate edge(s) (an undirected edge listed twice, in either direction), e.g. "
            f"data rows {first + 1} ({int(u[first])}, {int(v[first])}) and {second + 1} "
            f"({int(u[second])}, {int(v[second])}); keep one row per edge"
        )
    return keys


def edge_file(path: str | Path, n_agents: int) -> Network:
    """Read an edge list: a Parquet (``.parquet``) or CSV (``.csv``, header row) file.

    The file must have exactly two integer columns (any names), one edge a row,
    with agent ids in ``0 … n_agents-1``, no self-loops and no edge listed twice
    (in either direction). Every problem raises :class:`InputFileError` with one
    line naming the file, the problem and the fix.
    """
    path = Path(path)
    u, v = _edge_columns(path, _read_table(path))
    _check_ids(path, u, v, n_agents)
    u = u.astype(np.int64, copy=False)
    v = v.astype(np.int64, copy=False)
    keys = _sorted_unique_keys(path, u, v, n_agents)
    del u, v
    return _from_sorted_keys(n_agents, keys)


# --------------------------------------------------------------------------- dispatch


def build_network(spec: Any, region: np.ndarray, n_regions: int, seed: int) -> Network:
    """Build the scenario's network (MODEL.md §2) over ``len(region)`` agents.

    ``spec.generator`` is one of ``small_world`` (``k``, ``p``), ``scale_free``
    (``m``), ``regional_sbm`` (``mean_degree``, ``within_share``) or ``file``
    (``path``, already resolved against the scenario file).
    """
    n = len(region)
    generator = spec.generator
    try:
        if generator == "small_world":
            return small_world(n, int(spec.k), float(spec.p), seed)
        if generator == "scale_free":
            return scale_free(n, int(spec.m), seed)
        if generator == "regional_sbm":
            return regional_sbm(region, n_regions, float(spec.mean_degree), float(spec.within_share), seed)
        if generator == "file":
            return edge_file(spec.path, n)
    except ValueError as err:  # parameters that validate alone but not with this population
        raise ScenarioError([f"network: {err}"]) from None
    raise ValueError(f"unknown network generator {generator!r}; use small_world, scale_free, regional_sbm or file")
