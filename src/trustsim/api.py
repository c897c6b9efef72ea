"""The Python API: run a scenario and get its results, as a notebook user expects.

>>> import trustsim
>>> result = trustsim.run("china_scs", agents=10_000, days=30, seed=1)  # doctest: +SKIP
>>> result.metrics[["day", "score_mean", "blacklisted"]].tail()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import platform
import re
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trustsim.engine import Backend, SavedState, Simulation, require_backend
from trustsim.errors import InputFileError, RunDirectoryError, ScenarioError
from trustsim.memory import expected_edges, require_memory
from trustsim.scenario import Scenario, branch_problems, differences, load_scenario, validate
from trustsim.store import (
    MANIFEST,
    CheckpointHeader,
    RunDirectory,
    agent_table,
    checkpoints,
    default_run_dir,
    read_agents,
    read_checkpoint,
    read_checkpoint_header,
    read_manifest,
    read_metrics,
)
from trustsim.summary import headline
from trustsim.trace import DEFAULT_PANEL


def trustsim_version() -> str:
    """The installed trustsim version."""
    try:
        return version("trustsim")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Result:
    """A run: its directory, manifest and daily metrics (agents loaded on demand).

    ``complete`` is False for a run stopped early (Ctrl-C): its metrics then hold the
    days simulated so far, and ``trustsim resume`` finishes it.
    """

    run_dir: Path
    manifest: dict[str, Any]
    metrics: pd.DataFrame
    _agents: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> Result:
        """Open a run directory written earlier (complete or stopped early)."""
        run_dir = Path(run_dir)
        return cls(run_dir=run_dir, manifest=read_manifest(run_dir, finished=False), metrics=read_metrics(run_dir))

    @property
    def complete(self) -> bool:
        """Whether every day of the scenario was simulated."""
        return bool(self.manifest.get("complete"))

    @property
    def agents(self) -> pd.DataFrame:
        """The final state of every agent, or of a sample (``--agents-out``); read from ``agents.parquet`` once."""
        if self._agents is None:
            self._agents = read_agents(self.run_dir)
        return self._agents

    def summary(self) -> dict[str, float]:
        """Headline figures (see :func:`trustsim.summary.headline`)."""
        return headline(self.metrics)


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: unlike ``ru_maxrss`` it is not
    inherited from the parent across ``exec``, so a benchmark's child reports its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class RunOptions(BaseModel):
    """How a run is carried out (not what it simulates); kept in the manifest for ``resume``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    checkpoint_every: int | None = Field(default=None, ge=1, description="days between checkpoints")
    keep_checkpoints: int = Field(default=1, ge=1, description="latest checkpoints kept")
    check: bool = Field(default=False, description="invariant checks every day")
    backend: Backend = Field(default="cpu", description="where the kernels run")
    agents_out: str = Field(
        default="all", description="agents.parquet: 'all' agents, or 'sample=N' (N agents evenly spaced by id)"
    )

    @model_validator(mode="after")
    def _check_runs_on_the_cpu(self) -> RunOptions:
        if self.check and self.backend == "gpu":
            raise ValueError("--check runs on the CPU backend only: drop --check or use --backend cpu")
        return self

    @field_validator("agents_out")
    @classmethod
    def _agents_out_form(cls, value: str) -> str:
        if not re.fullmatch(r"all|sample=[1-9][0-9]*", value):
            raise ValueError("use 'all' or 'sample=N' with N a whole number of at least 1")
        return value

    def table_agents(self, n_agents: int) -> int:
        """At most how many agents ``agents.parquet`` holds (a sample adds the traced agents)."""
        ids = self.agent_ids(n_agents)
        return n_agents if ids is None else min(n_agents, ids.size + DEFAULT_PANEL)

    def agent_ids(self, n_agents: int) -> np.ndarray | None:
        """The agents written to ``agents.parquet``: ``None`` for all of them."""
        if self.agents_out == "all":
            return None
        wanted = int(self.agents_out.removeprefix("sample="))
        if wanted >= n_agents:
            return None
        return np.unique(np.linspace(0, n_agents - 1, wanted).round().astype(np.int64))

    @classmethod
    def parse(cls, values: Any, where: str) -> RunOptions:
        """Validated options; one problem per line, each prefixed with ``where`` (an option or a file)."""
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            problems = []
            for error in err.errors():
                key = ".".join(str(part) for part in error["loc"])
                message = error["msg"].replace("instance of RunOptions", "table of run options")
                message = message.removeprefix("Value error, ")
                if not key and isinstance(values, dict):  # a rule between options: its message says it all
                    problems.append(message if where == "options" else f"{where}: {message}")
                    continue
                dotted = f"options.{key}" if key else "options"
                name = f"--{key.replace('_', '-')}" if where == "options" else f"{where}: {dotted}"
                problems.append(f"{name}: {message[0].lower() + message[1:]} (got {error.get('input')!r})")
            raise ScenarioError(problems) from None


def run(
    scenario: str | Path | Scenario,
    *,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    on_day: Callable[[int], None] | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 1,
    check: bool = False,
    start_from: str | Path | None = None,
    on_start: Callable[[Scenario, int], None] | None = None,
    backend: str = "cpu",
    agents_out: str = "all",
    on_plan: Callable[[list[str]], None] | None = None,
) -> Result:
    """Run a scenario (shipped name, TOML path or loaded :class:`Scenario`) and write its run directory.

    ``overrides`` are ``"dotted.key=value"`` strings as for ``trustsim run --set``.
    ``on_start(scenario, days_done)`` is called once the run is set up and ``on_day(t)``
    after each simulated day (progress bars). Every ``checkpoint_every`` days the full
    state is saved in ``checkpoints/`` (the ``keep_checkpoints`` latest are kept), so
    that :func:`resume` can finish the run after a crash. ``check`` runs the invariant
    checks of :mod:`trustsim.checks` every day. ``start_from`` (a checkpoint file)
    continues that saved society under this scenario's policy: a branch, with the same
    random draws as the saved run's own continuation (common random numbers);
    ``agents`` and ``seed`` then default to the checkpoint's, and ``days`` is the total
    length including the days already done.

    ``backend`` is ``"cpu"`` or ``"gpu"`` (numba-cuda kernels on an NVIDIA GPU, the same
    draws; ``on_plan(lines)`` then receives the GPU memory plan before the first day).
    ``agents_out`` is ``"all"`` or ``"sample=N"``: ``agents.parquet`` then holds N
    agents evenly spaced by id (for populations whose table would not fit in memory).

    Ctrl-C (or SIGTERM) stops the run at the end of the day: the days done are written,
    the state is saved as a checkpoint, the manifest says ``"complete": false`` and the
    returned result's ``complete`` is False; a second Ctrl-C stops it at once.
    """
    options = RunOptions.parse(
        {
            "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints, "check": check,
            "backend": backend, "agents_out": agents_out,
        },
        "options",
    )  # fmt: skip
    branch: dict[str, Any] | None = None
    start: SavedState | None = None
    if isinstance(scenario, Scenario):
        if overrides or agents or days or seed is not None or start_from is not None:
            raise TypeError("pass overrides to load_scenario when giving a Scenario object")
        resolved = scenario
    elif start_from is None:
        resolved = load_scenario(scenario, overrides=overrides, agents=agents, days=days, seed=seed)
    else:
        header = read_checkpoint_header(start_from)
        resolved, branch = _branch(scenario, header, start_from, overrides, agents, days, seed)
    # Before the run directory exists, and before a checkpoint's arrays are loaded.
    table = options.table_agents(resolved.run.agents)
    if start_from is None:
        require_memory(resolved, table_agents=table)
    else:
        require_memory(resolved, edges=header.edges, restoring=True, table_agents=table)
    if options.backend == "gpu":
        require_gpu_room(resolved, header.edges if start_from is not None else None)
    if start_from is not None:
        # The branch's own first checkpoint: it resumes without its parent run.
        start = replace(read_checkpoint(start_from), scenario=resolved.resolved())
    manifest = _manifest(resolved, options, branch)
    with RunDirectory.create(Path(out) if out is not None else default_run_dir(resolved)) as directory:
        directory.write_manifest(manifest)
        if start is not None:
            directory.save_checkpoint(start, options.keep_checkpoints)
        return _execute(resolved, options, directory, manifest, start, (on_start, on_day, on_plan))


def resume(
    run_dir: str | Path,
    *,
    on_start: Callable[[Scenario, int], None] | None = None,
    on_day: Callable[[int], None] | None = None,
    on_plan: Callable[[list[str]], None] | None = None,
    backend: str | None = None,
) -> Result:
    """Finish a run that was stopped or killed, from its latest readable checkpoint (or from its start).

    The run goes on with the options it was started with; its metrics and agents come
    out identical, bit for bit, to those of the same run done without interruption.
    ``backend`` ("cpu" or "gpu") finishes it on another backend than it started on.
    """
    with RunDirectory.open(Path(run_dir)) as directory:
        manifest = directory.read_manifest()
        scenario, options = _recorded_run(manifest, directory.path)
        if backend is not None and backend != options.backend:
            options = RunOptions.parse(options.model_dump() | {"backend": backend}, "options")
            manifest["options"], manifest["backend"] = options.model_dump(), options.backend
        if manifest.get("complete"):
            raise RunDirectoryError(f"{run_dir}: the run is complete already; nothing to resume")
        directory.remove_temporary_files()
        header, path = _latest_readable_checkpoint(directory.path, scenario)
        table = options.table_agents(scenario.run.agents)
        if header is None:
            require_memory(scenario, table_agents=table)
        else:
            require_memory(scenario, edges=header.edges, restoring=True, table_agents=table)
        if options.backend == "gpu":
            require_gpu_room(scenario, header.edges if header is not None else None)
        start = None if path is None else read_checkpoint(path)
        manifest.pop("error", None)
        manifest.setdefault("resumed", []).append(
            {"from_day": start.day if start else 0, "at": datetime.now(UTC).isoformat()}
        )
        manifest["status"] = "running"
        directory.write_manifest(manifest)
        return _execute(scenario, options, directory, manifest, start, (on_start, on_day, on_plan))


def save_simulation(simulation: Simulation, out: str | Path) -> Result:
    """Save a simulation stepped by hand (a notebook, the dashboard) as a normal run directory.

    ``out`` must not exist yet. It receives the manifest, ``metrics.parquet`` of the days
    simulated, ``agents.parquet`` and ``trace.parquet``; an unfinished simulation is saved
    as ``interrupted`` with a checkpoint, so that ``trustsim resume OUT`` finishes it.
    """
    options = RunOptions(backend=simulation.backend)
    manifest = _manifest(simulation.scenario, options, None)
    manifest.update(saved_from="a simulation stepped through the Python API", threads=simulation.threads)
    manifest["traced_agents"] = int(simulation.trace.agents.size)
    with RunDirectory.create(Path(out)) as directory:
        directory.write_manifest(manifest)  # first, so that a save killed half-way leaves a recognisable run
        try:
            writing = time.perf_counter()
            if not simulation.finished:
                directory.save_checkpoint(simulation.saved_state(), options.keep_checkpoints)
            metrics = _write_outcome(directory, simulation, manifest, {"build": 0.0, "simulate": 0.0}, writing)
        except BaseException as err:
            _record_failure(directory, manifest, err)
            raise
    return Result(run_dir=directory.path, manifest=manifest, metrics=metrics)


def require_gpu_room(scenario: Scenario, edges: int | None) -> None:
    """Refuse a GPU run, before anything is written, where no GPU is usable or its memory is too small."""
    from trustsim.gpu import require_gpu  # numba.cuda is loaded for GPU runs only
    from trustsim.gpu.metrics import require_countable
    from trustsim.gpu.plan import memory_plan

    require_backend(scenario, "gpu", check=False)
    require_countable(scenario)
    name, free = require_gpu()
    planned_edges = expected_edges(scenario, scenario.run.agents) if edges is None else edges
    memory_plan(scenario, planned_edges, free, name).require()


def _recorded_run(manifest: Any, run_dir: Path) -> tuple[Scenario, RunOptions]:
    """The scenario and options a manifest records, or a one-line error saying what is wrong with it."""
    where = run_dir / MANIFEST
    if not isinstance(manifest, dict) or not isinstance(manifest.get("scenario"), dict):
        raise RunDirectoryError(f"{where}: no resolved scenario in it; it was edited or not written by trustsim")
    try:
        scenario = validate(manifest["scenario"])
    except ScenarioError as err:
        raise ScenarioError([f"{where}: scenario.{problem}" for problem in err.problems]) from None
    return scenario, RunOptions.parse(manifest.get("options"), str(where))


def _latest_readable_checkpoint(run_dir: Path, scenario: Scenario) -> tuple[CheckpointHeader | None, Path | None]:
    """The newest checkpoint that reads and belongs to ``scenario``; skips damaged ones, if older ones exist."""
    saved = checkpoints(run_dir)
    problems = []
    for path in reversed(saved):
        try:
            header = read_checkpoint_header(path)
        except InputFileError as err:
            problems.append(str(err))
            continue
        if differences(header.scenario.resolved(), scenario.resolved()):
            problems.append(f"{path}: belongs to another scenario than this run")
            continue
        return header, path
    if saved:
        raise RunDirectoryError(f"{problems[0]}; no readable checkpoint of this run is left; remove them to start over")
    return None, None


def _branch(
    source: str | Path,
    header: CheckpointHeader,
    start_from: str | Path,
    overrides: Sequence[str],
    agents: int | None,
    days: int | None,
    seed: int | None,
) -> tuple[Scenario, dict[str, Any]]:
    saved = header.scenario
    agents = saved.run.agents if agents is None else agents
    seed = saved.run.seed if seed is None else seed
    resolved = load_scenario(source, overrides=overrides, agents=agents, days=days, seed=seed)
    problems = branch_problems(saved.resolved(), resolved, header.day)
    if problems:
        raise ScenarioError(problems)
    changed = differences(saved.resolved(), resolved.resolved())
    changed.pop("run.days", None)
    branch = {"from": str(Path(start_from).resolve()), "day": header.day, "parent": saved.name, "changed": changed}
    return resolved, branch


def _manifest(scenario: Scenario, options: RunOptions, branch: dict[str, Any] | None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "trustsim_version": trustsim_version(),
        "complete": False,
        "status": "running",
        "scenario_name": scenario.name,
        "seed": scenario.run.seed,
        "agents": scenario.run.agents,
        "days": scenario.run.days,
        "days_done": 0,
        "backend": options.backend,
        "options": options.model_dump(),
        "started": datetime.now(UTC).isoformat(),
        "platform": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
        "scenario": scenario.resolved(),
    }
    if branch is not None:
        manifest["branch"] = branch
    return manifest


class _StopRequest:
    """While a run goes on, Ctrl-C or SIGTERM asks it to stop at the end of the day; a second stops it at once.

    Installed for the whole run (building, stepping, writing), so that one Ctrl-C while
    the results are written lets them be written.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def _execute(
    scenario: Scenario,
    options: RunOptions,
    directory: RunDirectory,
    manifest: dict[str, Any],
    start: SavedState | None,
    hooks: tuple[
        Callable[[Scenario, int], None] | None, Callable[[int], None] | None, Callable[[list[str]], None] | None
    ],
) -> Result:
    on_start, on_day, on_plan = hooks
    clock = time.perf_counter()
    with _StopRequest() as stop:
        try:
            simulation = Simulation(scenario, check=options.check, start=start, backend=options.backend)
            if simulation.memory_plan is not None:
                manifest["gpu"] = simulation.memory_plan.summary()
                if on_plan is not None:
                    on_plan(simulation.memory_plan.lines())
            manifest["threads"] = simulation.threads
            manifest["traced_agents"] = int(simulation.trace.agents.size)
            built = time.perf_counter()
            if on_start is not None:
                on_start(scenario, simulation.days_done)
            _advance(simulation, directory, stop, on_day, options)
            simulated = time.perf_counter()
            stopped = not simulation.finished
            every = options.checkpoint_every
            if stopped and (every is None or simulation.days_done % every):  # not saved by _advance already
                directory.save_checkpoint(simulation.saved_state(), options.keep_checkpoints)
            seconds = {"build": built - clock, "simulate": simulated - built}
            metrics = _write_outcome(directory, simulation, manifest, seconds, simulated)
        except BaseException as err:
            _record_failure(directory, manifest, err)
            raise
    return Result(run_dir=directory.path, manifest=manifest, metrics=metrics)


def _write_outcome(
    directory: RunDirectory, simulation: Simulation, manifest: dict[str, Any], seconds: dict[str, float], since: float
) -> pd.DataFrame:
    """Write the metrics, agent and trace tables, then the manifest saying how the run ended; the metrics.

    ``seconds`` are the wall times so far; writing is timed from ``since``.
    """
    metrics = simulation.metrics.frame()
    options = RunOptions.model_validate(manifest["options"])
    ids = options.agent_ids(simulation.scenario.run.agents)
    if ids is not None:  # the traced agents too: the report's story reads their rows
        ids = np.union1d(ids, simulation.trace.agents)
    population, degree = simulation.agent_state(ids)
    agents = agent_table(population, simulation.scenario, degree, ids)
    manifest["agents_table"] = (
        "every agent"
        if ids is None
        else f"a sample of {ids.size:,} agents: {options.agents_out} evenly spaced by id, and the traced agents"
    )
    directory.write_results(metrics, agents, simulation.trace.frame(simulation.days_done))
    manifest.update(
        complete=simulation.finished,
        status="complete" if simulation.finished else "interrupted",
        days_done=simulation.days_done,
        finished=datetime.now(UTC).isoformat(),
        wall_seconds=seconds | {"write": time.perf_counter() - since},
        peak_memory_bytes=peak_memory_bytes(),
    )
    directory.write_manifest(manifest)
    return metrics


def _advance(
    simulation: Simulation,
    directory: RunDirectory,
    stop: _StopRequest,
    on_day: Callable[[int], None] | None,
    options: RunOptions,
) -> None:
    """Step to the end, saving checkpoints, unless a stop is requested."""
    while not simulation.finished:
        simulation.step()
        done = simulation.days_done
        if on_day is not None:
            try:
                on_day(done - 1)
            except KeyboardInterrupt:  # from the callback, between two days: a clean stop
                stop.requested = True
        if options.checkpoint_every is not None and done % options.checkpoint_every == 0:
            directory.save_checkpoint(simulation.saved_state(), options.keep_checkpoints)
        if stop.requested:
            return


def _record_failure(directory: RunDirectory, manifest: dict[str, Any], err: BaseException) -> None:
    """Mark the manifest failed (or aborted), best effort: the disk may be what failed."""
    manifest["complete"] = False
    manifest["status"] = "aborted" if isinstance(err, KeyboardInterrupt) else "failed"
    manifest["error"] = (str(err).splitlines() or [type(err).__name__])[0]
    with contextlib.suppress(RunDirectoryError):
        directory.write_manifest(manifest)
