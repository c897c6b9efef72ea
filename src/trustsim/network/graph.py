"""The network container of docs/model.md §2: indexed edges, CSR adjacency, and cutting an edge.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. The
adjacency is stored in CSR form, each agent's neighbours in increasing id order,
with the edge index of every CSR slot; the edges' ends are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

NETWORK_ARRAYS = ("offsets", "neighbours", "edge_of_slot")
"""The arrays of a :class:`Network` (what a checkpoint saves of it)."""


def network_dtypes(n_edges: int) -> dict[str, type[np.generic]]:
    """The dtype of every array of a :class:`Network` with ``n_edges`` edges (checked when a state is loaded).

    Edge indices take 32 bits below 2³¹ edges (every run up to some 400 million agents of
    a small world with k = 10) and 64 above: they are a third of the network's bytes.
    """
    return {"offsets": np.int64, "neighbours": np.int32, "edge_of_slot": np.int32 if n_edges < 2**31 else np.int64}


def network_bytes(n_agents: int, n_edges: int) -> int:
    """Bytes of a network's arrays: per CSR slot (two an edge) its neighbour and its edge, per agent its row start."""
    size = {name: np.dtype(dtype).itemsize for name, dtype in network_dtypes(n_edges).items()}
    return 2 * n_edges * (size["neighbours"] + size["edge_of_slot"]) + (n_agents + 1) * size["offsets"]


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges and CSR adjacency (docs/model.md §2).

    ``neighbours[offsets[i]:offsets[i + 1]]`` are agent ``i``'s neighbours and
    ``edge_of_slot`` gives the edge of each slot. Edges are indexed in lexicographic
    order of their ends ``(src, dst)``, ``src < dst``; the ends are not stored (they
    would be a third of the network), :meth:`edge_ends` derives them from the rows.
    Instances compare by identity (arrays do not support value equality). During a run
    the engine reorders each row in place so that active neighbours come first
    (:func:`cut_edge`); ``offsets`` and the edge of each (row, neighbour) never change.
    """

    n_agents: int
    offsets: np.ndarray
    neighbours: np.ndarray
    edge_of_slot: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.neighbours.shape[0] // 2)

    def degree(self) -> np.ndarray:
        """Degree of every agent (int64 [N])."""
        return np.diff(self.offsets)

    def edge_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` of every edge by index, ``src < dst`` (int32 [E] each), derived from the rows."""
        src = np.full(self.n_edges, -1, dtype=np.int32)  # -1: an edge no row wrote (a damaged network)
        dst = np.full(self.n_edges, -1, dtype=np.int32)
        _edge_ends(self.offsets, self.neighbours, self.edge_of_slot, src, dst)
        return src, dst

    def edges_match_their_ends(self) -> bool:
        """Whether every slot joins two different agents, the two ends of its edge, and the edges are numbered in
        lexicographic order of their ends (docs/model.md §2): what a network read from a checkpoint must hold."""
        src, dst = self.edge_ends()
        return _slots_match_ends(self.offsets, self.neighbours, self.edge_of_slot, src, dst)

    @property
    def src(self) -> np.ndarray:
        """The lower end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[0]

    @property
    def dst(self) -> np.ndarray:
        """The higher end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[1]


@nb.njit(parallel=True, cache=True)
def _edge_ends(offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray, src: np.ndarray,
               dst: np.ndarray) -> None:  # fmt: skip
    # Each edge is in two rows; the row of its lower end writes it.
    for i in nb.prange(offsets.shape[0] - 1):
        for slot in range(offsets[i], offsets[i + 1]):
            j = neighbours[slot]
            if i < j:
                src[edge_of_slot[slot]], dst[edge_of_slot[slot]] = i, j


@nb.njit(parallel=True, cache=True)
def _slots_match_ends(offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray, src: np.ndarray,
                      dst: np.ndarray) -> bool:  # fmt: skip
    wrong = 0
    for i in nb.prange(offsets.shape[0] - 1):
        for slot in range(offsets[i], offsets[i + 1]):
            j, e = neighbours[slot], edge_of_slot[slot]
            wrong += i == j or src[e] != min(i, j) or dst[e] != max(i, j)
    for e in range(1, src.shape[0]):
        wrong += src[e - 1] > src[e] or (src[e - 1] == src[e] and dst[e - 1] >= dst[e])
    return wrong == 0


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
    """Cut the active edge in ``u``'s CSR ``slot``, in both directions (docs/model.md §2).

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
