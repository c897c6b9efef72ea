"""Running a scenario from Python: run, resume, and save a simulation stepped by hand.

>>> import trustsim
>>> result = trustsim.run("china_scs", agents=10_000, days=30, seed=1)  # doctest: +SKIP
>>> result.metrics[["day", "score_mean", "blacklisted"]].tail()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustsim.api.manifest import new_manifest, peak_memory_bytes, record_failure
from trustsim.api.options import RunOptions
from trustsim.api.results import Result
from trustsim.api.stopping import StopRequest
from trustsim.compilation import warm_up
from trustsim.engine import SavedState, Simulation
from trustsim.errors import InputFileError, RunDirectoryError, ScenarioError
from trustsim.memory import MemoryEstimate
from trustsim.preflight import preflight
from trustsim.scenario import Scenario, branch_problems, differences, load_scenario, validate
from trustsim.store import (
    MANIFEST,
    CheckpointHeader,
    RunDirectory,
    agent_batches,
    checkpoints,
    default_run_dir,
    read_checkpoint,
    read_checkpoint_header,
)


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
    on_compile: Callable[[], None] | None = None,
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
    ``on_compile()`` is called before a CPU run compiles its kernels (or loads them from
    numba's cache: :mod:`trustsim.compilation`); the manifest's ``wall_seconds`` give that
    time as ``compile``, apart from ``build`` and ``simulate``.

    Ctrl-C (or SIGTERM) stops the run at the end of the day: the days done are written,
    the state is saved as a checkpoint, the manifest says ``"complete": false`` and the
    returned result's ``complete`` is False; a second Ctrl-C stops it at once.
    """
    options = RunOptions.parse({
        "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints, "check": check,
        "backend": backend, "agents_out": agents_out,
    })  # fmt: skip
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
    needed = _preflight(resolved, options, header if start_from is not None else None)
    if start_from is not None:
        # The branch's own first checkpoint: it resumes without its parent run.
        start = replace(read_checkpoint(start_from), scenario=resolved.resolved())
    manifest = new_manifest(resolved, options, branch)
    manifest["memory"] = needed.summary()
    with RunDirectory.create(Path(out) if out is not None else default_run_dir(resolved)) as directory:
        directory.write_manifest(manifest)
        if start is not None:
            directory.save_checkpoint(start, options.keep_checkpoints)
        return _execute(resolved, options, directory, manifest, start, (on_start, on_day, on_plan, on_compile))


def resume(
    run_dir: str | Path,
    *,
    on_start: Callable[[Scenario, int], None] | None = None,
    on_day: Callable[[int], None] | None = None,
    on_plan: Callable[[list[str]], None] | None = None,
    backend: str | None = None,
    on_compile: Callable[[], None] | None = None,
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
            options = RunOptions.parse(options.model_dump() | {"backend": backend})
            manifest["options"], manifest["backend"] = options.model_dump(), options.backend
        if manifest.get("complete"):
            raise RunDirectoryError(f"{run_dir}: the run is complete already; nothing to resume")
        directory.remove_temporary_files()
        header, path = _latest_readable_checkpoint(directory.path, scenario)
        manifest["memory"] = _preflight(scenario, options, header).summary()
        start = None if path is None else read_checkpoint(path)
        manifest.pop("error", None)
        manifest.setdefault("resumed", []).append(
            {"from_day": start.day if start else 0, "at": datetime.now(UTC).isoformat()}
        )
        manifest["status"] = "running"
        directory.write_manifest(manifest)
        return _execute(scenario, options, directory, manifest, start, (on_start, on_day, on_plan, on_compile))


def save_simulation(simulation: Simulation, out: str | Path) -> Result:
    """Save a simulation stepped by hand (a notebook, the dashboard) as a normal run directory.

    ``out`` must not exist yet. It receives the manifest, ``metrics.parquet`` of the days
    simulated, ``agents.parquet`` and ``trace.parquet``; an unfinished simulation is saved
    as ``interrupted`` with a checkpoint, so that ``trustsim resume OUT`` finishes it.
    """
    options = RunOptions(backend=simulation.backend)
    manifest = new_manifest(simulation.scenario, options, None)
    manifest.update(saved_from="a simulation stepped through the Python API", threads=simulation.threads)
    manifest["traced_agents"] = int(simulation.trace.agents.size)
    with RunDirectory.create(Path(out)) as directory:
        directory.write_manifest(manifest)  # first, so that a save killed half-way leaves a recognisable run
        try:
            writing = time.perf_counter()
            if not simulation.finished:
                directory.save_checkpoint(simulation.saved_state(), options.keep_checkpoints)
            metrics = _write_outcome(directory, simulation, manifest, {"compile": 0.0, "build": 0.0, "simulate": 0.0},
                                     writing)  # fmt: skip
        except BaseException as err:
            record_failure(directory, manifest, err)
            raise
    return Result(run_dir=directory.path, manifest=manifest, metrics=metrics)


def _preflight(scenario: Scenario, options: RunOptions, checkpoint: CheckpointHeader | None) -> MemoryEstimate:
    """:func:`trustsim.preflight.preflight` for a run with these options, from scratch or from ``checkpoint``."""
    return preflight(
        scenario, backend=options.backend, check=options.check, table_agents=options.table_agents(scenario.run.agents),
        edges=None if checkpoint is None else checkpoint.edges, restoring=checkpoint is not None,
    )  # fmt: skip


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


def _execute(
    scenario: Scenario,
    options: RunOptions,
    directory: RunDirectory,
    manifest: dict[str, Any],
    start: SavedState | None,
    hooks: tuple[
        Callable[[Scenario, int], None] | None,
        Callable[[int], None] | None,
        Callable[[list[str]], None] | None,
        Callable[[], None] | None,
    ],
) -> Result:
    on_start, on_day, on_plan, on_compile = hooks
    with StopRequest() as stop:
        try:
            compiling = 0.0
            if options.backend == "cpu":
                if on_compile is not None:
                    on_compile()
                compiling = warm_up(scenario)
            clock = time.perf_counter()
            simulation = Simulation(scenario, check=options.check, start=start, backend=options.backend,
                                    preflighted=True)  # fmt: skip
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
            seconds = {"compile": compiling, "build": built - clock, "simulate": simulated - built}
            metrics = _write_outcome(directory, simulation, manifest, seconds, simulated)
        except BaseException as err:
            record_failure(directory, manifest, err)
            raise
    return Result(run_dir=directory.path, manifest=manifest, metrics=metrics)


def _write_outcome(
    directory: RunDirectory, simulation: Simulation, manifest: dict[str, Any], seconds: dict[str, float], since: float
) -> pd.DataFrame:
    """Write the metrics, agent, trace and groups tables, then the manifest saying how the run ended; the metrics.

    ``seconds`` are the wall times so far; writing is timed from ``since``.
    """
    metrics = simulation.metrics.frame()
    options = RunOptions.model_validate(manifest["options"])
    ids = options.agent_ids(simulation.scenario.run.agents)
    if ids is not None:  # the traced agents too: the report's story reads their rows
        ids = np.union1d(ids, simulation.trace.agents)
    population, degree = simulation.agent_state(ids)
    agents = agent_batches(population, simulation.scenario, degree, ids, simulation.households)
    manifest["agents_table"] = (
        "every agent"
        if ids is None
        else f"a sample of {ids.size:,} agents: {options.agents_out} evenly spaced by id, and the traced agents"
    )
    directory.write_results(metrics, agents, simulation.trace.frame(simulation.days_done), simulation.groups.frame())
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
    stop: StopRequest,
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
