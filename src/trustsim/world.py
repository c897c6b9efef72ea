"""The simulated society at a point in time: agents, network, rollout and region index.

The engine owns one :class:`World`; each mechanism reads and updates it in its phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from trustsim.network import Network
from trustsim.population import Population
from trustsim.scenario import Scenario


@dataclass
class RegionIndex:
    """Alive agents of each region sorted by id, for misattribution (MODEL.md §4).

    ``members[start[r]:start[r+1]]`` are region ``r``'s alive agents in id order and
    ``rank[i]`` is agent ``i``'s position among them (-1 for the emigrated).
    """

    members: np.ndarray  # int32
    start: np.ndarray  # int64 (R + 1,)
    rank: np.ndarray  # int32 (N,)

    @classmethod
    def build(cls, region: np.ndarray, alive: np.ndarray, n_regions: int) -> RegionIndex:
        """Index the agents alive now (a counting sort: O(N), ids ascending within each region)."""
        members, start, rank = _index_regions(region, alive, n_regions)
        return cls(members=members, start=start, rank=rank)

    def alive_per_region(self) -> np.ndarray:
        """Alive agents of each region."""
        return np.diff(self.start)


@nb.njit(cache=True)
def _index_regions(region: np.ndarray, alive: np.ndarray, n_regions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = np.zeros(n_regions + 1, dtype=np.int64)
    for i in range(region.shape[0]):
        if alive[i]:
            start[region[i] + 1] += 1
    for r in range(n_regions):
        start[r + 1] += start[r]
    members = np.empty(start[n_regions], dtype=np.int32)
    rank = np.full(region.shape[0], -1, dtype=np.int32)
    filled = start[:-1].copy()
    for i in range(region.shape[0]):
        if alive[i]:
            r = region[i]
            members[filled[r]] = i
            rank[i] = filled[r] - start[r]
            filled[r] += 1
    return members, start, rank


@dataclass
class World:
    """Everything that persists from one day to the next.

    The network's CSR rows are reordered in place as edges are cut (see
    :func:`trustsim.network.cut_edge`): the first ``degree[i]`` entries of row ``i`` are
    agent ``i``'s active friends.
    """

    scenario: Scenario
    population: Population
    network: Network
    degree: np.ndarray  # int32 (N,): active edges of each agent; they come first in its CSR row
    coverage: np.ndarray  # float64 (T, channels, R): MODEL.md §8
    regions: RegionIndex
    day: int = 0  # the next day to simulate

    @classmethod
    def create(cls, scenario: Scenario, population: Population, network: Network, coverage: np.ndarray) -> World:
        """A world on day 0: every edge active."""
        return cls(
            scenario=scenario,
            population=population,
            network=network,
            degree=network.degree().astype(np.int32),
            coverage=coverage,
            regions=RegionIndex.build(population.region, ~population.emigrated, scenario.n_regions),
        )

    @property
    def edge_active(self) -> np.ndarray:
        """Whether each edge ``e`` (MODEL.md §2 order) is still active."""
        net = self.network
        rows = np.repeat(np.arange(net.n_agents), np.diff(net.offsets))
        active_slots = np.arange(net.neighbours.shape[0]) - net.offsets[rows] < self.degree[rows]
        active = np.zeros(net.n_edges, dtype=np.bool_)
        active[net.edge_of_slot[active_slots]] = True
        return active

    @property
    def active_edges(self) -> int:
        """Number of edges not cut."""
        return int(self.degree.sum()) // 2

    @property
    def seed(self) -> int:
        """The run's seed (MODEL.md §9)."""
        return self.scenario.run.seed

    @property
    def alive(self) -> np.ndarray:
        """Agents who have not emigrated."""
        return ~self.population.emigrated
