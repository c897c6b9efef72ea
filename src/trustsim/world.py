"""The simulated society at a point in time: agents, network, rollout and region index.

The engine owns one :class:`World`; each mechanism reads and updates it in its phase.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        """Index the agents alive now."""
        alive_ids = np.flatnonzero(alive).astype(np.int32)
        order = np.argsort(region[alive_ids], kind="stable")
        members = alive_ids[order]
        counts = np.bincount(region[members], minlength=n_regions)
        start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        rank = np.full(region.shape[0], -1, dtype=np.int32)
        positions = np.arange(members.shape[0], dtype=np.int64)
        rank[members] = (positions - start[region[members]]).astype(np.int32)
        return cls(members=members, start=start, rank=rank)

    def alive_per_region(self) -> np.ndarray:
        """Alive agents of each region."""
        return np.diff(self.start)


@dataclass
class World:
    """Everything that persists from one day to the next."""

    scenario: Scenario
    population: Population
    network: Network
    edge_active: np.ndarray  # bool (E,): MODEL.md §2, a cut edge never comes back
    coverage: np.ndarray  # float64 (T, channels, R): MODEL.md §8
    regions: RegionIndex
    active_edges: int
    day: int = 0  # the next day to simulate

    @property
    def seed(self) -> int:
        """The run's seed (MODEL.md §9)."""
        return self.scenario.run.seed

    @property
    def alive(self) -> np.ndarray:
        """Agents who have not emigrated."""
        return ~self.population.emigrated

    def active_degree(self) -> np.ndarray:
        """Each agent's number of active edges."""
        n = self.population.n_agents
        src = self.network.src[self.edge_active]
        dst = self.network.dst[self.edge_active]
        return np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
