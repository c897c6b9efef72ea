"""The report of an experiment directory: comparisons with intervals, sweep curves, sensitivity bars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from trustsim.errors import InputFileError
from trustsim.experiments.analysis import SENSITIVITY_METRICS as ANALYSED
from trustsim.experiments.api import ExperimentError, comparison_table, scenario_label, sensitivity_table
from trustsim.experiments.catalog import DESIGN, RUNS, query, read_run_groups
from trustsim.experiments.design import parse_levels
from trustsim.report.bearing import disparity_over_seeds
from trustsim.report.figures import PALETTE, styled
from trustsim.report.page import Section, render

RESPONSES = ("ever_wrongly_sanctioned", "blacklisted", "denials", "chilling_effect", "isolated", "emigrated")
"""Headline metrics drawn against a sweep's settings."""
SENSITIVITY_METRICS = ANALYSED
"""The metrics a sensitivity report analyses unless its design names others (``trustsim sensitivity``'s default)."""
TRAJECTORIES = ("blacklisted", "ever_wrongly_sanctioned", "isolated")


REQUIRED = {"compare": ("scenarios", "reps"), "sweep": ("scenarios", "settings"),
            "sensitivity": ("scenarios", "vary", "method", "samples", "seed")}  # fmt: skip
"""The keys of experiment.json each command's report reads."""


def experiment_report(folder: Path) -> str:
    """The HTML of an experiment's report (the runs finished so far)."""
    design, runs, sections = experiment_sections(folder)
    title = f"trustsim {design['command']}: {' vs '.join(scenario_label(s) for s in design['scenarios'])}"
    done = int((runs["status"] == "done").sum()) if len(runs) else 0
    subtitle = f"{done} of {len(runs)} runs finished; agents {design.get('agents') or 'as in the scenario'}"
    return render(title, subtitle, sections, f"Experiment directory {Path(folder).name}.")


def experiment_sections(folder: Path) -> tuple[dict[str, Any], pd.DataFrame, list[Section]]:
    """An experiment's design, its catalog of runs and the sections of its report (figures included)."""
    design, runs = read_experiment(folder)
    command = design["command"]
    sections = [_overview(design, runs)]
    try:
        if command == "compare":
            sections += _compare(folder, design, runs)
        elif command == "sweep":
            sections.append(_sweep(design, runs))
        else:
            sections.append(_sensitivity(design, runs))
    except ExperimentError as err:  # too few runs finished yet: the overview says what there is
        sections.append(Section("Results", paragraphs=[f"Not enough finished runs to analyse yet: {err}"]))
    return design, runs, sections


def read_experiment(folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """An experiment's design (``experiment.json``, checked) and its catalog of runs so far."""
    design = _design(Path(folder))
    runs = query(folder, "SELECT * FROM runs ORDER BY run_id")
    runs.attrs["folder"] = str(folder)
    return design, runs


def _design(folder: Path) -> dict[str, Any]:
    """experiment.json, checked for what the report reads; a one-line error if it is damaged."""
    path = folder / DESIGN
    try:
        design = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputFileError(f"{path}: unreadable ({str(err).splitlines()[0]})") from None
    command = design.get("command") if isinstance(design, dict) else None
    if command not in REQUIRED:
        if command == "calibrate":
            raise InputFileError(f"{folder}: a calibration, which has no report: the same trustsim calibrate prints "
                                 "its tables again (it resumes), and its fitted scenario is the --write file")
        raise InputFileError(f"{path}: not a trustsim experiment design (command {command!r}); it was edited")
    missing = [key for key in REQUIRED[command] if key not in design]
    scenarios = design.get("scenarios")
    if missing or not isinstance(scenarios, list) or len(scenarios) != (2 if command == "compare" else 1):
        raise InputFileError(f"{path}: a damaged {command} design (missing {missing or ['scenarios']}); it was edited")
    return design


def _overview(design: dict[str, Any], runs: pd.DataFrame) -> Section:
    keys = ("command", "scenarios", "overrides", "agents", "days", "seed", "reps", "settings", "vary", "method",
            "samples", "independent", "b_changes")  # fmt: skip
    rows = {key: json.dumps(design[key]) if isinstance(design[key], list) else str(design[key])
            for key in keys if key in design and design[key] not in (None, [])}  # fmt: skip
    failed = runs[runs["status"] != "done"] if len(runs) else runs
    paragraphs = [f"{len(failed)} runs failed; the first: {failed['error'].iloc[0]}"] if len(failed) else []
    table = pd.DataFrame({"": list(rows.values())}, index=list(rows))
    return Section("The experiment", paragraphs=paragraphs, tables=[("Design (experiment.json)", table)])


def _compare(folder: Path, design: dict[str, Any], runs: pd.DataFrame) -> list[Section]:
    a, b = (f"{side}: {scenario_label(s)}" for side, s in zip("AB", design["scenarios"], strict=True))
    table = comparison_table(runs, bool(design.get("independent")), design.get("metrics") or ())
    figure = _differences(table, a, b)
    how = "paired on common random numbers" if not design.get("independent") else "independent seeds (Welch)"
    comparison = Section(
        f"Comparison: {b} against {a}",
        paragraphs=[f"Differences B − A over {design.get('reps')} replicates, {how}; each metric on its own scale, "
                    "the vertical line at no difference; metrics zero in every run are only in the table."],
        figures=[("comparison", figure)],
        tables=[("B − A per headline metric (95% CI)", table.set_index("metric"))],
    )
    trajectories = _trajectories(folder, runs, {a: "s0-", b: "s1-"})
    return [comparison, Section("Day by day (mean of the replicates, 95% band)", figures=[("trajectories",
            trajectories)]), _bearing(folder, runs, {a: "s0-", b: "s1-"})]  # fmt: skip


BEARING_RATES = ("ever_wrongly_sanctioned", "sanctioned")
"""The rates whose disparities a comparison reports, with their intervals over seeds."""


def _bearing(folder: Path, runs: pd.DataFrame, sides: dict[str, str]) -> Section:
    """Who bears it in A and B: each dimension's disparity of the key rates, mean over seeds with a 95% interval."""
    done = runs[runs["status"] == "done"]
    tables, figures = [], []
    for column in BEARING_RATES:
        frames = []
        for name, prefix in sides.items():
            per_run = [read_run_groups(folder, run_id) for run_id in done["run_id"] if run_id.startswith(prefix)]
            per_run = [groups for groups in per_run if len(groups)]
            if per_run:
                frame = disparity_over_seeds(per_run, column)
                frame.insert(0, "scenario", name)
                frames.append(frame)
        if not frames:
            continue
        table = pd.concat(frames, ignore_index=True)
        words = column.replace("_", " ")
        figures.append((f"bearing_{column}", _gap_figure(table, words)))
        tables.append((f"Disparity of {words} by dimension: mean over seeds (95% CI)",
                       table.set_index(["dimension", "scenario"]).sort_index(level=0, sort_remaining=False)))
    if not tables:
        return Section("Who bears it", paragraphs=["These runs have no groups rows (groups.parquet)."])
    text = ("For each dimension, the gap between its highest and lowest group's rate (and their ratio) at the "
            "end of each run, averaged over the replicates with Student's 95% interval; a ratio is averaged over "
            "the runs where it is finite.")  # fmt: skip
    return Section("Who bears it", paragraphs=[text], figures=figures, tables=tables)


def _gap_figure(table: pd.DataFrame, words: str) -> go.Figure:
    """The gap of each dimension in A and B, with its 95% interval."""
    figure = go.Figure()
    for k, (name, part) in enumerate(table.groupby("scenario", sort=False)):
        interval = (part["gap ci_high"] - part["gap"]).fillna(0)
        figure.add_trace(go.Bar(x=part["dimension"], y=part["gap"], name=str(name), marker_color=PALETTE[k],
                                error_y={"type": "data", "array": interval}))  # fmt: skip
    figure = styled(figure, f"Gap in {words} between the highest and lowest group (95% CI over seeds)",
                    "gap in the rate")  # fmt: skip
    figure.update_xaxes(title_text="")
    figure.update_yaxes(tickformat=".3~%")
    figure.update_layout(hovermode="closest", barmode="group")
    return figure


def _differences(table: pd.DataFrame, a: str, b: str) -> go.Figure:
    """B − A with its 95% interval, one row per metric, each on its own scale (a forest plot)."""
    happened = (table["mean_a"] != 0) | (table["mean_b"] != 0)  # zero in every run of both: nothing to draw
    drawn = table[np.isfinite(table["difference"].to_numpy(float)) & happened].reset_index(drop=True)
    figure = make_subplots(rows=max(len(drawn), 1), cols=1, vertical_spacing=0.25 / max(len(drawn), 1))
    for row, item in drawn.iterrows():
        low, high = item["ci_low"], item["ci_high"]
        interval = {"type": "data", "symmetric": False, "array": [high - item["difference"]],
                    "arrayminus": [item["difference"] - low]} if np.isfinite(low) else None  # fmt: skip
        excludes_zero = np.isfinite(low) and (low > 0 or high < 0)
        figure.add_trace(go.Scatter(x=[item["difference"]], y=[item["metric"]], mode="markers", error_x=interval,
                                    marker={"size": 9, "color": PALETTE[1] if excludes_zero else PALETTE[6]},
                                    showlegend=False, name=item["metric"]), row=row + 1, col=1)  # fmt: skip
        figure.add_vline(x=0, line={"color": "#bbb"}, row=row + 1, col=1)
    figure = styled(figure, f"{b} − {a} with 95% confidence intervals (red: the interval excludes 0)",
                    height=110 + 64 * len(drawn))  # fmt: skip
    figure.update_xaxes(title_text="", nticks=6, tickfont={"size": 10})
    figure.update_layout(hovermode="closest")
    return figure


def _trajectories(folder: Path, runs: pd.DataFrame, groups: dict[str, str]) -> go.Figure:
    figure = make_subplots(rows=1, cols=len(TRAJECTORIES), subplot_titles=[m.replace("_", " ") for m in TRAJECTORIES])
    done = runs[runs["status"] == "done"]
    for g, (name, prefix) in enumerate(groups.items()):
        frames = [pd.read_parquet(Path(folder) / RUNS / f"{run_id}.parquet")
                  for run_id in done["run_id"] if run_id.startswith(prefix)]  # fmt: skip
        frames = [f for f in frames if len(f)]
        if not frames:
            continue
        days = min(len(f) for f in frames)
        for col, metric in enumerate(TRAJECTORIES, start=1):
            values = np.stack([f[metric].to_numpy(float)[:days] for f in frames])
            mean, half = _mean_interval(values)
            colour, x = PALETTE[g], np.arange(days)
            figure.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + half,
                             (mean - half)[::-1]]), fill="toself", line={"width": 0}, opacity=0.2,
                             fillcolor=colour, showlegend=False, hoverinfo="skip"), row=1, col=col)  # fmt: skip
            figure.add_trace(go.Scatter(x=x, y=mean, name=name, mode="lines", line={"color": colour},
                                        showlegend=col == 1), row=1, col=col)  # fmt: skip
    return styled(figure, "Trajectories", height=380)


def _mean_interval(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and the half-width of Student's 95% interval (0 with one replicate)."""
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return mean, np.zeros_like(mean)
    return mean, stats.t.ppf(0.975, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)


def _sweep(design: dict[str, Any], runs: pd.DataFrame) -> Section:
    keys = [parse_levels(text)[0] for text in design.get("settings", [])]
    done = runs[runs["status"] == "done"]
    metrics = [m for m in (*RESPONSES, *(design.get("metrics") or ())) if m in done.columns]
    if not keys or done.empty or not metrics:
        return Section("Response curves", paragraphs=["No finished runs to draw yet."])
    x_key, line_key = keys[0], keys[1] if len(keys) > 1 else None
    cols = 3
    rows = (len(metrics) + cols - 1) // cols
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[m.replace("_", " ") for m in metrics])
    groups = [(None, done)] if line_key is None else list(done.groupby(line_key, sort=True))
    for g, (level, group) in enumerate(groups):
        summary = group.groupby(x_key, sort=True)
        for i, metric in enumerate(metrics):
            stats_ = summary[metric].agg(["mean", "std", "count"])
            half = stats_["std"].fillna(0) * stats.t.ppf(0.975, np.maximum(stats_["count"] - 1, 1)) / np.sqrt(
                stats_["count"]
            )
            figure.add_trace(go.Scatter(
                x=stats_.index, y=stats_["mean"], mode="lines+markers", line={"color": PALETTE[g % len(PALETTE)]},
                error_y={"type": "data", "array": half}, name=f"{line_key} = {level}" if line_key else metric,
                showlegend=line_key is not None and i == 0), row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    figure = styled(figure, f"Response to {x_key} (mean over replicates, 95% CI)", height=320 * rows)
    figure.update_xaxes(title_text=x_key)
    figure.update_layout(hovermode="closest")
    columns = [c for c in (*keys, "rep", "seed", "status", *metrics) if c in runs.columns]
    return Section("Response curves", figures=[("sweep", figure)], tables=[("Runs (catalog)", runs[columns])])


def _sensitivity(design: dict[str, Any], runs: pd.DataFrame) -> Section:
    metrics = [m for m in design.get("metrics") or SENSITIVITY_METRICS if m in runs.columns]
    table = sensitivity_table(runs, design, metrics)
    sobol = design.get("method") == "sobol"
    bars = (("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total order ST")) if sobol else (
        ("mu_star", "mu_star_conf", "μ*"),)  # fmt: skip
    figure = make_subplots(rows=1, cols=len(metrics), subplot_titles=[m.replace("_", " ") for m in metrics],
                           shared_yaxes=True)  # fmt: skip
    for col, metric in enumerate(metrics, start=1):
        part = table[table["metric"] == metric]
        for k, (value, conf, label) in enumerate(bars):
            figure.add_trace(go.Bar(x=part["parameter"], y=part[value], name=label, marker_color=PALETTE[k],
                                    error_y={"type": "data", "array": part[conf]}, showlegend=col == 1),
                             row=1, col=col)  # fmt: skip
    title = "Sobol' indices (95% CI)" if sobol else "Morris μ* (95% CI)"
    figure = styled(figure, title, height=420)
    figure.update_xaxes(title_text="")
    figure.update_layout(hovermode="closest")
    return Section("Sensitivity", figures=[("sensitivity", figure)], tables=[("Indices", table)])
