"""The network container of docs/model.md §2: indexed edges, CSR adjacency, and cutting an edge.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. The
adjacency is stored in CSR form, each agent's neighbours in increasing id order;
a slot whose edge is cut holds its neighbour's id with the sign bit set (``v | CUT``,
a negative number: the sign bit is the cut flag, :func:`friend_of`). A slot's edge
index and the edges' ends are derived from the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

NETWORK_ARRAYS = ("offsets", "neighbours", "edge_start")
"""The arrays of a :class:`Network` (what a checkpoint saves of it)."""

CUT = -(2**31)
"""The sign bit of a 32-bit neighbour entry, set once the slot's edge is cut (:func:`cut_edge`)."""

ID_BITS = 2**31 - 1
"""The bits of a neighbour entry that hold the neighbour's id (:func:`friend_of`)."""


def network_dtypes() -> dict[str, type[np.generic]]:
    """The dtype of every array of a :class:`Network` (checked when a state is loaded)."""
    return {"offsets": np.int64, "neighbours": np.int32, "edge_start": np.int64}


def network_bytes(n_agents: int, n_edges: int) -> int:
    """Bytes of a network's arrays: per CSR slot (two an edge) its neighbour (whose sign bit says whether the
    edge is cut), per agent its row start and its first edge."""
    size = {name: np.dtype(dtype).itemsize for name, dtype in network_dtypes().items()}
    return 2 * n_edges * size["neighbours"] + (n_agents + 1) * (size["offsets"] + size["edge_start"])


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges and CSR adjacency (docs/model.md §2).

    ``neighbours[offsets[i]:offsets[i + 1]]`` are agent ``i``'s neighbours in increasing id
    order, for the whole run. Edges are indexed in lexicographic order of their ends
    ``(src, dst)``, ``src < dst``, so the edges agent ``i`` is the lower end of are
    ``edge_start[i] … edge_start[i + 1] - 1``, held by the last slots of its row in order:
    a slot's edge index is derived (:func:`edge_of`), not stored. Once an edge is cut
    (:func:`cut_edge`), both its slots hold their neighbour as ``v | CUT`` (negative): the sign
    bit is the cut flag, and :func:`friend_of` reads the id back. ``neighbours`` is the one
    array a run changes. Instances compare by identity (arrays do not support value equality).
    """

    n_agents: int
    offsets: np.ndarray
    neighbours: np.ndarray
    edge_start: np.ndarray

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
        _count_active(self.offsets, self.neighbours, degree)
        return degree

    def edge_of_slots(self) -> np.ndarray:
        """The edge index of every CSR slot (int64 [2E]), derived from the rows."""
        edges = np.empty(self.neighbours.shape[0], dtype=np.int64)
        _edge_of_slots(self.offsets, self.neighbours, self.edge_start, edges)
        return edges

    def friend_ids(self) -> np.ndarray:
        """The neighbour of every CSR slot, cut or not (int32 [2E], a new array: :func:`friend_of` of each)."""
        return self.neighbours & ID_BITS

    def edge_active(self) -> np.ndarray:
        """Whether each edge ``e`` (docs/model.md §2 order) is still active (bool [E])."""
        active = np.zeros(self.n_edges, dtype=np.bool_)
        _edge_active(self.offsets, self.neighbours, self.edge_start, active)
        return active

    def edge_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` of every edge by index, ``src < dst`` (int32 [E] each), derived from the rows."""
        src = np.full(self.n_edges, -1, dtype=np.int32)  # -1: an edge no row wrote (a damaged network)
        dst = np.full(self.n_edges, -1, dtype=np.int32)
        _edge_ends(self.offsets, self.neighbours, self.edge_start, src, dst)
        return src, dst

    def is_consistent(self) -> bool:
        """Whether the arrays describe a simple undirected graph in this layout: rows strictly increasing, no
        self-loop, every slot's twin in its neighbour's row with the same cut flag, and ``edge_start`` counting
        each row's higher neighbours (what a network read from a checkpoint must hold)."""
        offsets = self.offsets
        n_slots = self.neighbours.shape[0]
        if offsets.shape != (self.n_agents + 1,) or offsets[0] != 0 or offsets[-1] != n_slots:
            return False
        if not np.all(np.diff(offsets) >= 0):  # before any row is read: a bad offset would read out of bounds
            return False
        return _consistent(offsets, self.neighbours, self.edge_start)

    @property
    def src(self) -> np.ndarray:
        """The lower end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[0]

    @property
    def dst(self) -> np.ndarray:
        """The higher end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[1]


@nb.njit(inline="always", cache=True)
def friend_of(entry: int) -> int:
    """The neighbour a CSR slot's ``entry`` names, its edge cut (``v | CUT``) or not (``v``): ``entry`` without
    its sign bit. (A mask, not the one's complement ``~v``: the compiler then knows the index is not
    negative and drops its wrap-around check from the gather of phase C, a tenth of the phase.)"""
    return entry & ID_BITS


@nb.njit(inline="always", cache=True)
def is_active(entry: int) -> bool:
    """Whether a CSR slot's ``entry`` is an edge not cut (its sign bit clear)."""
    return entry >= 0


@nb.njit(inline="always", cache=True)
def twin_slot(offsets: np.ndarray, neighbours: np.ndarray, v: int, u: int) -> int:
    """The slot of ``u`` in ``v``'s row (rows are increasing: a binary search), or -1 if it is not there."""
    lo, hi = offsets[v], offsets[v + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if friend_of(neighbours[mid]) < u:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < offsets[v + 1] and friend_of(neighbours[lo]) == u else -1


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
    u, v = np.int64(i), np.int64(friend_of(neighbours[slot]))
    if v < u:
        return _edge_from_lower_end(offsets, edge_start, v, twin_slot(offsets, neighbours, v, u))
    return _edge_from_lower_end(offsets, edge_start, u, slot)


@nb.njit(parallel=True, cache=True)
def _count_active(offsets: np.ndarray, neighbours: np.ndarray, degree: np.ndarray) -> None:
    for i in nb.prange(degree.shape[0]):
        count = 0
        for slot in range(offsets[i], offsets[i + 1]):
            count += is_active(neighbours[slot])
        degree[i] = count



@nb.njit(parallel=True, cache=True)
def _edge_of_slots(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, edges: np.ndarray) -> None:
    for i in nb.prange(offsets.shape[0] - 1):
        for slot in range(offsets[i], offsets[i + 1]):
            edges[slot] = edge_of(offsets, neighbours, edge_start, i, slot)


@nb.njit(parallel=True, cache=True)
def _edge_active(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray,
                 edge_active: np.ndarray) -> None:  # fmt: skip
    for i in nb.prange(offsets.shape[0] - 1):  # each edge from its lower end
        for slot in range(offsets[i], offsets[i + 1]):
            entry = neighbours[slot]
            if friend_of(entry) > i:
                edge_active[_edge_from_lower_end(offsets, edge_start, i, slot)] = is_active(entry)


@nb.njit(parallel=True, cache=True)
def _edge_ends(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray, src: np.ndarray,
               dst: np.ndarray) -> None:  # fmt: skip
    for i in nb.prange(offsets.shape[0] - 1):  # each edge from its lower end
        for slot in range(offsets[i], offsets[i + 1]):
            j = friend_of(neighbours[slot])
            if j > i:
                e = _edge_from_lower_end(offsets, edge_start, i, slot)
                src[e], dst[e] = i, j


@nb.njit(parallel=True, cache=True)
def _consistent(offsets: np.ndarray, neighbours: np.ndarray, edge_start: np.ndarray) -> bool:
    n = offsets.shape[0] - 1
    if edge_start.shape[0] != n + 1 or edge_start[0] != 0 or 2 * edge_start[n] != neighbours.shape[0]:
        return False
    wrong = 0
    for i in nb.prange(n):  # offsets are known to rise from 0 to the slot count (Network.is_consistent)
        higher = 0
        for slot in range(offsets[i], offsets[i + 1]):
            v = friend_of(neighbours[slot])
            if v >= n or v == i or (slot > offsets[i] and friend_of(neighbours[slot - 1]) >= v):
                wrong += 1
                continue
            higher += v > i
            twin = twin_slot(offsets, neighbours, v, i)
            wrong += twin < 0 or is_active(neighbours[twin]) != is_active(neighbours[slot])
        wrong += edge_start[i + 1] - edge_start[i] != higher
    return wrong == 0


@nb.njit(cache=True)
def cut_edge(u: int, slot: int, offsets: np.ndarray, neighbours: np.ndarray, degree: np.ndarray) -> None:
    """Cut the active edge in ``u``'s CSR ``slot``, in both directions (docs/model.md §2). The slot must be
    active (every caller checks :func:`is_active` first): its entry is then the friend's id.

    Both of its slots' entries get the sign bit :data:`CUT` (:func:`friend_of`) and both
    ends' active degrees are lowered; the rows keep their order, so the active friends
    are still visited in increasing id order (the order the friends' scores are summed
    in on either backend), and a cut edge never comes back.
    """
    v = neighbours[slot]
    twin = twin_slot(offsets, neighbours, np.int64(v), np.int64(u))
    neighbours[slot] = v | CUT
    neighbours[twin] = np.int64(u) | CUT
    degree[u] -= 1
    degree[v] -= 1
