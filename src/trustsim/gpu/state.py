"""The world on the GPU, and its way to and from the host.

The device holds the same named arrays as the CPU engine (:class:`trustsim.population.
Population`, the region index, and the day's :class:`trustsim.day.Day`, allocated by
:func:`device_day`), with the same dtypes, so the kernels call the same rules on the
same values, and the network in the same layout (rows in id order, a cut slot's entry
with its sign bit set), so a GPU run can be checkpointed and resumed on either backend. One thing
differs: **counters** have :data:`~trustsim.gpu.common.COUNTER_ROWS` rows instead of
one per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda

from trustsim.day import Day
from trustsim.gpu.common import COUNTER_ROWS, THREADS, blocks, device_zeros, to_device
from trustsim.households import Households
from trustsim.network import NETWORK_ARRAYS, Links, Network
from trustsim.population import Population
from trustsim.scenario import Scenario
from trustsim.world import RegionIndex, World


@dataclass
class DeviceWorld:
    """Everything that persists from one day to the next, on the device."""

    scenario: Scenario
    population: Population  # of device arrays
    network: Links  # of device arrays
    degree: Any  # int32 (N,): active edges of each agent
    coverage: Any  # float64 (T, channels, R)
    regions: RegionIndex  # of device arrays
    households: Households  # of device arrays (empty without households)
    host_households: Households  # the same on the host (fixed for the run)
    day: int = 0

    @property
    def seed(self) -> int:
        """The run's seed (docs/model.md §9)."""
        return self.scenario.run.seed

    @property
    def n_agents(self) -> int:
        """Number of agents N."""
        return self.scenario.run.agents

    @classmethod
    def upload(cls, world: World) -> DeviceWorld:
        """Copy a host world to the device."""
        net = world.network
        population = to_device(world.population)
        # The index reads who has emigrated from the population's own array, on the device too.
        index = to_device(world.regions._replace(emigrated=np.empty(0, dtype=np.bool_)))._replace(
            emigrated=population.emigrated
        )
        return cls(
            scenario=world.scenario,
            population=population,
            network=Links(net.half, *(cuda.to_device(getattr(net, name)) for name in NETWORK_ARRAYS)),
            degree=cuda.to_device(world.degree),
            coverage=cuda.to_device(world.coverage),
            regions=index,
            households=to_device(world.households),
            host_households=world.households,
            day=world.day,
        )

    def alive_by_region(self) -> np.ndarray:
        """Alive agents of each region (int64 [R]), on the host."""
        return self.regions.alive.copy_to_host()

    def panel_reader(self, ids: np.ndarray) -> Callable[[Any], np.ndarray]:
        """A function copying the entries ``ids`` of a device array to the host (for the trace)."""
        on_device = cuda.to_device(np.asarray(ids, dtype=np.int64))

        def take(values: Any) -> np.ndarray:
            out = cuda.device_array(on_device.shape[0], dtype=values.dtype)
            if on_device.shape[0]:
                _gather[blocks(on_device.shape[0]), THREADS](values, on_device, out)
            return out.copy_to_host()

        return take

    def agent_state(self, ids: np.ndarray | None) -> tuple[Population, np.ndarray]:
        """The agents' state and active degree on the host: everybody, or the agents ``ids``."""
        if ids is None:
            return self.population_on_host(), self.degree.copy_to_host()
        take = self.panel_reader(ids)

        def taken(values: Any) -> np.ndarray:
            if values.size == 0:  # held only with ages, and empty without them: nothing to take
                return values.copy_to_host()
            return np.stack([take(values[b]) for b in range(values.shape[0])]) if values.ndim == 2 else take(values)

        arrays = [taken(values) for values in self.population]
        return Population(*arrays), take(self.degree)

    def population_on_host(self) -> Population:
        """The agents' state copied to the host."""
        return Population(*(values.copy_to_host() for values in self.population))

    def to_host(self) -> World:
        """The whole world copied to the host, in the CPU engine's layout."""
        arrays = (getattr(self.network, name).copy_to_host() for name in NETWORK_ARRAYS)
        network = Network(self.n_agents, self.network.half, *arrays)
        coverage = self.coverage.copy_to_host()
        world = World.create(self.scenario, self.population_on_host(), network, coverage, self.host_households,
                             degree=self.degree.copy_to_host())  # fmt: skip
        world.day = self.day
        return world


def device_day(scenario: Scenario) -> Day:
    """The day's scratch arrays on the device: the CPU's layout, tallies in ``COUNTER_ROWS`` rows (gpu.common)."""
    n, b = scenario.run.agents, len(scenario.behaviours)
    return Day.allocate(n, b, scenario.n_regions, len(scenario.sanctions), COUNTER_ROWS, device_zeros)


@cuda.jit
def _gather(values: Any, ids: Any, out: Any) -> None:
    k = cuda.grid(1)
    if k < ids.shape[0]:
        out[k] = values[ids[k]]
