"""The engine: builds the society of a scenario and steps it one day at a time.

The daily step is written once, here: phases A→E of MODEL.md in order, then the
metrics row. Each phase is a mechanism module under :mod:`trustsim.mechanisms`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numba
import numpy as np
import pandas as pd

from trustsim.checks import InvariantChecker
from trustsim.day import Day
from trustsim.errors import TrustsimError
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.mechanisms.base import Mechanism
from trustsim.mechanisms.behaviour import BehaviourPhase
from trustsim.mechanisms.credit_file import CreditFile, empty_file, file_problems
from trustsim.mechanisms.observation import ObservationPhase
from trustsim.mechanisms.rollout import coverage_table
from trustsim.mechanisms.sanctions import SanctionsPhase
from trustsim.mechanisms.scoring import ScoringPhase
from trustsim.memory import require_memory
from trustsim.metrics import Metrics, columns
from trustsim.network import Network, build_network
from trustsim.population import PER_BEHAVIOUR, STATE_DTYPES, Population, initialise
from trustsim.scenario import Scenario
from trustsim.trace import DEFAULT_PANEL, Trace, choose_panel, trace_problems
from trustsim.world import World

if TYPE_CHECKING:
    from trustsim.gpu.plan import GpuMemoryPlan
    from trustsim.gpu.state import DeviceWorld

AGENTS_PER_THREAD = 40_000
"""Below this many agents per thread, waking another thread costs more than it saves (measured)."""


NETWORK_ARRAYS = ("src", "dst", "offsets", "neighbours", "edge_of_slot")

Backend = Literal["cpu", "gpu"]
"""Where the phases run: numba kernels on the CPU, or numba-cuda kernels on an NVIDIA GPU."""
BACKENDS: tuple[Backend, ...] = get_args(Backend)


class BackendOptionError(TrustsimError):
    """An option the chosen backend does not offer."""


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


class Simulation:
    """One run of a scenario: the world, the phases that move it, and the metrics they leave.

    ``threads`` is how many threads the kernels use (at most numba's current thread count); by
    default one per 40,000 agents, up to numba's thread count. Results do not depend on it.
    With ``start``, the society continues from a saved state (a checkpoint) instead of
    being drawn afresh; ``scenario`` may then change the policy from that day on. With
    ``check``, every day ends with the invariant checks of :mod:`trustsim.checks`.
    ``traced`` agents (a panel chosen by :func:`trustsim.trace.choose_panel`; a restored
    state keeps its own) have their day-by-day story kept in ``trace``.
    Before drawing a society, the run's memory is estimated and a run that would not
    fit is refused (:class:`trustsim.memory.MemoryBudgetError`).

    ``backend="gpu"`` runs the same phases as numba-cuda kernels (:mod:`trustsim.gpu`):
    the society is drawn on the host, copied to the GPU (after its memory plan, kept in
    ``memory_plan``, says it fits) and stays there; only the metrics rows, the traced
    agents and, at the end, the agent table come back.
    """

    world: World | DeviceWorld
    phases: tuple[Mechanism, ...]  # A→E; on the GPU, the kernels of trustsim.gpu (the same hook)
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
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        require_backend(scenario, backend, check)
        self.scenario = scenario
        self.backend = backend
        if start is None:  # a restored state is in memory already; its caller checks before loading it
            require_memory(scenario)
        available = numba.get_num_threads()
        wanted = max(1, scenario.run.agents // AGENTS_PER_THREAD) if threads is None else threads
        self.threads = max(1, min(wanted, available))
        coverage = coverage_table(scenario, scenario.run.days)
        if start is None:
            population = initialise(scenario)
            network = build_network(scenario.network, population.region, scenario.n_regions, scenario.run.seed)
            world = World.create(scenario, population, network, coverage)
        else:
            world = _restore_world(scenario, start, coverage)
        panel = choose_panel(world.population.outspoken, traced) if start is None else start.trace["agents"]
        self.trace = Trace(scenario, panel)
        self.credit_file = CreditFile(scenario) if scenario.score.expires else None  # CPU only (require_backend)
        if backend == "gpu":
            from trustsim.gpu.backend import device_parts  # numba.cuda is loaded for GPU runs only

            self.world, self.phases, self.today, self.metrics, self.memory_plan = device_parts(world)
            del world  # the host copy: a GPU run keeps its state on the device
        else:
            self.memory_plan = None
            self.world = world
            self.phases = (
                BehaviourPhase(scenario),  # A, MODEL.md §3
                ObservationPhase(scenario),  # B, §4
                ScoringPhase(scenario, self.credit_file),  # C, §5
                SanctionsPhase(scenario),  # D, §6
                AdaptationPhase(scenario),  # E, §7
            )
            if start is not None and self.credit_file is not None:
                self.credit_file.restore(start.credit_file)
            self.today = Day.allocate(
                scenario.run.agents, len(scenario.behaviours), scenario.n_regions, len(scenario.sanctions)
            )
            self.metrics = Metrics(scenario, scenario.run.days)
        if start is not None:
            self.metrics.restore(start.metrics, start.day, start.observed_total)
            self.trace.restore(start.trace, start.day)
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
            self.trace.record(self.world, day)
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


def require_backend(scenario: Scenario, backend: Backend, check: bool) -> None:
    """Refuse, in one line, what the chosen backend does not offer (before anything is built or written)."""
    if backend != "gpu":
        return
    if check:
        raise BackendOptionError("--check runs on the CPU backend only: drop --check or use --backend cpu")
    if scenario.score.expires:
        raise BackendOptionError(
            "score.memory = 'expiry' (a credit file) runs on the CPU backend only: use --backend cpu"
        )


def state_problems(state: SavedState, scenario: Scenario) -> list[str]:
    """Why ``state`` cannot be the state of ``scenario``'s society (empty if it can).

    Checks the name, dtype and shape of every array, and that the network's CSR arrays
    agree with each other (a bad offset or id would make the kernels read out of bounds).
    """
    n, b = scenario.run.agents, len(scenario.behaviours)
    problems = []
    if set(state.population) != set(STATE_DTYPES):
        return [f"agent arrays {sorted(state.population)} are not {sorted(STATE_DTYPES)}"]
    for name, dtype in STATE_DTYPES.items():
        values, shape = state.population[name], (b, n) if name in PER_BEHAVIOUR else (n,)
        if values.dtype != dtype or values.shape != shape:
            problems.append(
                f"agent array {name} is {values.dtype}{list(values.shape)}, not {np.dtype(dtype)}{list(shape)}"
            )
    problems += _network_problems(state, n)
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
    return problems


def _network_problems(state: SavedState, n: int) -> list[str]:
    net = state.network
    if set(net) != set(NETWORK_ARRAYS):
        return [f"network arrays {sorted(net)} are not {sorted(NETWORK_ARRAYS)}"]
    dtypes = {"src": np.int32, "dst": np.int32, "offsets": np.int64, "neighbours": np.int32, "edge_of_slot": np.int64}
    wrong = [name for name, dtype in dtypes.items() if net[name].dtype != dtype or net[name].ndim != 1]
    if wrong or state.degree.dtype != np.int32 or state.degree.shape != (n,):
        return [f"network arrays of the wrong type or shape: {wrong or ['degree']}"]
    e = net["src"].shape[0]
    offsets = net["offsets"]
    checks = {
        "offsets": offsets.shape == (n + 1,) and offsets[0] == 0 and bool(np.all(np.diff(offsets) >= 0)),
        "edge count": net["dst"].shape == (e,) and net["neighbours"].shape == net["edge_of_slot"].shape == (2 * e,),
        "row ends": offsets[-1] == 2 * e if offsets.shape == (n + 1,) else False,
        "edge ends": bool(np.all((net["src"] >= 0) & (net["src"] < net["dst"]) & (net["dst"] < n))),
        "neighbour ids": bool(np.all((net["neighbours"] >= 0) & (net["neighbours"] < n))),
        "edge ids": bool(np.all((net["edge_of_slot"] >= 0) & (net["edge_of_slot"] < e))),
    }
    if all(checks.values()):
        row = np.diff(offsets)
        checks["active degrees"] = bool(np.all((state.degree >= 0) & (state.degree <= row)))
    return [f"network {what} inconsistent" for what, fine in checks.items() if not fine]


def _restore_world(scenario: Scenario, state: SavedState, coverage: np.ndarray) -> World:
    """A world on day ``state.day`` from saved arrays (checked against the scenario first)."""
    problems = state_problems(state, scenario)
    if problems:
        raise ValueError("saved state does not fit the scenario: " + "; ".join(problems))
    population = Population(**{name: state.population[name] for name in STATE_DTYPES})
    network = Network(scenario.run.agents, *(state.network[name] for name in NETWORK_ARRAYS))
    world = World.create(scenario, population, network, coverage)
    world.degree = state.degree
    world.day = state.day
    return world
