"""The world and the day's scratch arrays on the GPU, and their way to and from the host.

The device holds the same named arrays as the CPU engine (:class:`trustsim.population.
Population`, the day's masks and counters), with the same dtypes, so the kernels can
follow the CPU's arithmetic operation for operation. Two things differ:

* **Cut edges.** The CPU keeps each CSR row's active neighbours first, in id order,
  moving the active slots after a cut one up; that cannot run in parallel. On the GPU
  every slot has an ``active`` byte instead and rows keep their order;
  :meth:`DeviceWorld.to_host` rebuilds the CPU's layout (active slots first, in id
  order), so a GPU run can be checkpointed and resumed on either backend.
* **Counters** have :data:`~trustsim.gpu.common.LANES` rows instead of one per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numba as nb
import numpy as np
from numba import cuda

from trustsim.day import mask_dtype
from trustsim.gpu.common import LANES, THREADS, blocks
from trustsim.network import Network
from trustsim.population import Population
from trustsim.scenario import Scenario
from trustsim.world import RegionIndex, World


@dataclass
class DeviceNetwork:
    """CSR adjacency on the device: rows in id order, an ``active`` byte per slot."""

    offsets: Any  # int64 (N + 1,)
    neighbours: Any  # int32 (2E,)
    edge_of_slot: Any  # uint32 (2E,) when E < 2**32, else int64
    active: Any  # uint8 (2E,)
    src: np.ndarray  # host copies, unchanged during a run (for checkpoints)
    dst: np.ndarray


@dataclass
class DeviceWorld:
    """Everything that persists from one day to the next, on the device."""

    scenario: Scenario
    population: Population  # of device arrays
    network: DeviceNetwork
    degree: Any  # int32 (N,): active edges of each agent
    coverage: Any  # float64 (T, channels, R)
    regions: RegionIndex  # of device arrays
    day: int = 0

    @property
    def seed(self) -> int:
        """The run's seed (MODEL.md §9)."""
        return self.scenario.run.seed

    @property
    def n_agents(self) -> int:
        """Number of agents N."""
        return self.scenario.run.agents

    @classmethod
    def upload(cls, world: World) -> DeviceWorld:
        """Copy a host world to the device."""
        net = world.network
        edge_dtype = np.uint32 if net.n_edges < 2**32 else np.int64
        active = _active_slots(net.offsets, world.degree)
        index = world.regions
        return cls(
            scenario=world.scenario,
            population=Population(**{name: cuda.to_device(a) for name, a in world.population.arrays().items()}),
            network=DeviceNetwork(
                offsets=cuda.to_device(net.offsets),
                neighbours=cuda.to_device(net.neighbours),
                edge_of_slot=cuda.to_device(net.edge_of_slot.astype(edge_dtype)),
                active=cuda.to_device(active),
                src=net.src,
                dst=net.dst,
            ),
            degree=cuda.to_device(world.degree),
            coverage=cuda.to_device(world.coverage),
            regions=RegionIndex(*(cuda.to_device(getattr(index, f.name)) for f in fields(RegionIndex))),
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
        arrays = {}
        for f in fields(Population):
            values = getattr(self.population, f.name)
            if values.ndim == 2:
                arrays[f.name] = np.stack([take(values[b]) for b in range(values.shape[0])])
            else:
                arrays[f.name] = take(values)
        return Population(**arrays), take(self.degree)

    def population_on_host(self) -> Population:
        """The agents' state copied to the host."""
        return Population(**{f.name: getattr(self.population, f.name).copy_to_host() for f in fields(Population)})

    def to_host(self) -> World:
        """The whole world copied to the host, in the CPU engine's layout."""
        offsets = self.network.offsets.copy_to_host()
        neighbours = self.network.neighbours.copy_to_host()
        edge_of_slot = self.network.edge_of_slot.copy_to_host().astype(np.int64)
        _active_first(offsets, neighbours, edge_of_slot, self.network.active.copy_to_host())
        network = Network(self.n_agents, self.network.src, self.network.dst, offsets, neighbours, edge_of_slot)
        coverage = self.coverage.copy_to_host()
        world = World.create(self.scenario, self.population_on_host(), network, coverage)
        world.degree = self.degree.copy_to_host()
        world.day = self.day
        return world


@dataclass
class DeviceDay:
    """Scratch state of the current day on the device (the GPU's :class:`trustsim.day.Day`)."""

    t: int
    committed: Any
    attributed: Any
    misattributed: Any
    wrongly_received: Any
    landed_points: Any  # float64: zero outside phases B–C
    landed_wrongful: Any
    score_next: Any
    status: Any  # uint8, bits of trustsim.day
    partial: Any  # float64 (blocks,): one partial sum per block
    sums: Any  # float64 (2,): dissent_unchilled, score sum
    committed_count: Any  # int64 (LANES, B)
    observed_count: Any
    misattributed_count: Any
    caught_count: Any  # int64 (1, B)
    penalised_count: Any  # int64 (LANES + 1, B): last row counts misattributions that stand
    denials_count: Any  # int64 (LANES, S)
    listing_count: Any  # int64 (LANES, 3)
    candidates: Any  # int64 (LANES, R)
    alive_start_count: int = 0
    review_backlog: float = 0.0

    @classmethod
    def allocate(cls, scenario: Scenario) -> DeviceDay:
        """Allocate the scratch arrays of a run on the device."""
        n, b = scenario.run.agents, len(scenario.behaviours)
        mask = mask_dtype(b)

        def zeros(shape: Any, dtype: Any) -> Any:
            return cuda.to_device(np.zeros(shape, dtype=dtype))

        return cls(
            t=-1,
            committed=zeros(n, mask),
            attributed=zeros(n, mask),
            misattributed=zeros(n, mask),
            wrongly_received=zeros(n, mask),
            landed_points=zeros(n, np.float64),
            landed_wrongful=zeros(n, np.float64),
            score_next=zeros(n, np.float64),
            status=zeros(n, np.uint8),
            partial=zeros(blocks(n), np.float64),
            sums=zeros(2, np.float64),
            committed_count=zeros((LANES, b), np.int64),
            observed_count=zeros((LANES, b), np.int64),
            misattributed_count=zeros((LANES, b), np.int64),
            caught_count=zeros((1, b), np.int64),
            penalised_count=zeros((LANES + 1, b), np.int64),
            denials_count=zeros((LANES, len(scenario.sanctions)), np.int64),
            listing_count=zeros((LANES, 3), np.int64),
            candidates=zeros((LANES, scenario.n_regions), np.int64),
        )


def zero(array: Any) -> None:
    """Set a (small) device array, such as a counter, to zero: one copy from the host."""
    array.copy_to_device(np.zeros(array.shape, dtype=array.dtype))


@cuda.jit
def _gather(values: Any, ids: Any, out: Any) -> None:
    k = cuda.grid(1)
    if k < ids.shape[0]:
        out[k] = values[ids[k]]


@nb.njit(cache=True)
def _active_slots(offsets: np.ndarray, degree: np.ndarray) -> np.ndarray:
    # The CPU layout: the first degree[i] slots of row i are active.
    active = np.zeros(offsets[-1], dtype=np.uint8)
    for i in range(degree.shape[0]):
        active[offsets[i] : offsets[i] + degree[i]] = 1
    return active


@nb.njit(cache=True)
def _active_first(offsets: np.ndarray, neighbours: np.ndarray, edge_of_slot: np.ndarray, active: np.ndarray) -> None:
    # Stable partition of every row: active slots first, in their order, then the cut ones.
    for i in range(offsets.shape[0] - 1):
        lo, hi = offsets[i], offsets[i + 1]
        row_n, row_e, row_a = neighbours[lo:hi].copy(), edge_of_slot[lo:hi].copy(), active[lo:hi]
        k = lo
        for keep in (1, 0):
            for s in range(hi - lo):
                if row_a[s] == keep:
                    neighbours[k], edge_of_slot[k] = row_n[s], row_e[s]
                    k += 1
