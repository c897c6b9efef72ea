"""The experiment commands from Python: compare, sweep, sensitivity and query, returning tidy DataFrames.

Every function writes an experiment directory (see :mod:`trustsim.experiments.catalog`)
and runs through Dask (:mod:`trustsim.experiments.execution`). Calling a function again
with the same arguments resumes the experiment: by default its directory is named
after a hash of the design, so the same command finds it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustsim.disparity import Quantity, is_quantity
from trustsim.errors import ScenarioError, TrustsimError
from trustsim.experiments.analysis import (
    HEADLINE_NAMES,
    SENSITIVITY_METRICS,
    compared_metrics,
    paired_differences,
    sample,
    sensitivity_indices,
)
from trustsim.experiments.calibration import Calibration, calibrated_raw, extends_reference
from trustsim.experiments.calibration import Plan as CalibrationPlan
from trustsim.experiments.calibration import calibrate as run_calibration
from trustsim.experiments.calibration import plan as calibration_plan
from trustsim.experiments.catalog import ExperimentStore, read_run_groups
from trustsim.experiments.catalog import query as query_catalog
from trustsim.experiments.design import RunSpec, factorial, paired, parse_levels, parse_range, seeds
from trustsim.experiments.execution import dask_client, execute, run_overrides
from trustsim.groups import dimensions
from trustsim.scenario import (
    first_problem,
    leaves,
    parse_assignment,
    read_raw,
    scenario_from_raw,
    set_path,
    shipped_scenarios,
    society_changes,
    with_parent,
)
from trustsim.store import atomic_write

Progress = Callable[[int, int], None]


class ExperimentError(TrustsimError):
    """An experiment whose runs cannot be analysed (e.g. too many failed)."""


def sweep(
    scenario: str,
    settings: Sequence[str],
    reps: int = 1,
    *,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    metrics: Sequence[str] = (),
    out: str | Path | None = None,
    jobs: int | None = None,
    cluster: str | None = None,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """The full factorial of ``settings`` (``"key=start:stop:step"`` or ``"key=v1,v2,…"``) × ``reps`` seeds.

    Returns the catalog: one row per run, with its parameters, status, headline metrics and
    the groups quantities of ``metrics`` (e.g. ``"gap:ever_wrongly_sanctioned:income_quintile"``,
    :mod:`trustsim.disparity`).
    """
    base, first_seed = _base(scenario, overrides, agents, days, seed)
    quantities = _quantities(metrics, [base], agents, days)
    levels = [parse_levels(text) for text in settings]
    specs = factorial(scenario, levels, seeds(first_seed, reps))
    _check_settings(base, [spec for spec in specs if spec.rep == 0], (agents, days))
    design = _design("sweep", {scenario: base}, overrides, agents, days, first_seed, reps, settings=list(settings),
                     **_asked(metrics))  # fmt: skip
    parameters = {key: _column_example(values) for key, values in levels}
    return _run(design, specs, {scenario: base}, parameters, (agents, days), out, jobs, cluster, on_progress,
                quantities)  # fmt: skip


def compare(
    a: str,
    b: str | None = None,
    reps: int = 10,
    *,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    b_changes: Sequence[str] = (),
    independent: bool = False,
    metrics: Sequence[str] = (),
    out: str | Path | None = None,
    jobs: int | None = None,
    cluster: str | None = None,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Run scenarios ``a`` and ``b`` on the same ``reps`` seeds and return B − A per headline metric, with 95% CIs.

    With common random numbers (docs/model.md §9) the replicate pairs share every draw that
    the policy difference does not change, so the paired interval is narrow;
    ``independent=True`` gives B its own seeds (for teaching the difference). The groups
    quantities of ``metrics`` (:mod:`trustsim.disparity`) are compared after the headline metrics.

    ``b_changes`` (``KEY=VALUE``, the command line's ``--b-set``) are applied to B after
    ``overrides``; B may then be left out, to compare A with itself so changed, a what-if
    without a scenario file. B is then named after its changes (:func:`variant_name`).
    """
    if reps < 2:
        raise ExperimentError(f"--reps: a confidence interval needs at least 2 replicates (got {reps})")
    if b is None and not b_changes:
        raise ExperimentError("compare: give scenario B, or B's changes to A with --b-set KEY=VALUE")
    source_b = a if b is None else b
    name_b = variant_name(source_b, b_changes)
    base_a, first_seed = _base(a, overrides, agents, days, seed)
    base_b, _ = _base(source_b, overrides, agents, days, seed, b_changes)
    quantities = _quantities(metrics, [base_a, base_b], agents, days)
    specs = paired([a, name_b], seeds(first_seed, reps), independent=independent)
    bases = {a: base_a, name_b: base_b}
    variant = {"b_changes": list(b_changes)} if b_changes else {}
    design = _design("compare", bases, overrides, agents, days, first_seed, reps, independent=independent,
                     **variant, **_asked(metrics))  # fmt: skip
    runs = _run(design, specs, bases, {}, (agents, days), out, jobs, cluster, on_progress, quantities)
    table = comparison_table(runs, independent, list(metrics))
    table.attrs["society_differs"] = society_differs(base_a, base_b, agents, days, seed)
    return table


def variant_name(scenario: str, changes: Sequence[str]) -> str:
    """A scenario's name with ``changes`` (``KEY=VALUE``) made to it: ``china_scs with score.contagion=0``."""
    return f"{scenario} with {', '.join(change.strip() for change in changes)}" if changes else scenario


def society_differs(raw_a: dict[str, Any], raw_b: dict[str, Any], agents: int | None, days: int | None,
                    seed: int | None) -> list[str]:  # fmt: skip
    """What of the society (size, regions, population, network) or the run's length differs between two scenarios."""
    a, b = (scenario_from_raw(raw, agents=agents, days=days, seed=seed).resolved() for raw in (raw_a, raw_b))
    parts = set(society_changes(a, b))
    if a["run"]["days"] != b["run"]["days"]:
        parts.add("run.days")
    return sorted(parts)


def comparison_table(runs: pd.DataFrame, independent: bool, quantities: Sequence[str] = ()) -> pd.DataFrame:
    """B − A per headline metric, then per groups quantity, from a comparison's catalog (runs ``s0-*`` are A's,
    ``s1-*`` B's)."""
    done = runs[runs["status"] == "done"]
    first, second = (done[done["run_id"].str.startswith(p)].sort_values("rep") for p in ("s0-", "s1-"))
    if not independent:  # pair replicate r of A with replicate r of B: drop a replicate missing on one side
        common = sorted(set(first["rep"]) & set(second["rep"]))
        first, second = (x[x["rep"].isin(common)] for x in (first, second))
    if len(first) < 2 or len(second) < 2:
        raise ExperimentError(f"compare: fewer than 2 finished runs of each scenario in {runs.attrs.get('folder')}")
    compared = compared_metrics(list(runs.columns)) + [q for q in quantities if q in runs.columns]
    table = paired_differences(first, second, compared, paired=not independent)
    table.attrs["folder"] = runs.attrs.get("folder")
    return table


def sensitivity(
    scenario: str,
    vary: Sequence[str],
    *,
    method: str = "sobol",
    samples: int = 64,
    metrics: Sequence[str] | None = None,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    jobs: int | None = None,
    cluster: str | None = None,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """Global sensitivity (SALib) of ``metrics`` to the ``vary`` ranges (``"key=lo:hi"``).

    ``method`` is ``sobol`` (first- and total-order indices, N·(D+2) runs) or ``morris``
    (μ* and σ, N·(D+1) runs), N = ``samples``. Every run uses the same seed (common random
    numbers), so the indices measure the parameters, not the draws. ``metrics`` are headline
    metrics or groups quantities (:mod:`trustsim.disparity`; default: ever wrongly sanctioned,
    blacklisted, chilling effect, isolated). Returns one row per (metric, parameter).
    """
    if method not in ("sobol", "morris"):
        raise ExperimentError(f"--method: {method!r} is not sobol or morris")
    if samples < 1:
        raise ExperimentError(f"--samples: must be at least 1 (got {samples})")
    base, first_seed = _base(scenario, overrides, agents, days, seed)
    asked = _asked(metrics or ())
    metrics = list(metrics or SENSITIVITY_METRICS)
    quantities = _quantities(metrics, [base], agents, days, headline=True)
    known = set(HEADLINE_NAMES) | {f"denials_{name}" for name in scenario_from_raw(base).sanctions}
    unknown = [m for m in metrics if m not in known and not is_quantity(m)]
    if unknown:
        raise ExperimentError(f"--metric {unknown[0]!r}: not a headline metric or groups quantity; choose from "
                              f"{', '.join(sorted(known))}, or disparity:COLUMN:DIMENSION …")  # fmt: skip
    ranges = [parse_range(text) for text in vary]
    design = _design("sensitivity", {scenario: base}, overrides, agents, days, first_seed, 1,
                     vary=list(vary), method=method, samples=samples, **asked)  # fmt: skip
    problem, points = sensitivity_problem(design)
    specs, parameters = _points_as_runs(scenario, base, problem["names"], points, first_seed)
    bounds = np.array([[low for _, low, _ in ranges], [high for _, _, high in ranges]])
    corners, _ = _points_as_runs(scenario, base, problem["names"], bounds, first_seed)
    _check_settings(base, corners, (agents, days), every=True)
    runs = _run(design, specs, {scenario: base}, parameters, (agents, days), out, jobs, cluster, on_progress,
                quantities)  # fmt: skip
    return sensitivity_table(runs, design, metrics)


def sensitivity_problem(design: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
    """The SALib problem of a sensitivity design and its sample points (the same every time: seeded)."""
    ranges = [parse_range(text) for text in design["vary"]]
    problem = {"num_vars": len(ranges), "names": [k for k, _, _ in ranges], "bounds": [[a, b] for _, a, b in ranges]}
    return problem, sample(problem, design["method"], design["samples"], seed=design["seed"])


def sensitivity_table(runs: pd.DataFrame, design: dict[str, Any], metrics: Sequence[str]) -> pd.DataFrame:
    """Sensitivity indices of ``metrics`` from a sensitivity experiment's catalog, one row per (metric, parameter)."""
    failed = runs[runs["status"] != "done"]
    if len(failed):
        raise ExperimentError(
            f"sensitivity: {len(failed)} of {len(runs)} runs failed (first: {failed['error'].iloc[0]}); "
            f"see the catalog in {runs.attrs.get('folder')}"
        )
    problem, points = sensitivity_problem(design)
    if len(runs) != len(points):
        raise ExperimentError(
            f"sensitivity: {len(runs)} of {len(points)} runs finished in {runs.attrs.get('folder')}; "
            "repeat the command to run the others"
        )
    frames = []
    for metric in metrics:
        if metric not in runs.columns:
            raise ExperimentError(f"--metric {metric!r}: not a headline metric or groups quantity of these runs; "
                                  "choose from the catalog's columns")  # fmt: skip
        outputs = runs.sort_values("run_id")[metric].to_numpy(float)
        frame = sensitivity_indices(problem, points, outputs, design["method"], seed=design["seed"])
        frame.insert(0, "metric", metric)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.attrs["folder"] = runs.attrs.get("folder")
    return table


def quantity_figures(groups: pd.DataFrame, quantities: Sequence[Quantity]) -> dict[str, float]:
    """Each groups quantity of one run (its groups rows), by the quantity's text."""
    return {quantity.text: quantity.of(groups) for quantity in quantities}


def _quantities(
    metrics: Sequence[str], bases: list[dict[str, Any]], agents: int | None, days: int | None, headline: bool = False
) -> list[Quantity]:
    """The groups quantities among ``metrics``, checked against the scenarios before any run (one of them must have
    each quantity's dimension and group: the other's runs give NaN). With ``headline``, the other metrics are
    headline metrics, checked by the caller; without, every metric must be a quantity."""
    choices = [dimensions(scenario_from_raw(base, agents=agents, days=days)) for base in bases]
    quantities = []
    for text in metrics:
        if not is_quantity(text):
            if headline:
                continue
            raise ExperimentError(
                f"--metric {text!r}: every headline metric is reported already; --metric adds a groups quantity, "
                "e.g. gap:ever_wrongly_sanctioned:income_quintile (docs/experiments.md)"
            )
        try:
            quantity = Quantity.parse(text)
            problems = []
            for dims in choices:
                try:
                    quantity.check(dims)
                except ValueError as err:
                    problems.append(str(err))
            if len(problems) == len(choices):
                raise ValueError(problems[0])
        except ValueError as err:
            raise ExperimentError(f"--metric {err}") from None
        quantities.append(quantity)
    return quantities


def _asked(metrics: Sequence[str]) -> dict[str, Any]:
    """The design's record of the metrics asked for (none when none were: older designs stay the same)."""
    return {"metrics": list(metrics)} if metrics else {}


def _column_example(values: list[Any]) -> Any:
    """A value whose type suits every level (a float if any level is one), for the catalog's column type."""
    if all(isinstance(v, bool) for v in values) or all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return values[0]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return 0.0
    return ""


def _points_as_runs(
    scenario: str, base: dict[str, Any], names: list[str], points: np.ndarray, seed: int
) -> tuple[list[RunSpec], dict[str, Any]]:
    """One run per sample point; parameters whose base value is an integer are rounded."""
    values = leaves(base)
    whole = [isinstance(values.get(key), int) and not isinstance(values.get(key), bool) for key in names]
    specs = []
    for i, row in enumerate(points):
        settings = tuple(
            (key, round(v) if is_int else float(v)) for key, v, is_int in zip(names, row, whole, strict=True)
        )
        specs.append(RunSpec(f"x{i:06d}", scenario, settings, seed, 0))
    return specs, {key: 0 if is_int else 0.0 for key, is_int in zip(names, whole, strict=True)}


def calibrate(
    scenario: str,
    targets: Sequence[str],
    vary: Sequence[str] = (),
    *,
    population: float | None = None,
    budget: int = 40,
    reps: int = 3,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    name: str | None = None,
    description: str | None = None,
    write: str | Path | None = None,
    out: str | Path | None = None,
    jobs: int | None = None,
    cluster: str | None = None,
    on_progress: Progress | None = None,
) -> Calibration:
    """Find values of the ``vary`` parameters (``"key=lo:hi"``) that make ``scenario`` reproduce ``targets``.

    ``targets`` are ``"NAME=VALUE"`` yearly figures for ``population`` people (default: the
    simulated agents), or ``"QUANTITY=VALUE"`` groups quantities at the runs' end
    (:mod:`trustsim.disparity`); see :mod:`trustsim.experiments.calibration`. ``budget`` trials of
    ``reps`` seeds each are run; the best values, each target's fit and the trials come
    back, and the calibrated scenario is written to ``write`` (default ``NAME.toml``, with
    NAME ``<scenario>_calibrated``). Without ``vary`` the scenario is only scored, on
    ``reps`` seeds, and nothing is written unless ``write`` is given.
    """
    base, first_seed = _base(scenario, overrides, agents, days, seed)
    design = _design("calibrate", {scenario: base}, overrides, agents, days, first_seed, reps,
                     targets=list(targets), vary=list(vary), population=population)  # fmt: skip
    checked = calibration_plan(scenario, base, targets, vary, population=population, reps=reps, agents=agents,
                               days=days, seed=seed, design=design)  # fmt: skip
    name = name or f"{Path(scenario).stem}_calibrated"
    target_file = Path(write) if write is not None else (Path(f"{name}.toml") if vary else None)
    _check_output(base, name, target_file)
    folder = Path(out) if out is not None else default_folder(design)
    outcome = run_calibration(checked, budget, folder, sizes=(agents, days), jobs=jobs, cluster=cluster,
                              on_progress=on_progress)  # fmt: skip
    if target_file is not None:
        text = calibration_file(checked, outcome, overrides, name, description, target_file,
                                (agents, days, seed), budget)  # fmt: skip
        atomic_write(target_file, lambda path: path.write_text(text))
        outcome.written = target_file
    return outcome


def _check_output(base: dict[str, Any], name: str, target_file: Path | None) -> None:
    """Refuse a bad --name or --write before any run (a calibration may take hours)."""
    try:
        scenario_from_raw(base, overrides=[f"name={json.dumps(name)}"])
    except ScenarioError as err:
        raise ScenarioError([f"--name {name!r}: {err.problems[0].removeprefix('name: ')}"]) from None
    if target_file is not None and not target_file.resolve().parent.is_dir():
        raise ExperimentError(
            f"--write {target_file}: its folder {target_file.parent} does not exist; create it or write elsewhere"
        )


def calibration_file(
    plan: CalibrationPlan, outcome: Calibration, overrides: Sequence[str], name: str, description: str | None,
    target_file: Path, sizes: tuple[int | None, int | None, int | None], budget: int,
) -> str:  # fmt: skip
    """The calibrated scenario as TOML text, headed by the command that regenerates it and the fits."""
    import tomli_w

    extends = extends_reference(plan.scenario, target_file, list(shipped_scenarios()))
    fitted = ", ".join(f"{key} = {value:.6g}" for key, value in outcome.best.items())
    description = description or f"{plan.scenario} calibrated to {', '.join(t.name for t in plan.targets)}"
    table = calibrated_raw(plan, outcome.best, overrides, name, description, extends, sizes)
    scenario_from_raw(with_parent(table, target_file.resolve()))  # the file must load as written
    command = calibrate_command(plan, overrides, name, description, target_file, sizes, budget)
    lines = [f"# Calibrated by trustsim {version('trustsim')}; regenerate with:", f"#   {command}",
             f"# Fitted: {fitted or 'nothing (scored only)'}.",
             f"# Fits, mean of {outcome.reps} seeds as {_scope(plan)}:"]  # fmt: skip
    for row in outcome.fits.itertuples():
        lines.append(f"#   {row.target}: observed {row.observed:,.6g}, simulated {row.simulated:,.6g} "
                     f"({row.relative_error:+.1%})")  # fmt: skip
    return "\n".join(lines) + "\n" + tomli_w.dumps(table)


def _scope(plan: CalibrationPlan) -> str:
    """What the fits in a calibrated file's header are."""
    scope = f"yearly figures for {plan.population:,.0f} people"
    if any(is_quantity(t.name) for t in plan.targets):
        scope += " (groups quantities: at the run's end, not scaled)"
    return scope


def calibrate_command(
    plan: CalibrationPlan, overrides: Sequence[str], name: str, description: str, target_file: Path,
    sizes: tuple[int | None, int | None, int | None], budget: int,
) -> str:  # fmt: skip
    """The command line that regenerates a calibrated file."""
    parts = ["trustsim calibrate", shlex.quote(plan.scenario)]
    parts += [f"--target {shlex.quote(f'{t.name}={t.value!r}')}" for t in plan.targets]  # repr: the values exactly
    parts += [f"--vary {key}={low!r}:{high!r}" for key, low, high in plan.ranges]
    parts += [f"--base {shlex.quote(text)}" for text in overrides]
    parts += [f"--{flag} {value}" for flag, value in zip(("agents", "days", "seed"), sizes, strict=True)
              if value is not None]  # fmt: skip
    if plan.design.get("population") is not None:
        parts.append(f"--population {plan.population!r}")
    parts += [f"--budget {budget}", f"--reps {len(plan.seeds)}", f"--name {shlex.quote(name)}",
              f"--description {shlex.quote(description)}", f"--write {shlex.quote(str(target_file))}"]  # fmt: skip
    return " ".join(parts)


def query(folder: str | Path, sql: str) -> pd.DataFrame:
    """Answer SQL over an experiment's catalog (table ``runs``)."""
    return query_catalog(folder, sql)


def _base(
    scenario: str, overrides: Sequence[str], agents: int | None, days: int | None, seed: int | None,
    changes: Sequence[str] = (),
) -> tuple[dict[str, Any], int]:  # fmt: skip
    """The scenario's raw table with ``overrides`` (``--base``) and then ``changes`` (``--b-set``), checked once
    here so that a typo fails before any run starts."""
    raw = read_raw(scenario)
    for option, assignments in (("--base", overrides), ("--b-set", changes)):
        try:
            for assignment in assignments:
                set_path(raw, *parse_assignment(assignment))
        except ScenarioError as err:
            raise ScenarioError([f"{option} {first_problem(err)}"]) from None
    return raw, scenario_from_raw(raw, agents=agents, days=days, seed=seed).run.seed


def _design(
    command: str, bases: dict[str, dict[str, Any]], overrides: Sequence[str], agents: int | None,
    days: int | None, first_seed: int, reps: int, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """What identifies an experiment; the scenarios' contents are in it, so an edited file is a new experiment."""
    digests = {name: hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
               for name, raw in bases.items()}  # fmt: skip
    return {"command": command, "scenarios": list(bases), "scenario_digests": digests, "overrides": list(overrides),
            "agents": agents, "days": days, "seed": first_seed, "reps": reps} | extra  # fmt: skip


def _check_settings(
    base: dict[str, Any], specs: list[RunSpec], sizes: tuple[int | None, int | None], every: bool = False
) -> None:
    """Refuse settings that no run (``every``: not every run) could take: a typo'd key, a value always invalid."""
    problems = []
    for spec in specs:
        try:
            scenario_from_raw(base, overrides=run_overrides(spec, *sizes))
        except ScenarioError as err:
            problems.append(first_problem(err))
            if every:
                raise ScenarioError([f"--vary: {problems[-1]}"]) from None
    if specs and len(problems) == len(specs):
        raise ScenarioError([f"no setting gives a valid scenario; the first: {problems[0]}"])


def _run(
    design: dict[str, Any],
    specs: list[RunSpec],
    bases: dict[str, dict[str, Any]],
    parameters: dict[str, Any],
    sizes: tuple[int | None, int | None],
    out: str | Path | None,
    jobs: int | None,
    cluster: str | None,
    on_progress: Progress | None,
    quantities: Sequence[Quantity] = (),
) -> pd.DataFrame:
    folder = Path(out) if out is not None else default_folder(design)
    # The cluster first: an unreachable scheduler leaves no experiment directory behind.
    with dask_client(jobs, cluster) as client, ExperimentStore(folder, design, parameters) as store:
        execute(specs, bases, store, sizes, client, on_progress)
        runs = store.runs()
        if quantities:
            for run_id in runs.loc[runs["status"] == "done", "run_id"]:
                store.annotate(run_id, quantity_figures(read_run_groups(folder, run_id), quantities))
            runs = store.runs()
    runs.attrs["folder"] = str(folder)
    return runs


def default_folder(design: dict[str, Any], root: Path = Path("experiments")) -> Path:
    """``experiments/<command>-<scenario>-<hash of the design>``: the same command finds it again."""
    digest = hashlib.sha1(json.dumps(design, sort_keys=True).encode()).hexdigest()[:10]
    name = "-".join(_folder_part(s) for s in design["scenarios"])
    return root / f"{design['command']}-{name}-{digest}"


def scenario_label(scenario: str) -> str:
    """How an experiment names one of its scenarios: a file by its stem, a shipped scenario or a variant
    (``china_scs with score.contagion=0``) as it is."""
    return Path(scenario).stem if scenario.endswith(".toml") else scenario


def _folder_part(scenario: str) -> str:
    # A scenario's label made safe for a folder name.
    return re.sub(r"[^A-Za-z0-9_-]+", "_", scenario_label(scenario)).strip("_")[:48]
