"""The GPU memory plan: bytes per agent and per edge of the device layout, the total, and whether it fits.

The plan adds up the arrays a GPU run allocates, derived from where they are declared,
so it follows the layout: the agents' state (the state table
:data:`trustsim.population.STATE`), the day's per-agent scratch
(:meth:`trustsim.day.Day.allocate`), the active degree and the region index
(:mod:`trustsim.world`), one float per block for ordered sums, and the CSR network
with a 32-bit neighbour id per slot (its sign bit the cut flag) and, per agent, its
row's start and first edge. It is printed
before a GPU run, and a run that does not fit the card is refused before anything is
allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustsim.day import scratch_bytes_per_agent
from trustsim.errors import Setting, TrustsimError
from trustsim.gpu.common import THREADS
from trustsim.network import lattice_half, network_dtypes
from trustsim.network.graph import BASE_BLOCK
from trustsim.population import state_bytes_per_agent
from trustsim.scenario import Scenario
from trustsim.world import world_bytes_per_agent

MARGIN = 1.05
"""Headroom on the device: the CUDA context, kernels and the day's small temporary arrays."""


class GpuMemoryError(TrustsimError):
    """A GPU run whose arrays do not fit the card's memory."""


@dataclass(frozen=True)
class GpuMemoryPlan:
    """Bytes a GPU run holds on the card, by part."""

    agents: int
    edges: int  # held in CSR slots (a small world's lattice edges are bits of each agent's word)
    bytes_per_agent: float
    bytes_per_edge: int
    card_bytes: int
    card_name: str

    @property
    def total(self) -> int:
        """Bytes on the card, margin included."""
        return int((self.agents * self.bytes_per_agent + self.edges * self.bytes_per_edge) * MARGIN)

    @property
    def fits(self) -> bool:
        """Whether the run fits the card's free memory."""
        return self.total <= self.card_bytes

    def lines(self) -> list[str]:
        """The plan in words, as printed before a run."""
        gib = 2**30
        verdict = "fits" if self.fits else "does NOT fit"
        return [
            f"GPU memory plan for {self.agents:,} agents and {self.edges:,} edges in CSR slots on {self.card_name}:",
            f"  {self.bytes_per_agent:.1f} B per agent ({self.agents * self.bytes_per_agent / gib:.2f} GiB), "
            f"{self.bytes_per_edge} B per edge ({self.edges * self.bytes_per_edge / gib:.2f} GiB)",
            f"  total with {MARGIN - 1:.0%} margin {self.total / gib:.2f} GiB of {self.card_bytes / gib:.2f} GiB free: "
            f"{verdict}",
        ]

    def summary(self) -> dict[str, object]:
        """The plan as data (for the manifest)."""
        return {
            "device": self.card_name,
            "bytes_per_agent": self.bytes_per_agent,
            "bytes_per_edge": self.bytes_per_edge,
            "planned_bytes": self.total,
            "free_bytes": self.card_bytes,
        }

    def require(self) -> None:
        """Raise :class:`GpuMemoryError` (one line, with the fix) when the run does not fit."""
        if not self.fits:
            most = self.largest_fitting_agents()
            raise GpuMemoryError(
                f"the GPU run needs {self.total / 2**30:.1f} GiB but {self.card_name} has "
                f"{self.card_bytes / 2**30:.1f} GiB free: use at most about {most:,} agents ({{0}})",
                Setting("run.agents", most),
            )

    def largest_fitting_agents(self) -> int:
        """About the most agents of this network's density that fit the card."""
        room = self.card_bytes / MARGIN
        return int(room / (self.bytes_per_agent + bytes_per_edge() * self.edges_per_agent))

    @property
    def edges_per_agent(self) -> float:
        """Mean edges per agent of this network."""
        return self.edges / self.agents if self.agents else 0.0


def bytes_per_agent(scenario: Scenario) -> float:
    """Device bytes per agent: state, the day's scratch, degree and region index, row offsets and first edges,
    the lattice word of a small world (:func:`trustsim.network.lattice_half`), block partials."""
    n_behaviours = len(scenario.behaviours)
    households = 4 + 8 + 2 if scenario.households is not None else 0  # member_of; start and children (at most N)
    dtypes = network_dtypes()
    size = {name: np.dtype(dtype).itemsize for name, dtype in dtypes.items()}
    offsets = size["offsets"] + size["edge_start"] + (size["row_base"] + size["edge_base"]) / BASE_BLOCK
    ring = size["ring"] if lattice_half(scenario.network) else 0
    partials = 8 / THREADS  # one float64 per block, shared by the ordered sums of phase A and the metrics
    return (
        state_bytes_per_agent(n_behaviours, scenario.ages is not None) + scratch_bytes_per_agent(n_behaviours)
        + world_bytes_per_agent() + offsets + ring + partials + households
    )  # fmt: skip


def bytes_per_edge() -> int:
    """Device bytes per edge held in CSR (a lattice edge is two bits of :func:`bytes_per_agent`'s word): two
    slots, each a neighbour id whose sign bit says it is cut (:mod:`.state`)."""
    return 2 * np.dtype(network_dtypes()["neighbours"]).itemsize


def memory_plan(scenario: Scenario, edges: int, card_bytes: int, card_name: str) -> GpuMemoryPlan:
    """The plan of ``scenario`` with ``edges`` edges on a card with ``card_bytes`` free."""
    return GpuMemoryPlan(
        agents=scenario.run.agents,
        edges=edges,
        bytes_per_agent=bytes_per_agent(scenario),
        bytes_per_edge=bytes_per_edge(),
        card_bytes=card_bytes,
        card_name=card_name,
    )
