"""The network container of docs/model.md §2: indexed edges, CSR adjacency, and cutting an edge.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. The
adjacency is stored in CSR form, each agent's neighbours in increasing id order,
with a flag per slot saying whether its edge is still active; a slot's edge index
and the edges' ends are derived from the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

NETWORK_ARRAYS = ("offsets", "neighbours", "edge_start", "active")
"""The arrays of a :class:`Network` (what a checkpoint saves of it)."""


def network_dtypes() -> dict[str, type[np.generic]]:
    """The dtype of every array of a :class:`Network` (checked when a state is loaded)."""
    return {"offsets": np.int64, "neighbours": np.int32, "edge_start": np.int64, "active": np.bool_}


def network_bytes(n_agents: int, n_edges: int) -> int:
    """Bytes of a network's arrays: per CSR slot (two an edge) its neighbour and its active flag, per agent its
    row start and its first edge."""
    size = {name: np.dtype(dtype).itemsize for name, dtype in network_dtypes().items()}
    return 2 * n_edges * (size["neighbours"] + size["active"]) + (n_agents + 1) * (size["offsets"] + size["edge_start"])


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges and CSR adjacency (docs/model.md §2).

    ``neighbours[offsets[i]:offsets[i + 1]]`` are agent ``i``'s neighbours in increasing id
    order, for the whole run. Edges are indexed in lexicographic order of their ends
    ``(src, dst)``, ``src < dst``, so the edges agent ``i`` is the lower end of are
    ``edge_start[i] … edge_start[i + 1] - 1``, held by the last slots of its row in order:
    a slot's edge index is derived (:func:`edge_of`), not stored. ``active[slot]`` is
    False once the slot's edge is cut (:func:`cut_edge`), the one array a run changes.
    Instances compare by identity (arrays do not support value equality).
    """

    n_agents: int
    offsets: np.ndarray
    neighbours: np.ndarray
    edge_start: np.ndarray
    active: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.neighbours.shape[0] // 2)

    def degree(self) -> np.ndarray:
        """Degree of every agent, cut edges included (int64 [N])."""
        return np.diff(self.offsets)

    def active_degree(self) -> np.ndarray:
        """Active edges of every agent: its row's active slots (int32 [N])."""
        degree = np.empty(self.n_agents, dtype=np.int32)
        _count_active(self.offsets, self.active, degree)
        return degree

    def edge_of_slots(self) -> np.ndarray:
        """The edge index of every CSR slot (int64 [2E]), derived from the rows."""
        edges = np.empty(self.neighbours.shape[0], dtype=np.int64)
        _edge_of_slots(self.offsets, self.neighbours, self.edge_start, edges)
        return edges

    def edge_active(self) -> np.ndarray:
        """Whether each edge ``e`` (docs/model.md §2 order) is still active (bool [E])."""
        active = np.zeros(self.n_edges, dtype=np.bool_)
        _edge_active(self.offsets, self.neighbours, self.edge_start, self.active, active)
        return active

    def edge_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` of every edge by index, ``src < dst`` (int32 [E] each), derived from the rows."""
        src = np.full(self.n_edges, -1, dtype=np.int32)  # -1: an edge no row wrote (a damaged network)
        dst = np.full(self.n_edges, -1, dtype=np.int32)
        _edge_ends(self.offsets, self.neighbours, self.edge_start, src, dst)
        return src, dst

    def is_consistent(self) -> bool:
        """Whether the arrays describe a simple undirected graph in this layout: rows strictly increasing, no
        self-loop, every slot's twin in its neighbour's row with the same active flag, and ``edge_start`` counting
        each row's higher neighbours (what a network read from a checkpoint must hold)."""
        offsets = self.offsets
        n_slots = self.neighbours.shape[0]
        if offsets.shape != (self.n_agents + 1,) or offsets[0] != 0 or offsets[-1] != n_slots:
            return False
        if not np.all(np.diff(offsets) >= 0):  # before any row is read: a bad offset would read out of bounds
            return False
        return _consistent(offsets, self.neighbours, self.edge_start, self.active)

    @property
    def src(self) -> np.ndarray:
        """The lower end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[0]

    @property
    def dst(self) -> np.ndarray:
        """The higher end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[1]


@nb.njit(inline="always", cache=True)
def twin_slot(offsets: np.ndarray, neighbours: np.ndarray, v: int, u: int) -> int:
    """The slot of ``u`` in ``v``'s row (rows are increasing: a binary search), or -1 if it is not there."""
    lo, hi = offsets[v], offsets[v + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if neighbours[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < offsets[v + 1] and neighbours[lo] == u else -1


@nb.njit(inline="always", cache=True)
def _edge_from_lower_end(offsets: np.ndarray, edge_start: np.ndarray, i: int, slot: int) -> int:
    """The edge in ``slot`` of agent ``i``'s row, a slot towards a higher id: ``i``'s higher neighbours
    are the last slots of its row, holding its edges ``edge_start[i] … edge_start[i + 1] - 1`` in order."""
    return edge_start[i + 1] - (offsets[i + 1] - slot)


@nb.njit(inline="always", cache=True)
def edge_of(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, i: int, slot: int) -> int:
    """The index of the edge in agent ``i``'s CSR ``slot``.

    A slot towards a higher id is counted from ``i``'s row (:func:`_edge_from_lower_end`);
    one towards a lower id ``v`` has the index of ``i``'s slot in ``v``'s row.
    """
    u, v = np.int64(i), np.int64(neighbours[slot])
    if v < u:
        return _edge_from_lower_end(offsets, edge_start, v, twin_slot(offsets, neighbours, v, u))
    return _edge_from_lower_end(offsets, edge_start, u, slot)


@nb.njit(parallel=True, cache=True)
def _count_active(offsets: np.ndarray, active: np.ndarray, degree: np.ndarray) -> None:
    for i in nb.prange(degree.shape[0]):
        degree[i] = np.sum(active[offsets[i] : offsets[i + 1]])


@nb.njit(parallel=True, cache=True)
def _edge_of_slots(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, edges: np.ndarray) -> None:
    for i in nb.prange(offsets.shape[0] - 1):
        for slot in range(offsets[i], offsets[i + 1]):
            edges[slot] = edge_of(offsets, neighbours, edge_start, i, slot)


@nb.njit(parallel=True, cache=True)
def _edge_active(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, active: np.ndarray,
                 edge_active: np.ndarray) -> None:  # fmt: skip
    for i in nb.prange(offsets.shape[0] - 1):  # each edge from its lower end
        for slot in range(offsets[i], offsets[i + 1]):
            if neighbours[slot] > i:
                edge_active[_edge_from_lower_end(offsets, edge_start, i, slot)] = active[slot]


@nb.njit(parallel=True, cache=True)
def _edge_ends(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, src: np.ndarray,
               dst: np.ndarray) -> None:  # fmt: skip
    for i in nb.prange(offsets.shape[0] - 1):  # each edge from its lower end
        for slot in range(offsets[i], offsets[i + 1]):
            j = neighbours[slot]
            if j > i:
                e = _edge_from_lower_end(offsets, edge_start, i, slot)
                src[e], dst[e] = i, j


@nb.njit(parallel=True, cache=True)
def _consistent(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, active: np.ndarray) -> bool:
    n = offsets.shape[0] - 1
    if edge_start.shape[0] != n + 1 or edge_start[0] != 0 or 2 * edge_start[n] != neighbours.shape[0]:
        return False
    if active.shape[0] != neighbours.shape[0]:
        return False
    wrong = 0
    for i in nb.prange(n):  # offsets are known to rise from 0 to the slot count (Network.is_consistent)
        higher = 0
        for slot in range(offsets[i], offsets[i + 1]):
            v = neighbours[slot]
            if v < 0 or v >= n or v == i or (slot > offsets[i] and neighbours[slot - 1] >= v):
                wrong += 1
                continue
            higher += v > i
            twin = twin_slot(offsets, neighbours, v, i)
            wrong += twin < 0 or active[twin] != active[slot]
        wrong += edge_start[i + 1] - edge_start[i] != higher
    return wrong == 0


@nb.njit(cache=True)
def cut_edge(u: int, slot: int, offsets: np.ndarray, neighbours: np.ndarray, active: np.ndarray,
             degree: np.ndarray) -> None:  # fmt: skip
    """Cut the active edge in ``u``'s CSR ``slot``, in both directions (docs/model.md §2).

    Both of its slots are flagged inactive and both ends' active degrees lowered; the
    rows keep their order, so the active friends are still visited in increasing id
    order (the order the friends' scores are summed in on either backend), and a cut
    edge never comes back.
    """
    v = np.int64(neighbours[slot])
    active[slot] = False
    active[twin_slot(offsets, neighbours, v, np.int64(u))] = False
    degree[u] -= 1
    degree[v] -= 1
