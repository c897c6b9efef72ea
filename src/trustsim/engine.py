"""The engine: builds the society of a scenario and steps it one day at a time.

The daily step is written once, here: phases A→E of MODEL.md in order, then the
metrics row. Each phase is a mechanism module under :mod:`trustsim.mechanisms`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import pandas as pd

from trustsim.day import Day
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.mechanisms.base import Mechanism
from trustsim.mechanisms.behaviour import BehaviourPhase
from trustsim.mechanisms.observation import ObservationPhase
from trustsim.mechanisms.rollout import coverage_table
from trustsim.mechanisms.sanctions import SanctionsPhase
from trustsim.mechanisms.scoring import ScoringPhase
from trustsim.metrics import Metrics
from trustsim.network import build_network
from trustsim.population import initialise
from trustsim.scenario import Scenario
from trustsim.world import World

AGENTS_PER_THREAD = 40_000
"""Below this many agents per thread, waking another thread costs more than it saves (measured)."""


class Simulation:
    """One run of a scenario: the world, the phases that move it, and the metrics they leave.

    ``threads`` is how many threads the kernels use (at most numba's current thread count); by
    default one per 40,000 agents, up to numba's thread count. Results do not depend on it.
    """

    def __init__(self, scenario: Scenario, threads: int | None = None) -> None:
        self.scenario = scenario
        available = numba.get_num_threads()
        wanted = max(1, scenario.run.agents // AGENTS_PER_THREAD) if threads is None else threads
        self.threads = max(1, min(wanted, available))
        population = initialise(scenario)
        network = build_network(scenario.network, population.region, scenario.n_regions, scenario.run.seed)
        self.world = World.create(scenario, population, network, coverage_table(scenario, scenario.run.days))
        self.phases: tuple[Mechanism, ...] = (
            BehaviourPhase(scenario),  # A, MODEL.md §3
            ObservationPhase(scenario),  # B, §4
            ScoringPhase(scenario),  # C, §5
            SanctionsPhase(scenario),  # D, §6
            AdaptationPhase(scenario),  # E, §7
        )
        self.today = Day.allocate(
            population.n_agents, len(scenario.behaviours), scenario.n_regions, len(scenario.sanctions)
        )
        self.metrics = Metrics(scenario, scenario.run.days)

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

    def run(self, on_day: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Simulate the remaining days; call ``on_day(t)`` after each. Returns the metrics."""
        while not self.finished:
            self.step()
            if on_day is not None:
                on_day(self.world.day - 1)
        return self.metrics.frame()

    def _begin_day(self) -> Day:
        day = self.today
        day.t = self.world.day
        day.alive_start_count = int(self.world.regions.alive.sum())
        return day
