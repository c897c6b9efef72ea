"""The network container of docs/model.md §2: indexed edges, CSR adjacency, and cutting an edge.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. The
adjacency is also stored in CSR form, each agent's neighbours in increasing id
order, with the edge index of every CSR slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

NETWORK_DTYPES: dict[str, type[np.generic]] = {
    "src": np.int32, "dst": np.int32, "offsets": np.int64, "neighbours": np.int32, "edge_of_slot": np.int64,
}  # fmt: skip
"""The dtype of every array of a :class:`Network` (checked when a saved state is loaded)."""


def network_bytes(n_agents: int, n_edges: int) -> int:
    """Bytes of a network's arrays: per edge its ends, per CSR slot (two an edge) its neighbour and edge."""
    size = {name: np.dtype(dtype).itemsize for name, dtype in NETWORK_DTYPES.items()}
    per_edge = size["src"] + size["dst"] + 2 * (size["neighbours"] + size["edge_of_slot"])
    return n_edges * per_edge + (n_agents + 1) * size["offsets"]


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges and CSR adjacency (docs/model.md §2).

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
