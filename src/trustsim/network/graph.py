"""The network container of docs/model.md §2: indexed edges, a ring lattice held as bits, the other edges in CSR.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. It is held in
two parts:

* **the lattice**, for a small world: the edges ``(u, u+j mod N)``, ``j = 1 … half``,
  of its ring lattice are known from the ids, so only two bits an edge are stored, in
  its *owner* ``u``'s word ``ring[u]`` (16 bits): bit ``j-1`` says the edge is *live*
  (there and not cut), bit ``8+j-1`` that it is *there* (not rewired away). Agent ``i``'s
  lattice neighbours are then ``i-half … i-1`` and ``i+1 … i+half`` (around the ring),
  and their scores a contiguous window, not a gather;
* **the other edges** (a small world's rewired ones; every edge of the other
  generators, whose ``half`` is 0) in CSR form, each agent's neighbours in increasing
  id order; a slot whose edge is cut holds its neighbour's id with the sign bit set
  (``v | CUT``, a negative number: the sign bit is the cut flag, :func:`friend_of`).

A *row* position ``q`` of agent ``i`` walks both parts in one order: ``q < half`` the
lattice neighbour ``i-(half-q)``, ``q < 2·half`` the lattice neighbour ``i+(q-half+1)``,
then the CSR slots (:func:`friend_at`). An edge's index is derived (:func:`edge_index`)
from the number of edges whose lower end is below each agent (:func:`first_edge`).

Both per-agent counts, a CSR row's first slot and an agent's first edge, rise through the
run's totals, which need 64 bits for a country; they are stored as 32-bit counts from a
64-bit base per block of :data:`BASE_BLOCK` agents (:func:`row_start`), 4 bytes an agent
each instead of 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.scalar import greater, lesser

NETWORK_ARRAYS = ("ring", "row_base", "offsets", "neighbours", "edge_base", "edge_start")
"""The arrays of a :class:`Network` (what a checkpoint saves of it)."""

CUT = -(2**31)
"""The sign bit of a 32-bit neighbour entry, set once the slot's edge is cut (:func:`cut_edge`)."""

ID_BITS = 2**31 - 1
"""The bits of a neighbour entry that hold the neighbour's id (:func:`friend_of`)."""

MAX_LATTICE_HALF = 8
"""The widest lattice held as bits: 8 lattice distances, a live and a there bit each, in 16 bits."""

THERE_SHIFT = 8
"""Bit ``THERE_SHIFT + j - 1`` of ``ring[u]``: the lattice edge ``(u, u+j)`` was not rewired away."""

BASE_SHIFT = 6
BASE_BLOCK = 1 << BASE_SHIFT
"""Agents sharing one 64-bit base of their row starts and first edges (:func:`row_start`)."""


def network_dtypes() -> dict[str, type[np.generic]]:
    """The dtype of every array of a :class:`Network` (checked when a state is loaded)."""
    return {"ring": np.uint16, "row_base": np.int64, "offsets": np.uint32, "neighbours": np.int32,
            "edge_base": np.int64, "edge_start": np.uint32}  # fmt: skip


def network_bytes(n_agents: int, n_edges: int, lattice_edges: int = 0, lattice: bool = False) -> int:
    """Bytes of a network's arrays: per CSR slot (two an edge off the lattice) its neighbour (whose sign bit
    says whether the edge is cut), per agent its row start, its first edge and, with a ``lattice`` (held even
    when every lattice edge was rewired), its ring word, per block of :data:`BASE_BLOCK` agents the bases of
    both counts."""
    size = {name: np.dtype(dtype).itemsize for name, dtype in network_dtypes().items()}
    ring = n_agents * size["ring"] if lattice else 0
    bases = base_blocks(n_agents) * (size["row_base"] + size["edge_base"])
    return (2 * (n_edges - lattice_edges) * size["neighbours"] + ring + bases
            + (n_agents + 1) * (size["offsets"] + size["edge_start"]))  # fmt: skip


def base_blocks(n_agents: int) -> int:
    """Bases of a count over agents ``0 … N`` (inclusive: the count's total is its last entry)."""
    return (n_agents >> BASE_SHIFT) + 1


def split_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``counts`` (int64 [N+1], rising) as a base per block of :data:`BASE_BLOCK` entries and 32-bit counts from it.

    Raises ValueError if the entries of one block span 2³² or more (some 64 agents with
    over four billion neighbours between them).
    """
    base = np.ascontiguousarray(counts[::BASE_BLOCK], dtype=np.int64)
    relative = np.empty(counts.shape[0], dtype=np.uint32)
    if not _split(counts, base, relative):
        raise ValueError(f"{BASE_BLOCK} agents have 2**32 or more neighbours between them; the network is too dense")
    return base, relative


@nb.njit(parallel=True, cache=True)
def _split(counts: np.ndarray, base: np.ndarray, relative: np.ndarray) -> bool:
    wide = 0
    for i in nb.prange(counts.shape[0]):
        count = counts[i] - base[i >> BASE_SHIFT]
        wide += count >= 2**32
        relative[i] = count
    return wide == 0


class Links(NamedTuple):
    """A network's arrays as the kernels take them (on the host, or on the device)."""

    half: int  # lattice distances held as bits (0: no lattice)
    ring: np.ndarray  # uint16 [N] (empty without a lattice)
    row_base: np.ndarray  # int64 [N/64 + 1]: the first CSR slot of every 64th agent
    offsets: np.ndarray  # uint32 [N+1]: each CSR row's first slot, from its block's base (row_start)
    neighbours: np.ndarray  # int32: a cut slot holds its neighbour's id | CUT
    edge_base: np.ndarray  # int64 [N/64 + 1]: the first edge of every 64th agent
    edge_start: np.ndarray  # uint32 [N+1]: edges whose lower end is below each agent, from its base


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected simple graph with indexed edges: a ring lattice as bits and the other edges in CSR.

    See the module docstring for the layout. ``ring`` and ``neighbours`` are the arrays a
    run changes (cuts only: a cut edge never comes back). Instances compare by identity
    (arrays do not support value equality).
    """

    n_agents: int
    half: int
    ring: np.ndarray
    row_base: np.ndarray
    offsets: np.ndarray
    neighbours: np.ndarray
    edge_base: np.ndarray
    edge_start: np.ndarray

    @classmethod
    def from_counts(cls, n_agents: int, half: int, ring: np.ndarray, row_starts: np.ndarray,
                    neighbours: np.ndarray, first_edges: np.ndarray) -> Network:  # fmt: skip
        """A network from its rows' first slots and its agents' first edges as int64 counts (each [N+1])."""
        row_base, offsets = split_counts(row_starts)
        edge_base, edge_start = split_counts(first_edges)
        return cls(n_agents, half, ring, row_base, offsets, neighbours, edge_base, edge_start)

    @property
    def links(self) -> Links:
        """The arrays, as the kernels take them."""
        return Links(self.half, *(getattr(self, name) for name in NETWORK_ARRAYS))

    def row_starts(self) -> np.ndarray:
        """Each CSR row's first slot, and the slot count last (int64 [N+1])."""
        return self.offsets + np.repeat(self.row_base, BASE_BLOCK)[: self.n_agents + 1]

    def first_edges(self) -> np.ndarray:
        """The first edge each agent is the lower end of, and the edge count last (int64 [N+1])."""
        return self.edge_start + np.repeat(self.edge_base, BASE_BLOCK)[: self.n_agents + 1]

    @property
    def n_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.edge_base[-1]) + int(self.edge_start[-1])

    @property
    def csr_edges(self) -> int:
        """Number of edges held in CSR slots (two each)."""
        return self.neighbours.shape[0] // 2

    @property
    def lattice_edges(self) -> int:
        """Number of edges held as lattice bits."""
        return self.n_edges - self.csr_edges

    def degree(self) -> np.ndarray:
        """Degree of every agent, cut edges included (int64 [N])."""
        degree = np.empty(self.n_agents, dtype=np.int64)
        _count(self.links, degree, False)
        return degree

    def active_degree(self) -> np.ndarray:
        """Active edges of every agent (int32 [N])."""
        degree = np.empty(self.n_agents, dtype=np.int32)
        _count(self.links, degree, True)
        return degree

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Agent ``i``'s neighbours, cut or not, in increasing id order (int64), and whether each edge is
        active (bool)."""
        size = row_length(self.links, i)
        ids = np.empty(size, dtype=np.int64)
        live = np.empty(size, dtype=np.bool_)
        count = _fill_row(self.links, i, ids, live)
        order = np.argsort(ids[:count], kind="stable")
        return ids[:count][order], live[:count][order]

    def edge_of(self, u: int, v: int) -> int:
        """The index of the edge ``(u, v)``, which must be an edge (docs/model.md §2 order)."""
        return int(edge_index(self.links, min(u, v), max(u, v)))

    def edge_active(self) -> np.ndarray:
        """Whether each edge ``e`` (docs/model.md §2 order) is still active (bool [E])."""
        return self._edges()[2]

    def edge_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` of every edge by index, ``src < dst`` (int32 [E] each)."""
        src, dst, _ = self._edges()
        return src, dst

    @property
    def src(self) -> np.ndarray:
        """The lower end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[0]

    @property
    def dst(self) -> np.ndarray:
        """The higher end of every edge (derived: :meth:`edge_ends`)."""
        return self.edge_ends()[1]

    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.full(self.n_edges, -1, dtype=np.int32)  # -1: an edge no row wrote (a damaged network)
        dst = np.full(self.n_edges, -1, dtype=np.int32)
        active = np.zeros(self.n_edges, dtype=np.bool_)
        _edge_list(self.links, src, dst, active)
        return src, dst, active

    def is_consistent(self) -> bool:
        """Whether the arrays describe a simple undirected graph in this layout: CSR rows strictly increasing,
        no self-loop, every slot's twin in its neighbour's row with the same cut flag, no CSR edge that is also
        a lattice edge, no lattice bit beyond ``half`` and none live that is not there, and ``edge_start``
        counting each agent's higher neighbours (what a network read from a checkpoint must hold)."""
        n = self.n_agents
        blocks = (base_blocks(n),)
        if self.row_base.shape != blocks or self.edge_base.shape != blocks:
            return False
        if self.offsets.shape != (n + 1,) or self.edge_start.shape != (n + 1,):
            return False
        offsets = self.row_starts()
        if offsets[0] != 0 or offsets[-1] != self.neighbours.shape[0]:
            return False
        if not np.all(np.diff(offsets) >= 0):  # before any row is read: a bad offset would read out of bounds
            return False
        if self.ring.shape != ((n,) if self.half else (0,)) or not 0 <= self.half <= MAX_LATTICE_HALF:
            return False
        if self.half and 2 * self.half >= n:  # the ring's two sides would meet
            return False
        if self.first_edges()[0] != 0:
            return False
        if self.half:
            live = self.ring & ((1 << self.half) - 1)
            there = self.ring >> THERE_SHIFT
            if np.any(self.ring & ~np.uint16(((1 << self.half) - 1) * ((1 << THERE_SHIFT) + 1))) or np.any(
                live & ~there
            ):
                return False
        return _consistent(self.links)


# ------------------------------------------------------------------------------------------ reading a row


@nb.njit(inline="always", cache=True)
def friend_of(entry: int) -> int:
    """The neighbour a CSR slot's ``entry`` names, its edge cut (``v | CUT``) or not (``v``): ``entry`` without
    its sign bit. (A mask, not the one's complement ``~v``: the compiler then knows the index is not
    negative and drops its wrap-around check from the gather of phase C.)"""
    return entry & ID_BITS


@nb.njit(inline="always", cache=True)
def is_active(entry: int) -> bool:
    """Whether a CSR slot's ``entry`` is an edge not cut (its sign bit clear)."""
    return entry >= 0


@nb.njit(inline="always", cache=True)
def around(i: int, n: int) -> int:
    """``i mod n`` for ``-n ≤ i < 2n`` (a lattice neighbour on the ring), without a division."""
    return i + n if i < 0 else (i - n if i >= n else i)


@nb.njit(inline="always", cache=True)
def lattice_live(ring: np.ndarray, u: int, j: int) -> bool:
    """Whether the lattice edge ``(u, u+j)`` is there and not cut."""
    return (ring[u] >> (j - 1)) & 1 != 0


@nb.njit(inline="always", cache=True)
def lattice_there(ring: np.ndarray, u: int, j: int) -> bool:
    """Whether the lattice edge ``(u, u+j)`` was not rewired away (cut or not)."""
    return (ring[u] >> (THERE_SHIFT + j - 1)) & 1 != 0


@nb.njit(inline="always", cache=True)
def row_start(links: Links, i: int) -> int:
    """The first CSR slot of agent ``i``'s row (``i = N``: the slot count): its block's base plus its count."""
    return links.row_base[i >> BASE_SHIFT] + np.int64(links.offsets[i])


@nb.njit(inline="always", cache=True)
def first_edge(links: Links, i: int) -> int:
    """The first edge agent ``i`` is the lower end of (``i = N``: the edge count)."""
    return links.edge_base[i >> BASE_SHIFT] + np.int64(links.edge_start[i])


@nb.njit(inline="always", cache=True)
def row_length(links: Links, i: int) -> int:
    """Positions of agent ``i``'s row: ``2·half`` lattice positions, then its CSR slots."""
    return 2 * links.half + row_start(links, i + 1) - row_start(links, i)


@nb.njit(inline="always", cache=True)
def _lattice_edge(links: Links, i: int, q: int) -> tuple[int, int, int]:
    """For a lattice position ``q < 2·half`` of agent ``i``: the neighbour, the edge's owner and its distance."""
    n = links.offsets.shape[0] - 1
    i = np.int64(i)  # a prange index may be unsigned: i - j would be a float
    if q < links.half:
        j = np.int64(links.half - q)
        v = around(i - j, n)
        return v, v, j
    j = np.int64(q - links.half + 1)
    return around(i + j, n), i, j


@nb.njit(inline="always", cache=True)
def friend_at(links: Links, i: int, q: int) -> tuple[int, bool]:
    """Position ``q`` of agent ``i``'s row: the neighbour, and whether the edge to it is active.

    A lattice position whose edge was rewired away names its ring neighbour, never active.
    """
    if q < 2 * links.half:
        v, owner, j = _lattice_edge(links, i, q)
        return v, lattice_live(links.ring, owner, j)
    entry = links.neighbours[row_start(links, i) + q - 2 * links.half]
    return friend_of(entry), is_active(entry)


@nb.njit(inline="always", cache=True)
def there_at(links: Links, i: int, q: int) -> bool:
    """Whether position ``q`` of agent ``i``'s row holds an edge, cut or not."""
    if q < 2 * links.half:
        _, owner, j = _lattice_edge(links, i, q)
        return lattice_there(links.ring, owner, j)
    return True


@nb.njit(inline="always", cache=True)
def twin_slot(links: Links, v: int, u: int) -> int:
    """The slot of ``u`` in ``v``'s CSR row (rows are increasing: a binary search), or -1 if it is not there."""
    neighbours = links.neighbours
    lo, end = row_start(links, v), row_start(links, v + 1)
    hi = end
    while lo < hi:
        mid = (lo + hi) // 2
        if friend_of(neighbours[mid]) < u:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < end and friend_of(neighbours[lo]) == u else -1


@nb.njit(inline="always", cache=True)
def _first_above(links: Links, v: int, u: int) -> int:
    """The first slot of ``v``'s CSR row whose neighbour is above ``u`` (its row's end if none)."""
    neighbours = links.neighbours
    lo, hi = row_start(links, v), row_start(links, v + 1)
    while lo < hi:
        mid = (lo + hi) // 2
        if friend_of(neighbours[mid]) <= u:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(inline="always", cache=True)
def edge_index(links: Links, a: int, b: int) -> int:
    """The index of the edge ``(a, b)``, ``a < b`` (docs/model.md §2): ``a``'s first edge plus the number of
    ``a``'s higher neighbours below ``b``, on the lattice and in its CSR row."""
    n = links.offsets.shape[0] - 1
    a, b = np.int64(a), np.int64(b)
    below = 0
    for j in range(1, links.half + 1):
        if a + j < n:  # the lattice edge (a, a+j), owned by a
            below += lattice_there(links.ring, a, j) and a + j < b
        if a - j < 0:  # the lattice edge (a-j+n, a), owned by a-j+n, wraps above a
            w = a - j + n
            below += lattice_there(links.ring, w, j) and w < b
    below += _first_above(links, a, b - 1) - _first_above(links, a, a)
    return first_edge(links, a) + below


@nb.njit(inline="always", cache=True)
def edge_at(links: Links, i: int, q: int) -> int:
    """The index of the edge at position ``q`` of agent ``i``'s row."""
    v, _ = friend_at(links, i, q)
    return edge_index(links, lesser(i, v), greater(i, v))


# ------------------------------------------------------------------------------------------ cutting


@nb.njit(cache=True)
def cut_edge(u: int, slot: int, links: Links, degree: np.ndarray) -> None:
    """Cut the active CSR edge in ``u``'s ``slot``, in both directions (docs/model.md §2). The slot must be
    active (every caller checks :func:`is_active` first): its entry is then the friend's id.

    Both of its slots' entries get the sign bit :data:`CUT` (:func:`friend_of`) and both
    ends' active degrees are lowered; the rows keep their order, so the active friends
    are still visited in increasing id order, and a cut edge never comes back.
    """
    neighbours = links.neighbours
    v = neighbours[slot]
    twin = twin_slot(links, np.int64(v), np.int64(u))
    neighbours[slot] = v | CUT
    neighbours[twin] = np.int64(u) | CUT
    degree[u] -= 1
    degree[v] -= 1


@nb.njit(inline="always", cache=True)
def cut_lattice(ring: np.ndarray, owner: int, j: int) -> None:
    """Clear the live bit of the lattice edge ``(owner, owner+j)`` (one write: the edge's two ends share it)."""
    ring[owner] &= np.uint16(~(1 << (j - 1)) & 0xFFFF)


@nb.njit(cache=True)
def cut_at(links: Links, i: int, q: int, degree: np.ndarray) -> None:
    """Cut the active edge at position ``q`` of agent ``i``'s row, and lower both ends' active degrees."""
    if q < 2 * links.half:
        v, owner, j = _lattice_edge(links, i, q)
        cut_lattice(links.ring, owner, j)
        degree[i] -= 1
        degree[v] -= 1
    else:
        cut_edge(i, row_start(links, i) + q - 2 * links.half, links, degree)


# ------------------------------------------------------------------------------------------ whole-network views


@nb.njit(parallel=True, cache=True)
def _count(links: Links, degree: np.ndarray, active_only: bool) -> None:
    for i in nb.prange(degree.shape[0]):
        count = 0
        for q in range(row_length(links, i)):
            if active_only:
                count += friend_at(links, i, q)[1]
            else:
                count += there_at(links, i, q)
        degree[i] = count


@nb.njit(cache=True)
def _fill_row(links: Links, i: int, ids: np.ndarray, live: np.ndarray) -> int:
    count = 0
    for q in range(row_length(links, i)):
        if there_at(links, i, q):
            ids[count], live[count] = friend_at(links, i, q)
            count += 1
    return count


@nb.njit(parallel=True, cache=True)
def _edge_list(links: Links, src: np.ndarray, dst: np.ndarray, active: np.ndarray) -> None:
    for i in nb.prange(links.offsets.shape[0] - 1):  # each edge from its lower end
        for q in range(row_length(links, i)):
            v, live = friend_at(links, i, q)
            if v > i and there_at(links, i, q):
                e = edge_index(links, i, v)
                if 0 <= e < src.shape[0]:
                    src[e], dst[e], active[e] = i, v, live


@nb.njit(parallel=True, cache=True)
def _consistent(links: Links) -> bool:
    neighbours = links.neighbours
    n = links.offsets.shape[0] - 1
    wrong = 0
    for i in nb.prange(n):  # offsets are known to rise from 0 to the slot count (Network.is_consistent)
        higher = 0
        for q in range(2 * links.half):
            v, _ = friend_at(links, i, q)
            higher += there_at(links, i, q) and v > i
        start = row_start(links, i)
        for slot in range(start, row_start(links, i + 1)):
            v = friend_of(neighbours[slot])
            if v >= n or v == i or (slot > start and friend_of(neighbours[slot - 1]) >= v):
                wrong += 1
                continue
            higher += v > i
            twin = twin_slot(links, v, i)
            wrong += twin < 0 or is_active(neighbours[twin]) != is_active(neighbours[slot])
            for q in range(2 * links.half):  # a CSR edge may not double a lattice edge that is there
                u, _ = friend_at(links, i, q)
                wrong += u == v and there_at(links, i, q)
        wrong += first_edge(links, i + 1) - first_edge(links, i) != higher
    return wrong == 0
