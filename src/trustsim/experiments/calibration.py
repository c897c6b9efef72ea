"""Calibration: parameter values that make a scenario reproduce observed figures (``trustsim calibrate``).

A **target** is ``NAME=VALUE``: a metric of docs/model.md §10 as a *yearly figure of a
population* of ``population`` people, measured over the last 365 days of each run (the
whole run, scaled to a year, when it is shorter):

- an event count (``denials_flight_ban``, ``committed_dissent``, ``blacklist_entries_court``,
  …): its total over that year, scaled to the population;
- a count of people or a quantity that grows with them (``blacklisted``, ``active_<s>``,
  ``off_grid``, ``stored_bytes``, …): its mean over that year, scaled to the population;
- ``<count>_share`` (``blacklisted_share``): the mean share of the alive; a level
  (``score_mean``, ``tier_<name>``, ``import_share``, ``mean_degree_*``): its mean. These
  two are not scaled.

A target may instead be a **groups quantity** of :mod:`trustsim.disparity`,
``QUANTITY=VALUE`` with VALUE after the last ``=``: ``rate:COLUMN:DIMENSION=GROUP``
(``rate:ever_sanctioned:age_band=18–29=0.25``), ``gap:COLUMN:DIMENSION`` or
``disparity:COLUMN:DIMENSION``. It is a level: measured on each run's groups rows
(``groups.parquet``, docs/model.md §15) at the run's end, not over a year and not scaled
to the population. Its column, dimension and group are checked against the scenario
before anything runs; a run in which it is undefined (an empty group, a ratio whose
lowest rate is 0) stops the calibration with what to do.

Each trial sets the ``--vary`` parameters, runs the scenario on ``reps`` seeds (the same
seeds for every trial: common random numbers), and compares the mean of each target's
figure over the seeds (for a groups quantity, the mean of each run's value) with its
observed value by their log-ratio (a run that fails stops the calibration with its
error: a trial must average the same seeds as every other). scipy's bounded trust-region
least squares (``scipy.optimize.least_squares``) moves from the scenario's own values
to the values that minimise the sum of squared log-ratios; its Jacobian is taken by
forward differences whose shifted points run together. Every run goes through the
experiment layer (Dask, in parallel, each recorded in the experiment's store as it
finishes) and is named after a digest of the trial's values: the search is
deterministic, so repeating an interrupted command, or the same command with a larger
``--budget``, retraces the trials already run from the store and goes on from there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trustsim.disparity import OVER_AGENTS, OVER_ALIVE, Quantity, is_quantity
from trustsim.errors import ScenarioError, TrustsimError
from trustsim.experiments.catalog import RUNS, ExperimentStore, read_run_groups
from trustsim.experiments.design import RunSpec, parse_range, seeds
from trustsim.experiments.execution import dask_client, execute
from trustsim.groups import dimensions as group_dimensions
from trustsim.groups import empty_groups
from trustsim.metrics import columns as metric_columns
from trustsim.metrics import is_event
from trustsim.scenario import first_problem, leaves, parse_assignment, scenario_from_raw, set_path

YEAR = 365
"""Days of the year over which targets are measured: the last ones of each run."""

LEVELS = ("score_mean", "score_p10", "score_p50", "score_p90", "import_share", "mean_degree_blacklisted",
          "mean_degree_others")  # fmt: skip
"""Metrics that do not grow with the population (besides ``tier_*`` shares)."""


class CalibrationError(TrustsimError):
    """A calibration that cannot run or cannot be scored (bad target, no finished run)."""


GROUP_EXAMPLE = "rate:ever_sanctioned:age_band=18–29=0.25"
"""A groups-quantity target, for messages."""


@dataclass(frozen=True)
class Target:
    """An observed figure the scenario should reproduce: a metric's yearly figure or a groups quantity."""

    name: str
    value: float

    @property
    def quantity(self) -> Quantity | None:
        """The groups quantity the target names (None for a metric)."""
        return Quantity.parse(self.name) if is_quantity(self.name) else None


def parse_target(text: str) -> Target:
    """``NAME=VALUE`` or ``QUANTITY=VALUE`` → :class:`Target` (VALUE a positive number, e.g. ``17.46e6``).

    A groups quantity (it has a ``:``) may itself hold a ``=`` (``rate:COLUMN:DIMENSION=GROUP``):
    its VALUE is after the last ``=``.
    """
    if is_quantity(text):
        return _parse_group_target(text)
    name, sep, value = text.partition("=")
    name = name.strip()
    number = _number(value)
    if not sep or not name or not math.isfinite(number) or number <= 0:
        raise CalibrationError(
            f"--target {text!r}: expected NAME=VALUE with a positive VALUE, e.g. denials_flight_ban=17.46e6"
        )
    return Target(name, number)


def _number(text: str) -> float:
    """A number as written on the command line (``17.46e6``, ``1_000``); NaN if it is none."""
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return math.nan


def _parse_group_target(text: str) -> Target:
    """``QUANTITY=VALUE``: a well-formed groups quantity and a VALUE it can take (one line per problem)."""
    name, sep, value = text.rpartition("=")
    name = name.strip()
    number = _number(value)
    if not sep or not name or not math.isfinite(number) or number <= 0:
        raise CalibrationError(
            f"--target {text!r}: expected QUANTITY=VALUE with a positive VALUE after the last '=', e.g. {GROUP_EXAMPLE}"
        )
    try:
        quantity = Quantity.parse(name)
    except ValueError as err:
        raise CalibrationError(f"--target {err}") from None
    if quantity.kind == "disparity" and number < 1:
        raise CalibrationError(
            f"--target {text!r}: a disparity is the highest group's rate over the lowest, so at least 1 (got {value})"
        )
    if quantity.kind != "disparity" and quantity.column in (*OVER_ALIVE, *OVER_AGENTS) and number > 1:
        raise CalibrationError(
            f"--target {text!r}: a rate of {quantity.column} is a share of a group's people, so its {quantity.kind} "
            f"is at most 1 (got {value})"
        )
    return Target(name, number)


def check_target(target: Target, available: Sequence[str], groups: dict[str, list[str]]) -> None:
    """Refuse a target the scenario cannot measure: an unknown metric, or a dimension or group it lacks."""
    quantity = target.quantity
    if quantity is None:
        target_kind(target.name, available)
        return
    try:
        quantity.check(groups)
    except ValueError as err:
        raise CalibrationError(f"--target {err}") from None


def target_kind(name: str, available: Sequence[str]) -> str:
    """``event``, ``count``, ``share`` or ``level``: how a metric becomes a yearly figure (module docstring)."""
    if name in available and name != "day":
        if is_event(name):
            return "event"
        if name in LEVELS or name.startswith("tier_"):
            return "level"
        return "count"
    counted = name.removesuffix("_share")
    if name.endswith("_share") and counted in available and target_kind(counted, available) == "count":
        return "share"
    choices = ", ".join(c for c in available if c != "day")
    raise CalibrationError(
        f"--target {name!r}: not a metric of this scenario; choose one of {choices} (or COUNT_share)"
    )


def yearly_figure(metrics: pd.DataFrame, name: str, agents: int, population: float) -> float:
    """The target ``name`` measured on one run's daily metrics (module docstring), scaled to ``population``."""
    kind = target_kind(name, list(metrics.columns))
    year = metrics.iloc[-YEAR:]
    scale = population / agents
    if kind == "event":
        return float(year[name].sum()) * YEAR / len(year) * scale
    if kind == "count":
        return float(year[name].mean()) * scale
    if kind == "share":
        alive = year["alive"].to_numpy(float)
        counted = year[name.removesuffix("_share")].to_numpy(float)
        return float(np.mean(np.divide(counted, alive, out=np.zeros_like(counted), where=alive > 0)))
    return float(year[name].mean())


def group_figure(groups: pd.DataFrame, name: str) -> float:
    """The groups quantity ``name`` on a run's groups rows at the run's end: a level, not scaled (NaN if undefined)."""
    return Quantity.parse(name).of(groups)


def target_figure(name: str, metrics: pd.DataFrame, groups: pd.DataFrame | None, agents: int,
                  population: float) -> float:  # fmt: skip
    """One run's figure of a target: a groups quantity on ``groups``, a metric as its yearly figure."""
    if is_quantity(name):
        return group_figure(groups if groups is not None else empty_groups(), name)
    return yearly_figure(metrics, name, agents, population)


def undefined_target(target: Target, value: float, setting: str, seed: int) -> CalibrationError:
    """The error for a groups quantity that is NaN or infinite in a run: why, and what to do."""
    quantity = Quantity.parse(target.name)
    if math.isinf(value):
        why = f"the lowest group's rate of {quantity.column} is 0, so the ratio is infinite"
        todo = (f"target gap:{quantity.column}:{quantity.dimension} instead, or run more --agents or --days "
                "so that every group has some")  # fmt: skip
    elif quantity.kind == "rate":
        why = f"group {quantity.group} has no agents, or the run kept no groups rows"
        todo = "run more --agents (or start a new --out folder if the runs were stored without groups rows)"
    else:
        why = f"every {quantity.dimension} group's rate of {quantity.column} is 0, or the run kept no groups rows"
        todo = "run more --agents or --days, or narrow the --vary ranges to values where some group has some"
    state = "infinite" if math.isinf(value) else "undefined (NaN)"
    return CalibrationError(
        f"calibrate: --target {target.name} is {state} in the run with {setting}, seed {seed}: {why}; {todo}"
    )


def residual(simulated: float, observed: float) -> float:
    """``log(simulated / observed)``: 2× too many and 2× too few weigh alike (a figure of 0 counts as 10⁻⁶ of it)."""
    if not math.isfinite(simulated):
        return math.inf
    return math.log(max(simulated, observed * 1e-6) / observed)


def misfit(figures: dict[str, float], targets: Sequence[Target]) -> float:
    """Sum over targets of the squared log-ratio of the simulated figure to the observed one."""
    return float(sum(residual(figures[t.name], t.value) ** 2 for t in targets))


@dataclass
class Calibration:
    """What a calibration found: the best parameters, each target's fit, every trial."""

    best: dict[str, Any]
    fits: pd.DataFrame  # target, observed, simulated (mean over seeds), its standard error, relative error
    trials: pd.DataFrame  # trial, parameters, the figure of each target, misfit
    folder: Path
    written: Path | None = None
    reps: int = 1
    per_run: pd.DataFrame = field(default_factory=pd.DataFrame)  # best trial: one row per seed


@dataclass(frozen=True)
class Plan:
    """A checked calibration: the base scenario, its targets, the parameters and their ranges."""

    scenario: str
    base: dict[str, Any]
    targets: tuple[Target, ...]
    ranges: tuple[tuple[str, float, float], ...]
    integer: tuple[bool, ...]
    agents: int
    population: float
    seeds: tuple[int, ...]
    design: dict[str, Any]


def plan(
    scenario: str, base: dict[str, Any], targets: Sequence[str], vary: Sequence[str], *,
    population: float | None, reps: int, agents: int | None, days: int | None, seed: int | None,
    design: dict[str, Any],
) -> Plan:  # fmt: skip
    """Check targets and ranges against the scenario before anything runs; one line per problem."""
    if not targets:
        raise CalibrationError("--target: give at least one NAME=VALUE to reproduce")
    resolved = scenario_from_raw(base, agents=agents, days=days, seed=seed)
    parsed = tuple(parse_target(text) for text in targets)
    available = list(metric_columns(resolved))
    groups = group_dimensions(resolved)
    for target in parsed:
        check_target(target, available, groups)
    if len({t.name for t in parsed}) != len(parsed):
        raise CalibrationError("--target: a target is given twice")
    ranges = tuple(parse_range(text) for text in vary)
    if len({key for key, _, _ in ranges}) != len(ranges):
        raise CalibrationError("--vary: a parameter is given twice")
    values = leaves(base)
    integer = tuple(isinstance(values.get(k), int) and not isinstance(values.get(k), bool) for k, _, _ in ranges)
    for (key, low, high), whole in zip(ranges, integer, strict=True):
        for value in (low, high):
            value = round(value) if whole else value
            try:
                scenario_from_raw(base, overrides=[f"{key}={value}"], agents=agents, days=days, seed=seed)
            except ScenarioError as err:
                raise ScenarioError([f"--vary {key}={low}:{high}: {first_problem(err)}"]) from None
    if population is not None and not (math.isfinite(population) and population > 0):
        raise CalibrationError(f"--population: must be a positive number of people (got {population})")
    people = float(resolved.run.agents) if population is None else float(population)
    run_seeds = tuple(seeds(resolved.run.seed, reps))
    return Plan(scenario, base, parsed, ranges, integer, resolved.run.agents, people, run_seeds, design)


class BudgetSpentError(Exception):
    """Raised inside the optimiser when ``--budget`` trials have been scored."""


class Trials:
    """Scores points of the parameter space, running each point's seeds through the experiment layer.

    Points are kept in the optimiser's unit cube (a log scale for positive ranges: rates
    act multiplicatively). A point's runs are named after a digest of its values, so a
    repeated command finds the runs already in the store and does not run them again.
    """

    def __init__(self, plan: Plan, folder: Path, store: ExperimentStore, client: Any,
                 sizes: tuple[int | None, int | None], budget: int,
                 on_progress: Callable[[int, int], None] | None) -> None:  # fmt: skip
        self.plan, self.folder, self.store, self.client = plan, folder, store, client
        self.sizes, self.budget, self.on_progress = sizes, budget, on_progress
        self.scored: dict[str, dict[str, Any]] = {}  # trial id → row of the trials table
        self.log = [low > 0 and not whole for (_, low, _), whole in zip(plan.ranges, plan.integer, strict=True)]

    def values(self, unit: np.ndarray) -> dict[str, Any]:
        """The parameter values of a point of the unit cube."""
        out: dict[str, Any] = {}
        for u, (key, low, high), log, whole in zip(unit, self.plan.ranges, self.log, self.plan.integer, strict=True):
            u = min(max(float(u), 0.0), 1.0)
            u = 0.0 if u < 1e-9 else 1.0 if u > 1.0 - 1e-9 else u  # scipy nudges a bound by 1e-10: the same trial
            value = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if log else low + u * (high - low)
            out[key] = round(value) if whole else float(f"{value:.10g}")
        return out

    def unit(self, values: dict[str, Any]) -> np.ndarray:
        """The point of the unit cube of parameter values (clipped to the ranges)."""
        point = []
        for (key, low, high), log in zip(self.plan.ranges, self.log, strict=True):
            value = min(max(float(values[key]), low), high)
            point.append((math.log(value / low) / math.log(high / low)) if log else (value - low) / (high - low))
        return np.array(point)

    def residuals(self, unit: np.ndarray) -> np.ndarray:
        """Each target's log-ratio at one point (the optimiser's ``fun``)."""
        return self.score([unit])[0]

    def jacobian(self, unit: np.ndarray) -> np.ndarray:
        """Forward differences of the residuals, every shifted point scored in one parallel batch."""
        step = JACOBIAN_STEP
        points, steps = [], []
        for k in range(unit.size):
            shifted = unit.copy()
            h = step if unit[k] + step <= 1.0 else -step
            shifted[k] += h
            points.append(shifted)
            steps.append(h)
        centre = self.residuals(unit)
        shifted_residuals = self.score(points)
        return np.column_stack([(r - centre) / h for r, h in zip(shifted_residuals, steps, strict=True)])

    def score(self, units: list[np.ndarray]) -> list[np.ndarray]:
        """Residuals of several points; their runs not yet stored run together on the cluster."""
        chosen = [self.values(unit) for unit in units]
        new = [values for values in chosen if _trial_id(values) not in self.scored]
        if len(self.scored) + len(new) > self.budget:
            raise BudgetSpentError
        specs = [spec for values in new for spec in self._runs(values)]
        done = len(self.scored) * len(self.plan.seeds)
        total = self.budget * len(self.plan.seeds)
        progress = None if self.on_progress is None else (lambda d, _t: self.on_progress(done + d, total))
        execute(specs, {self.plan.scenario: self.plan.base}, self.store, self.sizes, self.client, progress)
        for values in new:
            figures = self.figures(values)
            self.scored[_trial_id(values)] = ({"trial": len(self.scored)} | values | figures
                                              | {"misfit": misfit(figures, self.plan.targets)})  # fmt: skip
        rows = [self.scored[_trial_id(values)] for values in chosen]
        return [np.array([residual(row[t.name], t.value) for t in self.plan.targets]) for row in rows]

    def _runs(self, values: dict[str, Any]) -> list[RunSpec]:
        settings = tuple((key, values[key]) for key, _, _ in self.plan.ranges)
        return [RunSpec(f"{_trial_id(values)}-r{rep:03d}", self.plan.scenario, settings, seed, rep)
                for rep, seed in enumerate(self.plan.seeds)]  # fmt: skip

    def per_run(self, values: dict[str, Any]) -> pd.DataFrame:
        """Each target's figure in each finished run of a point (a row per seed)."""
        grouped = any(is_quantity(t.name) for t in self.plan.targets)
        rows = []
        for rep, seed in enumerate(self.plan.seeds):
            run_id = f"{_trial_id(values)}-r{rep:03d}"
            path = self.folder / RUNS / f"{run_id}.parquet"
            if path.is_file():
                metrics = pd.read_parquet(path)
                groups = read_run_groups(self.folder, run_id) if grouped else None
                rows.append({"seed": seed} | {
                    t.name: target_figure(t.name, metrics, groups, self.plan.agents, self.plan.population)
                    for t in self.plan.targets
                })  # fmt: skip
        return pd.DataFrame(rows, columns=["seed", *(t.name for t in self.plan.targets)])

    def figures(self, values: dict[str, Any]) -> dict[str, float]:
        """Each target's mean figure over the point's runs; a failed run stops the calibration (one line).

        A trial is a mean over the same seeds as every other: averaging over the seeds that
        happened to finish would break common random numbers and the search's determinism.
        """
        failed = self.store.catalog.execute(
            "SELECT run_id, error FROM runs WHERE run_id LIKE ? AND status = 'failed' ORDER BY run_id LIMIT 1",
            [f"{_trial_id(values)}-%"],
        ).fetchone()
        per_run = self.per_run(values)
        setting = ", ".join(f"{key}={value}" for key, value in values.items()) or "the scenario as it is"
        if failed is not None or len(per_run) != len(self.plan.seeds):
            why = failed[1] if failed is not None else "no result"
            raise CalibrationError(
                f"calibrate: a run with {setting} failed ({why}); narrow the --vary ranges to values that run, "
                "then repeat the command (finished runs are kept)"
            )
        check_defined(per_run, self.plan.targets, setting)
        return {t.name: float(per_run[t.name].mean()) for t in self.plan.targets}


def check_defined(per_run: pd.DataFrame, targets: Sequence[Target], setting: str) -> None:
    """Stop at the first groups quantity that is NaN or infinite in a run (``per_run``: a row per seed)."""
    for target in targets:
        if is_quantity(target.name):
            values = per_run[target.name].to_numpy(float)
            undefined = np.flatnonzero(~np.isfinite(values))
            if undefined.size:
                first = int(undefined[0])
                raise undefined_target(target, float(values[first]), setting, int(per_run["seed"].iloc[first]))


JACOBIAN_STEP = 0.02
"""Forward-difference step in the unit cube: a few percent of a parameter, so that the discrete
events of a run move enough to measure a slope (a tiny step would see only the run's noise)."""


def _trial_id(values: dict[str, Any]) -> str:
    digest = hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
    return f"t{digest}"


def calibrate(
    plan: Plan, budget: int, folder: Path, *, sizes: tuple[int | None, int | None], jobs: int | None,
    cluster: str | None, on_progress: Callable[[int, int], None] | None = None,
) -> Calibration:  # fmt: skip
    """Fit the ranges' parameters with at most ``budget`` trials (without ranges: score the scenario once).

    scipy's trust-region least squares (``least_squares``, method ``trf``, bounded to the
    ranges) minimises the targets' log-ratios from the scenario's own values, with a
    Jacobian of forward differences whose shifted points run in parallel.
    """
    from scipy.optimize import least_squares

    if budget < 1:
        raise CalibrationError(f"--budget: must be at least 1 trial (got {budget})")
    parameters = {key: (0 if whole else 0.0) for (key, _, _), whole in zip(plan.ranges, plan.integer, strict=True)}
    with dask_client(jobs, cluster) as client, ExperimentStore(folder, plan.design, parameters) as store:
        trials = Trials(plan, folder, store, client, sizes, budget if plan.ranges else 1, on_progress)
        start = trials.unit(_starting_point(plan))
        try:
            trials.residuals(start)
            if plan.ranges:
                least_squares(trials.residuals, start, jac=trials.jacobian, bounds=(0.0, 1.0), method="trf",
                              x_scale=1.0, xtol=1e-3, ftol=1e-4, max_nfev=budget)  # fmt: skip
        except BudgetSpentError:
            pass
        return _outcome(plan, folder, trials)


def _starting_point(plan: Plan) -> dict[str, Any]:
    """The scenario's own values, moved inside the ranges: where the search starts."""
    values = leaves(plan.base)
    start = {}
    for key, low, high in plan.ranges:
        value = values.get(key)
        start[key] = (low + high) / 2 if not isinstance(value, int | float) or isinstance(value, bool) else value
    return start


def _outcome(plan: Plan, folder: Path, trials: Trials) -> Calibration:
    table = pd.DataFrame(list(trials.scored.values()))
    best_row = table.sort_values(["misfit", "trial"]).iloc[0]
    best = {key: best_row[key] for key, _, _ in plan.ranges}
    best = {key: (int(v) if whole else float(v)) for (key, v), whole in zip(best.items(), plan.integer, strict=True)}
    per_run = trials.per_run(best)
    fits = []
    for target in plan.targets:
        values = per_run[target.name].to_numpy(float)
        error = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else math.nan
        simulated = float(values.mean()) if values.size else math.nan
        fits.append({"target": target.name, "observed": target.value, "simulated": simulated,
                     "standard_error": error, "relative_error": simulated / target.value - 1.0})  # fmt: skip
    return Calibration(best, pd.DataFrame(fits), table, folder, reps=len(plan.seeds), per_run=per_run)


def calibrated_raw(
    plan: Plan,
    best: dict[str, Any],
    overrides: Sequence[str],
    name: str,
    description: str,
    extends: str,
    sizes: tuple[int | None, int | None, int | None],
) -> dict[str, Any]:
    """The calibrated scenario file's table: ``extends`` the base, with the overrides and the best values."""
    assignments = [*overrides]
    for key, value in zip(("run.agents", "run.days", "run.seed"), sizes, strict=True):
        if value is not None:
            assignments.append(f"{key}={value}")
    assignments += [f"{key}={value!r}" for key, value in best.items()]
    full = copy.deepcopy(plan.base)
    for text in assignments:
        set_path(full, *parse_assignment(text))
    table: dict[str, Any] = {"extends": extends, "name": name, "description": description}
    for text in assignments:
        key, _ = parse_assignment(text)
        top = key.split(".")[0]
        if any(part.isdigit() for part in key.split(".")):  # a list entry: write the whole top-level value
            table[top] = full[top]
        else:
            set_path(table, key, _get(full, key), partial=True)
    return table


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def extends_reference(scenario: str, written: Path, shipped: Sequence[str]) -> str:
    """How the written file names its base: a shipped name, or a path relative to the file."""
    if scenario in shipped:
        return scenario
    return os.path.relpath(Path(scenario).resolve(), written.resolve().parent)
