"""The engine: builds the society of a scenario and steps it one day at a time.

The daily step is written once, here: phases A→E of MODEL.md in order, then the
metrics row. Each phase is a mechanism module under :mod:`trustsim.mechanisms`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd

from trustsim.checks import InvariantChecker
from trustsim.day import Day
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.mechanisms.base import Mechanism
from trustsim.mechanisms.behaviour import BehaviourPhase
from trustsim.mechanisms.observation import ObservationPhase
from trustsim.mechanisms.rollout import coverage_table
from trustsim.mechanisms.sanctions import SanctionsPhase
from trustsim.mechanisms.scoring import ScoringPhase
from trustsim.memory import require_memory
from trustsim.metrics import Metrics
from trustsim.network import Network, build_network
from trustsim.population import Population, initialise
from trustsim.scenario import Scenario
from trustsim.world import World

AGENTS_PER_THREAD = 40_000
"""Below this many agents per thread, waking another thread costs more than it saves (measured)."""


NETWORK_ARRAYS = ("src", "dst", "offsets", "neighbours", "edge_of_slot")


@dataclass
class SavedState:
    """Everything a simulation carries from one day to the next: what a checkpoint holds.

    ``day`` days are done; ``metrics`` holds their rows. ``scenario`` is the resolved
    scenario (JSON data) that produced the state.
    """

    day: int
    scenario: dict[str, Any]
    population: dict[str, np.ndarray]
    network: dict[str, np.ndarray]
    degree: np.ndarray
    metrics: dict[str, np.ndarray]
    observed_total: int


class Simulation:
    """One run of a scenario: the world, the phases that move it, and the metrics they leave.

    ``threads`` is how many threads the kernels use (at most numba's current thread count); by
    default one per 40,000 agents, up to numba's thread count. Results do not depend on it.
    With ``start``, the society continues from a saved state (a checkpoint) instead of
    being drawn afresh; ``scenario`` may then change the policy from that day on. With
    ``check``, every day ends with the invariant checks of :mod:`trustsim.checks`.
    Before allocating anything, the run's memory is estimated and a run that would not
    fit is refused (:class:`trustsim.memory.MemoryBudgetError`).
    """

    def __init__(
        self, scenario: Scenario, threads: int | None = None, *, check: bool = False, start: SavedState | None = None
    ) -> None:
        self.scenario = scenario
        require_memory(scenario)
        available = numba.get_num_threads()
        wanted = max(1, scenario.run.agents // AGENTS_PER_THREAD) if threads is None else threads
        self.threads = max(1, min(wanted, available))
        coverage = coverage_table(scenario, scenario.run.days)
        if start is None:
            population = initialise(scenario)
            network = build_network(scenario.network, population.region, scenario.n_regions, scenario.run.seed)
            self.world = World.create(scenario, population, network, coverage)
        else:
            self.world = _restore_world(scenario, start, coverage)
        self.phases: tuple[Mechanism, ...] = (
            BehaviourPhase(scenario),  # A, MODEL.md §3
            ObservationPhase(scenario),  # B, §4
            ScoringPhase(scenario),  # C, §5
            SanctionsPhase(scenario),  # D, §6
            AdaptationPhase(scenario),  # E, §7
        )
        self.today = Day.allocate(
            scenario.run.agents, len(scenario.behaviours), scenario.n_regions, len(scenario.sanctions)
        )
        self.metrics = Metrics(scenario, scenario.run.days)
        if start is not None:
            self.metrics.restore(start.metrics, start.day, start.observed_total)
        self.checker = InvariantChecker(self.world) if check else None

    @property
    def days_done(self) -> int:
        """Days simulated so far."""
        return self.world.day

    @property
    def finished(self) -> bool:
        """Whether every day of the scenario has been simulated."""
        return self.world.day >= self.scenario.run.days

    def step(self, seconds: dict[str, list[float]] | None = None) -> None:
        """Simulate one day: phases A→E in order, then record the metrics row.

        With ``seconds``, append each phase's wall time to ``seconds[phase]`` ("A" … "E",
        and "metrics"), for benchmarks.
        """
        if self.finished:
            raise RuntimeError(f"all {self.scenario.run.days} days of the scenario are simulated already")
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            day = self._begin_day()
            for phase in self.phases:
                started = time.perf_counter()
                phase.step(self.world, day)
                if seconds is not None:
                    seconds.setdefault(phase.phase, []).append(time.perf_counter() - started)
            started = time.perf_counter()
            self.metrics.record(self.world, day)
            if seconds is not None:
                seconds.setdefault("metrics", []).append(time.perf_counter() - started)
        finally:
            numba.set_num_threads(previous)
        self.world.day += 1
        if self.checker is not None:
            self.checker.check(self.world, day, self.metrics.row(day.t))

    def run(self, on_day: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Simulate the remaining days; call ``on_day(t)`` after each. Returns the metrics."""
        while not self.finished:
            self.step()
            if on_day is not None:
                on_day(self.world.day - 1)
        return self.metrics.frame()

    def saved_state(self) -> SavedState:
        """The state at the end of the last simulated day (arrays shared, not copied)."""
        net = self.world.network
        return SavedState(
            day=self.world.day,
            scenario=self.scenario.resolved(),
            population=self.world.population.arrays(),
            network={name: getattr(net, name) for name in NETWORK_ARRAYS},
            degree=self.world.degree,
            metrics={name: values[: self.world.day] for name, values in self.metrics.values.items()},
            observed_total=self.metrics.observed_total,
        )

    def _begin_day(self) -> Day:
        day = self.today
        day.t = self.world.day
        day.alive_start_count = int(self.world.regions.alive.sum())
        return day


def _restore_world(scenario: Scenario, state: SavedState, coverage: np.ndarray) -> World:
    """A world on day ``state.day`` from saved arrays (checked against the scenario's shapes)."""
    n = scenario.run.agents
    fresh = Population.__dataclass_fields__
    missing = set(fresh) - set(state.population)
    if missing or set(NETWORK_ARRAYS) - set(state.network):
        raise ValueError(f"saved state lacks {sorted(missing | (set(NETWORK_ARRAYS) - set(state.network)))}")
    population = Population(**{name: state.population[name] for name in fresh})
    b = len(scenario.behaviours)
    for name, values in population.arrays().items():
        expected = (b, n) if name in ("frailty", "deterrence") else (n,)
        if values.shape != expected:
            raise ValueError(f"saved {name} has shape {values.shape}, the scenario needs {expected}")
    network = Network(n, *(state.network[name] for name in NETWORK_ARRAYS))
    if network.offsets.shape != (n + 1,) or state.degree.shape != (n,):
        raise ValueError("saved network does not match the scenario's number of agents")
    world = World.create(scenario, population, network, coverage)
    world.degree = state.degree
    world.day = state.day
    return world
