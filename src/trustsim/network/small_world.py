"""The Watts–Strogatz small world (docs/model.md §2), with networkx ``watts_strogatz_graph`` semantics."""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.network.csr import (
    check_seed,
    csr_rows,
    from_keys,
    pick_index,
    set_contains,
    set_insert,
    sort_keys,
)
from trustsim.network.graph import MAX_LATTICE_HALF, THERE_SHIFT, Network, lattice_there, network_dtypes
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


@nb.njit(parallel=True, cache=True)
def _sw_ring(n: int, half: int, state: np.ndarray, ring: np.ndarray) -> None:
    """Every agent's lattice word: for each ``j``, its edge ``(u, u+j)`` live and there unless rewired away."""
    for u in nb.prange(n):
        word = 0
        for j in range(1, half + 1):
            if state[(j - 1) * n + u] != 2:
                word |= (1 << (j - 1)) | (1 << (THERE_SHIFT + j - 1))
        ring[u] = word


@nb.njit(parallel=True, cache=True)
def _lattice_higher(n: int, half: int, ring: np.ndarray) -> np.ndarray:
    """How many lattice edges each agent is the lower end of: ``(u, u+j)`` unless it wraps, and the edges
    ``(u-j+n, u)`` that wrap."""
    higher = np.empty(n, dtype=np.int64)
    for u in nb.prange(n):
        count = 0
        for j in range(1, half + 1):
            if u + j < n:
                count += lattice_there(ring, u, j)
            if u - j < 0:
                count += lattice_there(ring, u - j + n, j)
        higher[u] = count
    return higher


def _sw_network(n: int, half: int, state: np.ndarray, new_keys: np.ndarray) -> Network:
    """The lattice edges not rewired away (``state != 2``) as bits, and the rewired edges ``new_keys`` in CSR.

    Only the rewired edges are sorted. ``edge_start`` counts both parts, so every edge
    keeps the index of docs/model.md §2 (a test checks the edges against
    :func:`small_world_by_sorting`, which builds them all in CSR).
    """
    ring = np.empty(n, dtype=network_dtypes()["ring"])
    _sw_ring(n, half, state, ring)
    offsets, neighbours, first_edges = csr_rows(n, sort_keys(new_keys, n * n))
    first_edges[1:] += np.cumsum(_lattice_higher(n, half, ring))
    return Network.from_counts(n, half, ring, offsets, neighbours, first_edges)


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

    The lattice edges that stay are held as bits (:mod:`trustsim.network.graph`) when
    ``k/2 ≤`` :data:`~trustsim.network.graph.MAX_LATTICE_HALF`; otherwise every edge is in CSR.
    """
    state, new_keys = _rewired(n, k, p, seed)
    if k // 2 > MAX_LATTICE_HALF:  # too wide for a lattice word: every edge in CSR
        return from_keys(n, np.concatenate((_sw_lattice_keys(n, k // 2, state), new_keys)))
    return _sw_network(n, k // 2, state, new_keys)


def small_world_by_sorting(n: int, k: int, p: float, seed: int) -> Network:
    """:func:`small_world` built the general way, by sorting every edge key (a reference for the tests)."""
    state, new_keys = _rewired(n, k, p, seed)
    return from_keys(n, np.concatenate((_sw_lattice_keys(n, k // 2, state), new_keys)))
