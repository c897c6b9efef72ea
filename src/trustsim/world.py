"""The simulated society at a point in time: agents, network, rollout and region index.

The engine owns one :class:`World`; each mechanism reads and updates it in its phase.
The region index's rules (:func:`alive_rank`, :func:`alive_at_rank`,
:func:`leave_index`) serve both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.households import Households, no_households
from trustsim.network import Links, Network, cut_at, friend_at, row_length
from trustsim.population import Population
from trustsim.scalar import lesser, tally
from trustsim.scenario import Scenario

PLACES_PER_BLOCK = 16
"""Places of a region's member list that one count of the region index's tree covers (see :class:`RegionIndex`)."""

_BLOCK_SHIFT = 4  # log2(PLACES_PER_BLOCK)


class RegionIndex(NamedTuple):
    """Alive agents of each region in id order, for misattribution (docs/model.md §4).

    ``members[start[r]:start[r+1]]`` are region ``r``'s agents in id order, alive or not;
    an agent's place among them is found by binary search. The places are grouped in
    blocks of :data:`PLACES_PER_BLOCK`, and a Fenwick tree per region over its blocks
    (``tree``, 1-based, region ``r``'s from ``tree_start[r]``) holds each block's alive
    agents; within a block, ``emigrated`` (the population's own array, not a copy) says
    who is alive. An alive agent's rank and the agent of a given rank each take
    O(log N), and an emigrant is removed in O(log N), with about 4.25 bytes an agent
    (a per-place tree and place array took 12).
    """

    members: np.ndarray  # int32 (N,)
    start: np.ndarray  # int64 (R + 1,)
    tree: np.ndarray  # int32: per region, its blocks' Fenwick tree (1-based) from tree_start[r]
    tree_start: np.ndarray  # int64 (R + 1,): region r's tree is tree[tree_start[r] : tree_start[r + 1]]
    alive: np.ndarray  # int64 (R,): alive agents of each region
    emigrated: np.ndarray  # bool (N,): the population's ``emigrated`` (shared)

    @classmethod
    def build(cls, region: np.ndarray, emigrated: np.ndarray, n_regions: int) -> RegionIndex:
        """Index the agents (a counting sort: O(N), ids ascending within each region).

        ``emigrated`` is kept, not copied: an emigrant is flagged there before it is
        removed (:meth:`remove`, :func:`leave_index`).
        """
        members, start, tree, tree_start, alive_count = _index_regions(region, emigrated, n_regions)
        return cls(members=members, start=start, tree=tree, tree_start=tree_start, alive=alive_count,
                   emigrated=emigrated)  # fmt: skip

    def remove(self, agents: np.ndarray, region: np.ndarray) -> None:
        """Take emigrants (already flagged in ``emigrated``) out of the index."""
        _remove(agents, region, self)


@nb.njit(cache=True)
def _index_regions(
    region: np.ndarray, emigrated: np.ndarray, n_regions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    start = np.zeros(n_regions + 1, dtype=np.int64)
    for i in range(region.shape[0]):
        start[region[i] + 1] += 1
    tree_start = np.zeros(n_regions + 1, dtype=np.int64)
    for r in range(n_regions):
        size = start[r + 1]
        tree_start[r + 1] = tree_start[r] + 1 + (size + PLACES_PER_BLOCK - 1) // PLACES_PER_BLOCK
        start[r + 1] += start[r]
    members = np.empty(region.shape[0], dtype=np.int32)
    tree = np.zeros(tree_start[n_regions], dtype=np.int32)
    alive_count = np.zeros(n_regions, dtype=np.int64)
    filled = start[:-1].copy()
    for i in range(region.shape[0]):
        r = region[i]
        place = filled[r] - start[r]
        members[filled[r]] = i
        alive = not emigrated[i]
        tree[tree_start[r] + (place >> _BLOCK_SHIFT) + 1] += alive
        alive_count[r] += alive
        filled[r] += 1
    for r in range(n_regions):  # linear-time Fenwick construction over each region's blocks
        base, size = tree_start[r], tree_start[r + 1] - tree_start[r] - 1
        for j in range(1, size + 1):
            parent = j + (j & -j)
            if parent <= size:
                tree[base + parent] += tree[base + j]
    return members, start, tree, tree_start, alive_count


@nb.njit(inline="always", cache=True)
def _place(i: int, r: int, index: RegionIndex) -> int:
    """Agent ``i``'s place among region ``r``'s members (a binary search: members are in id order)."""
    lo, hi = index.start[r], index.start[r + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if index.members[mid] < i:
            lo = mid + 1
        else:
            hi = mid
    return lo - index.start[r]


@nb.njit(inline="always", cache=True)
def leave_index(i: int, r: int, index: RegionIndex) -> None:
    """Take agent ``i`` of region ``r`` out of the alive agents of the index (it emigrates; it is already
    flagged in ``emigrated``)."""
    base, size = index.tree_start[r], index.tree_start[r + 1] - index.tree_start[r] - 1
    j = (_place(i, r, index) >> _BLOCK_SHIFT) + 1
    while j <= size:
        tally(index.tree, base + j, -1)
        j += j & -j
    tally(index.alive, r, -1)


@nb.njit(cache=True)
def _remove(agents: np.ndarray, region: np.ndarray, index: RegionIndex) -> None:
    for i in agents:
        leave_index(i, region[i], index)


@nb.njit(inline="always", cache=True)
def alive_rank(i: int, r: int, index: RegionIndex) -> int:
    """Alive agents of region ``r`` with a smaller id than agent ``i`` (of region ``r``)."""
    tree = index.tree
    base = index.tree_start[r]
    place = _place(i, r, index)
    j = place >> _BLOCK_SHIFT
    total = 0
    while j > 0:  # the whole blocks before i's
        total += tree[base + j]
        j -= j & -j
    first = index.start[r] + ((place >> _BLOCK_SHIFT) << _BLOCK_SHIFT)
    for k in range(first, index.start[r] + place):  # and the alive agents before i in its block
        total += not index.emigrated[index.members[k]]
    return total


@nb.njit(inline="always", cache=True)
def alive_at_rank(k: int, r: int, index: RegionIndex) -> int:
    """The alive agent of region ``r`` with ``k`` alive agents of smaller id before it."""
    tree = index.tree
    base, size = index.tree_start[r], index.tree_start[r + 1] - index.tree_start[r] - 1
    block = 0
    remaining = k + 1
    step = 1
    while step * 2 <= size:
        step *= 2
    while step > 0:  # the last block whose alive agents before it number fewer than k + 1
        if block + step <= size and tree[base + block + step] < remaining:
            block += step
            remaining -= tree[base + block]
        step //= 2
    first = index.start[r] + (block << _BLOCK_SHIFT)
    member = index.members[first]
    for place in range(first, lesser(first + PLACES_PER_BLOCK, index.start[r + 1])):
        member = index.members[place]
        remaining -= not index.emigrated[member]
        if remaining == 0:
            break
    return member


@nb.njit(cache=True)
def _separate_families(links: Links, degree: np.ndarray, member_of: np.ndarray) -> None:
    """Cut every edge between two adults of one household: they are family, not friends (docs/model.md §14)."""
    for u in range(degree.shape[0]):
        for q in range(row_length(links, u)):
            v, live = friend_at(links, u, q)
            if live and v > u and member_of[v] == member_of[u]:
                cut_at(links, u, q, degree)


def world_bytes_per_agent() -> float:
    """Bytes per agent of the world's per-agent arrays beside the state: active degree and region index (its
    members and a count per block of :data:`PLACES_PER_BLOCK` of them; its per-region arrays, some 32 bytes a
    region, are left out)."""
    return 4 + 4 / PLACES_PER_BLOCK + np.dtype(DEGREE).itemsize


DEGREE = np.int32
"""dtype of the active degree of every agent."""


@dataclass
class World:
    """Everything that persists from one day to the next.

    The network's edges are flagged as they are cut (see :func:`trustsim.network.cut_at`):
    agent ``i``'s friends are the active positions of its row, ``degree[i]`` of them.
    """

    scenario: Scenario
    population: Population
    network: Network
    degree: np.ndarray  # int32 (N,): active edges of each agent (active positions of its row)
    coverage: np.ndarray  # float64 (T, channels, R): docs/model.md §8
    regions: RegionIndex
    households: Households  # docs/model.md §14; empty (no_households()) without them
    day: int = 0  # the next day to simulate

    @classmethod
    def create(
        cls,
        scenario: Scenario,
        population: Population,
        network: Network,
        coverage: np.ndarray,
        households: Households | None = None,
        degree: np.ndarray | None = None,
    ) -> World:
        """A world on day 0, every friendship active; or, with ``degree``, a saved one whose cuts it gives.

        On day 0 an edge between two adults of one household is family, never a
        friendship (docs/model.md §14): it starts cut.
        """
        households = no_households() if households is None else households
        if degree is None:
            degree = network.degree().astype(DEGREE)
            if households.member_of.shape[0]:
                _separate_families(network.links, degree, households.member_of)
        return cls(
            scenario=scenario,
            population=population,
            network=network,
            degree=degree,
            coverage=coverage,
            regions=RegionIndex.build(population.region, population.emigrated, scenario.n_regions),
            households=households,
        )

    @property
    def edge_active(self) -> np.ndarray:
        """Whether each edge ``e`` (docs/model.md §2 order) is still active."""
        return self.network.edge_active()

    @property
    def active_edges(self) -> int:
        """Number of edges not cut."""
        return int(self.degree.sum()) // 2

    @property
    def seed(self) -> int:
        """The run's seed (docs/model.md §9)."""
        return self.scenario.run.seed

    def alive_by_region(self) -> np.ndarray:
        """Alive agents of each region (int64 [R])."""
        return self.regions.alive

    def panel_reader(self, ids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """A function giving the entries ``ids`` of any per-agent array (for the trace)."""
        return lambda values: values[ids]

    def agent_state(self, ids: np.ndarray | None) -> tuple[Population, np.ndarray]:
        """The agents' state and active degree: everybody (no copy), or the agents ``ids``."""
        if ids is None:
            return self.population, self.degree
        return self.population.select(ids), self.degree[ids]

    @property
    def alive(self) -> np.ndarray:
        """Agents who have not emigrated."""
        return ~self.population.emigrated
