"""The engine: builds the society of a scenario and steps it one day at a time.

The daily step is written once, here: the phases of :data:`PHASES` in order (A→E of
docs/model.md §3–§7), then the metrics row. Each phase is a mechanism module under
:mod:`trustsim.mechanisms`; a backend maps every phase to an object of its own (the
CPU's drivers, or the GPU kernels of :mod:`trustsim.gpu`) with the same ``step`` hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numba
import numpy as np
import pandas as pd

from trustsim.checks import InvariantChecker
from trustsim.day import Day, n_chunks
from trustsim.groups import Groups, breakdown_day, group_slices, groups_problems, start_group_row
from trustsim.households import Households, form_households, no_households
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.mechanisms.base import Mechanism
from trustsim.mechanisms.behaviour import BehaviourPhase
from trustsim.mechanisms.credit_file import CreditFile, empty_file, file_problems
from trustsim.mechanisms.observation import ObservationPhase
from trustsim.mechanisms.rollout import coverage_table
from trustsim.mechanisms.sanctions import SanctionsPhase
from trustsim.mechanisms.scoring import ScoringPhase
from trustsim.metrics import HostReduce, Metrics, Reduce, columns
from trustsim.network import NETWORK_ARRAYS, Network, build_network, lattice_half, network_dtypes
from trustsim.population import STATE, Population, initialise, state_problems
from trustsim.preflight import Backend, preflight, require_backend
from trustsim.scenario import Scenario
from trustsim.trace import DEFAULT_PANEL, Trace, choose_panel, trace_problems
from trustsim.world import DEGREE, World

if TYPE_CHECKING:
    from trustsim.gpu.plan import GpuMemoryPlan
    from trustsim.gpu.state import DeviceWorld

AGENTS_PER_THREAD = 40_000
"""Below this many agents per thread, waking another thread costs more than it saves (measured)."""


class Phase(NamedTuple):
    """One phase of the daily step."""

    letter: str  # A … E, as docs/model.md names them
    mechanism: str  # its module under trustsim.mechanisms (and trustsim.gpu)
    section: str  # of docs/model.md


PHASES = (
    Phase("A", "behaviour", "§3"),
    Phase("B", "observation", "§4"),
    Phase("C", "scoring", "§5"),
    Phase("D", "sanctions", "§6"),
    Phase("E", "adaptation", "§7"),
)
"""The daily step, in order: the one list both backends map to their phase objects."""


@dataclass
class BackendParts:
    """What a backend contributes to a :class:`Simulation`: the world where its kernels run and its phases."""

    world: World | DeviceWorld
    phases: dict[str, Mechanism]  # by Phase.mechanism
    today: Day
    reduce: Reduce  # the day reduced to its metrics row's inputs
    memory_plan: GpuMemoryPlan | None = None


def host_parts(world: World, credit_file: CreditFile | None) -> BackendParts:
    """The CPU backend: the world in host memory and the numba drivers of :mod:`trustsim.mechanisms`."""
    scenario = world.scenario
    phases: dict[str, Mechanism] = {
        "behaviour": BehaviourPhase(scenario),
        "observation": ObservationPhase(scenario),
        "scoring": ScoringPhase(scenario, credit_file),
        "sanctions": SanctionsPhase(scenario),
        "adaptation": AdaptationPhase(scenario),
    }
    n = scenario.run.agents
    today = Day.allocate(n, len(scenario.behaviours), scenario.n_regions, len(scenario.sanctions), n_chunks(n))
    return BackendParts(world, phases, today, HostReduce(scenario))




@dataclass
class SavedState:
    """Everything a simulation carries from one day to the next: what a checkpoint holds.

    ``day`` days are done; ``metrics`` holds their rows and ``trace`` the traced agents'
    (``trace["agents"]``: their ids). ``scenario`` is the resolved scenario (JSON data)
    that produced the state.
    """

    day: int
    scenario: dict[str, Any]
    population: dict[str, np.ndarray]
    network: dict[str, np.ndarray]
    degree: np.ndarray
    metrics: dict[str, np.ndarray]
    observed_total: int
    trace: dict[str, np.ndarray]
    credit_file: dict[str, np.ndarray] = field(default_factory=empty_file)  # records of an expiry-memory run
    groups: dict[str, np.ndarray] = field(default_factory=lambda: Groups.empty_saved())  # groups.parquet rows


class Simulation:
    """One run of a scenario: the world, the phases that move it, and the metrics they leave.

    ``threads`` is how many threads the kernels use (at most numba's current thread count); by
    default one per 40,000 agents, up to numba's thread count. Results do not depend on it.
    With ``start``, the society continues from a saved state (a checkpoint) instead of
    being drawn afresh; ``scenario`` may then change the policy from that day on. With
    ``check``, every day ends with the invariant checks of :mod:`trustsim.checks`.
    ``traced`` agents (a panel chosen by :func:`trustsim.trace.choose_panel`; a restored
    state keeps its own) have their day-by-day story kept in ``trace``.
    Before drawing a society, :func:`trustsim.preflight.preflight` refuses a run the
    backend cannot do or whose memory would not fit (a caller that ran it already, with
    its own agent table, passes ``preflighted``).

    ``backend="gpu"`` runs the same phases as numba-cuda kernels (:mod:`trustsim.gpu`):
    the society is drawn on the host, copied to the GPU (after its memory plan, kept in
    ``memory_plan``, says it fits) and stays there; only the metrics rows, the traced
    agents and, at the end, the agent table come back.
    """

    world: World | DeviceWorld
    phases: dict[str, Mechanism]  # by phase letter, in the order of PHASES
    memory_plan: GpuMemoryPlan | None

    def __init__(
        self,
        scenario: Scenario,
        threads: int | None = None,
        *,
        check: bool = False,
        start: SavedState | None = None,
        traced: int = DEFAULT_PANEL,
        backend: Backend = "cpu",
        preflighted: bool = False,
    ) -> None:
        if start is not None:  # in memory already: its caller checked before loading it
            require_backend(scenario, backend, check)
        elif not preflighted:
            preflight(scenario, backend=backend, check=check)
        self.scenario = scenario
        self.backend = backend
        available = numba.get_num_threads()
        wanted = max(1, scenario.run.agents // AGENTS_PER_THREAD) if threads is None else threads
        self.threads = max(1, min(wanted, available))
        coverage = coverage_table(scenario, scenario.run.days)
        households = form_households(scenario) if scenario.households is not None else None
        self.households = no_households() if households is None else households  # on the host
        if start is None:
            population = initialise(scenario, households)
            network = build_network(scenario.network, population.region, scenario.n_regions, scenario.run.seed)
            world = World.create(scenario, population, network, coverage, households)
        else:
            world = _restore_world(scenario, start, coverage, households)
        panel = choose_panel(world.population.flag("outspoken"), traced) if start is None else start.trace["agents"]
        self.trace = Trace(scenario, panel)
        self.groups = Groups(scenario)
        self.credit_file = CreditFile(scenario) if scenario.score.expires else None  # CPU only (preflight)
        if start is not None and self.credit_file is not None:
            self.credit_file.restore(start.credit_file)
        if backend == "gpu":
            from trustsim.gpu.backend import device_parts  # numba.cuda is loaded for GPU runs only

            parts = device_parts(world)
            del world  # the host copy: a GPU run keeps its state on the device
        else:
            parts = host_parts(world, self.credit_file)
        self.world, self.today, self.memory_plan = parts.world, parts.today, parts.memory_plan
        self.phases = {phase.letter: parts.phases[phase.mechanism] for phase in PHASES}
        self.metrics = Metrics(scenario, scenario.run.days, parts.reduce)
        if start is not None:
            self.metrics.restore(start.metrics, start.day, start.observed_total)
            self.trace.restore(start.trace, start.day)
            self.groups.restore(start.groups)
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
            for letter, phase in self.phases.items():
                started = time.perf_counter()
                phase.step(self.world, day)
                if seconds is not None:
                    seconds.setdefault(letter, []).append(time.perf_counter() - started)
            started = time.perf_counter()
            self.metrics.record(self.world, day)
            self.trace.record(self.world, day)
            if breakdown_day(self.scenario, day.t):
                population = self.world.population
                self.groups.record(day.t, group_slices(population, day.outcomes.status, self.world.households))
                start_group_row(population)
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
        """The state at the end of the last simulated day (on the CPU, arrays shared, not copied)."""
        world = self.world if isinstance(self.world, World) else self.world.to_host()
        net = world.network
        return SavedState(
            day=world.day,
            scenario=self.scenario.resolved(),
            population=world.population.arrays(),
            network={name: getattr(net, name) for name in NETWORK_ARRAYS},
            degree=world.degree,
            metrics={name: values[: self.world.day] for name, values in self.metrics.values.items()},
            observed_total=self.metrics.observed_total,
            trace=self.trace.saved(self.world.day),
            groups=self.groups.saved(),
            credit_file=self.credit_file.saved() if self.credit_file is not None else empty_file(),
        )

    def agent_state(self, ids: np.ndarray | None = None) -> tuple[Population, np.ndarray]:
        """The agents' state and active degree on the host: everybody, or the agents ``ids``."""
        return self.world.agent_state(ids)

    def _begin_day(self) -> Day:
        day = self.today
        day.t = self.world.day
        day.alive_start_count = int(self.world.alive_by_region().sum())
        return day


def saved_state_problems(state: SavedState, scenario: Scenario) -> list[str]:
    """Why ``state`` cannot be the state of ``scenario``'s society (empty if it can).

    Checks the name, dtype and shape of every array, and that the network's CSR arrays
    agree with each other (a bad offset or id would make the kernels read out of bounds).
    """
    n = scenario.run.agents
    aged = scenario.ages is not None
    problems = state_problems(state.population, n, len(scenario.behaviours), scenario.n_regions, aged)
    if set(state.population) != set(STATE):
        return problems
    problems += _network_problems(state, n, lattice_half(scenario.network))
    expected = columns(scenario)
    if set(state.metrics) != set(expected):
        problems.append(f"metric columns differ from the scenario's: {sorted(set(state.metrics) ^ set(expected))[:4]}")
    elif any(state.metrics[name].shape != (state.day,) for name in expected):
        problems.append(f"metrics do not hold exactly {state.day} rows")
    if not 0 <= state.day <= scenario.run.days:
        problems.append(f"day {state.day} is outside 0 … {scenario.run.days}")
    else:
        problems += trace_problems(state.trace, scenario, state.day)
        problems += file_problems(state.credit_file, n, state.day, scenario.score.expires)
        problems += groups_problems(state.groups, scenario, state.day)
    return problems


def _network_problems(state: SavedState, n: int, half: int) -> list[str]:
    net = state.network
    if set(net) != set(NETWORK_ARRAYS):
        return [f"network arrays {sorted(net)} are not {sorted(NETWORK_ARRAYS)}"]
    wrong = [name for name, dtype in network_dtypes().items() if net[name].dtype != dtype or net[name].ndim != 1]
    if wrong or state.degree.dtype != DEGREE or state.degree.shape != (n,):
        return [f"network arrays of the wrong type or shape: {wrong or ['degree']}"]
    network = Network(n, half, *(net[name] for name in NETWORK_ARRAYS))
    slots = net["neighbours"].shape[0]
    ends_fit = net["offsets"].shape == (n + 1,) and net["row_base"].shape[0] > 0
    counted = int(net["row_base"][-1]) + int(net["offsets"][-1]) if ends_fit else slots
    checks = {"edge count": slots % 2 == 0 and counted == slots}
    if checks["edge count"]:
        checks["rows"] = network.is_consistent()
    if all(checks.values()):
        checks["active degrees"] = bool(np.array_equal(network.active_degree(), state.degree))
    return [f"network {what} inconsistent" for what, fine in checks.items() if not fine]


def _restore_world(
    scenario: Scenario, state: SavedState, coverage: np.ndarray, households: Households | None
) -> World:
    """A world on day ``state.day`` from saved arrays (checked against the scenario first).

    The households are not saved: they are drawn again from the scenario's seed (a branch
    may not change them).
    """
    problems = saved_state_problems(state, scenario)
    if problems:
        raise ValueError("saved state does not fit the scenario: " + "; ".join(problems))
    population = Population(**state.population)
    half = lattice_half(scenario.network)
    network = Network(scenario.run.agents, half, *(state.network[name] for name in NETWORK_ARRAYS))
    world = World.create(scenario, population, network, coverage, households, degree=state.degree)
    world.day = state.day
    return world
