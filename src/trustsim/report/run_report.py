"""The report of one run directory: what the scoring-and-sanctions system did to the people under it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow.parquet as pq

from trustsim.errors import InputFileError, ScenarioError, TrustsimError
from trustsim.groups import COLUMNS as GROUP_COLUMNS
from trustsim.metrics import columns
from trustsim.report import figures
from trustsim.report.bearing import bearing_section
from trustsim.report.page import Section, render
from trustsim.report.records import NEVER, record_follow_up
from trustsim.report.story import choose_agent, narrative, story_figure
from trustsim.scenario import validate
from trustsim.store import (
    AGENTS,
    GROUPS,
    MANIFEST,
    METRICS,
    TRACE,
    read_groups,
    read_manifest,
    read_metrics,
    read_trace,
)
from trustsim.summary import headline
from trustsim.trace import trace_columns


def run_report(run_dir: Path) -> str:
    """The HTML of a run's report (a run stopped early is reported on the days it simulated)."""
    manifest, scenario, metrics, sections = run_sections(run_dir)
    status = "" if manifest.get("complete") else f" — {manifest.get('status', 'incomplete')}, report on the days done"
    subtitle = (f"{scenario['run']['agents']:,} synthetic agents × {len(metrics)} of {scenario['run']['days']} "
                f"days, seed {scenario['run']['seed']}{status}")  # fmt: skip
    footer = f"trustsim {manifest.get('trustsim_version', '')}, run directory {Path(run_dir).name}."
    return render(f"trustsim report: {scenario['name']}", subtitle, sections, footer)


def run_sections(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame, list[Section]]:
    """A run's manifest, resolved scenario, metrics and the sections of its report (figures included)."""
    manifest, scenario, metrics, trace = _load(Path(run_dir))
    groups = _table(Path(run_dir) / GROUPS, lambda: read_groups(Path(run_dir)), list(GROUP_COLUMNS))
    sections = [
        _brief(manifest, scenario, metrics),
        _section("Scores and tiers", metrics, scenario, ["score_distribution", "tiers"]),
        _section("Blacklist", metrics, scenario, ["blacklist"]),
        _sanctions(metrics, scenario),
        _records(scenario),
        _section("Wrongful sanctions", metrics, scenario, ["wrongful", "wrongful_sources"], _WRONGFUL),
        bearing_section(groups, metrics, scenario),
        _section("Chilling effect", metrics, scenario, ["chilling"], _CHILLING),
        _section("Isolation", metrics, scenario, ["isolation"]),
        _section("Imports and adaptation", metrics, scenario, ["import_share", "adaptation"]),
        _section("Data stored and review", metrics, scenario, ["storage"], _STORAGE),
        _story(run_dir, trace, scenario),
    ]
    return manifest, scenario, metrics, sections


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The manifest, its resolved scenario (validated), the metrics and the trace; one-line errors if damaged."""
    manifest = read_manifest(run_dir, finished=False)
    where = run_dir / MANIFEST
    if not isinstance(manifest.get("scenario"), dict):
        raise InputFileError(f"{where}: no resolved scenario in it; it was edited or not written by trustsim")
    try:
        scenario = validate(manifest["scenario"])
    except ScenarioError as err:
        raise InputFileError(f"{where}: its scenario is not valid ({err.problems[0]})") from None
    metrics = _table(run_dir / METRICS, lambda: read_metrics(run_dir), ["day", *columns(scenario)])
    if metrics.empty:
        raise InputFileError(f"{run_dir}: no day has been simulated yet; nothing to report")
    trace = _table(run_dir / TRACE, lambda: read_trace(run_dir), ["day", "id", *trace_columns(scenario)])
    return manifest, scenario.resolved(), metrics, trace


def _table(path: Path, read: Callable[[], pd.DataFrame], expected: list[str]) -> pd.DataFrame:
    try:
        table = read()
    except (OSError, ValueError) as err:  # pyarrow's errors derive from these
        raise InputFileError(f"{path}: unreadable ({str(err).strip().splitlines()[0]})") from None
    missing = [name for name in expected if name not in table.columns]
    if len(table.columns) > 2 and missing:  # an empty trace (no file) has only day and id
        raise InputFileError(f"{path}: not this run's table (no column {missing[0]!r}); rerun the scenario")
    return table


_WRONGFUL = ("A sanction is wrongful when every condition that makes it active is wrongful: the agent would "
             "not be under it without points from misattributed instances (trustsim's model, §6).")  # fmt: skip
_STORAGE = ("Records are kept for ever (every observed instance × bytes_per_record); camera footage for the "
            "retention period. The review backlog is the day's camera records beyond the human review capacity: "
            "the more of them, the fewer misattributions are caught (trustsim's model, §4).")  # fmt: skip
_CHILLING = ("The chilling effect is 1 − dissent posted / dissent expected with no chill, over the same agents "
             "(trustsim's model, §10).")  # fmt: skip


def _section(title: str, metrics: pd.DataFrame, scenario: dict[str, Any], names: list[str], text: str = "") -> Section:
    return Section(
        title,
        paragraphs=[text] if text else [],
        figures=[(name, figures.RUN_FIGURES[name](metrics, scenario)) for name in names],
    )


def _number(value: float, percent: bool = False) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:.1%}" if percent else f"{value:,.0f}"


def _brief(manifest: dict[str, Any], scenario: dict[str, Any], metrics: pd.DataFrame) -> Section:
    figures_ = headline(metrics)
    cards = [
        (_number(figures_["blacklisted"]), f"on the blacklist ({_number(figures_['blacklisted_share'], True)})"),
        (_number(figures_["ever_wrongly_sanctioned"]), "ever wrongly sanctioned"),
        (_number(figures_["denials"]), "refusals"),
        (_number(figures_["chilling_effect"], True), "chilling effect on dissent"),
        (_number(figures_["isolated"]), "with no friend left"),
        (_number(figures_["emigrated"]), "emigrated"),
    ]
    channels = ", ".join(f"{name} {_coverage(spec)}" for name, spec in scenario["channels"].items())
    behaviours = ", ".join(f"{b} ({spec['points']:+g})" for b, spec in scenario["behaviours"].items())
    bl = scenario["blacklist"]
    rows = {
        "scenario": f"{scenario['name']}: {scenario.get('description', '')}",
        "society": f"{scenario['run']['agents']:,} agents in {len(scenario['regions'])} regions, "
        f"network {scenario['network']['generator']}",
        "channels (coverage)": channels,
        "behaviours (points)": behaviours,
        "score": f"base {scenario['score']['base_score']:g}, contagion {scenario['score']['contagion']:g}",
        "blacklist": f"below {bl['blacklist_score']:g}, exit above {bl['blacklist_exit_score']:g} "
        f"for {bl['blacklist_exit_days']} days",
        "sanctions": ", ".join(scenario["sanctions"]),
    }
    table = pd.DataFrame({"": list(rows.values())}, index=list(rows))
    return Section("The scenario in brief", cards=cards, tables=[("Resolved scenario (manifest.json)", table)])


def _coverage(spec: dict[str, Any]) -> str:
    """A channel's rollout in words: ``0.4``, ``0.1 from day 0, 0.4 from day 90``, ``0`` (+ per-region schedules)."""
    steps = [(f"{step['coverage']:g}", step["day"]) for step in spec["schedule"]]
    if not steps:
        text = "0"
    elif len(steps) == 1 and steps[0][1] == 0:
        text = steps[0][0]
    else:
        text = ", ".join(f"{coverage} from day {day}" for coverage, day in steps)
    regions = spec.get("region_schedules") or {}
    return text + (f" (own schedules in {', '.join(regions)})" if regions else "")


def _sanctions(metrics: pd.DataFrame, scenario: dict[str, Any]) -> Section:
    return Section(
        "Sanctions and refusals",
        figures=[(n, figures.RUN_FIGURES[n](metrics, scenario)) for n in ("sanctions_active", "denials")],
        tables=[("Refusals per simulated year", figures.yearly_denials(metrics, scenario))],
    )


def _records(scenario: dict[str, Any]) -> Section:
    memory = validate(scenario).score
    how = (f"Points stay on the file, in full, for {memory.memory_days:,} days and then expire."
           if memory.expires else
           f"The score recovers towards its base with a half-life of {memory.recovery_half_life_days:g} days."
           if memory.recovery_half_life_days else "The score never recovers: a record stays for ever.")  # fmt: skip
    text = (
        f"{how} The table follows one person at the base score who gets one record, or two a month apart, "
        "and nothing else (no friends' pull, no court): the days each sanction is then active."
    )
    table = record_follow_up(validate(scenario))
    if table.empty:
        return Section("How long a record follows a person", paragraphs=["This scenario has no negative behaviour."])
    sanctions = [name for name in scenario["sanctions"] if name in table.columns]
    never = [name for name in sanctions if (table[name] == NEVER).all()]
    if never and len(never) == len(sanctions):
        text += " No such record brings any sanction."
    elif never:
        text += f" Sanctions that no such record brings are left out of the table: {', '.join(never)}."
    return Section(
        "How long a record follows a person",
        paragraphs=[text],
        tables=[("Days under each sanction", table.drop(columns=never).set_index("record"))],
    )


@dataclass
class Story:
    """One traced agent's year: who, why this one, the story in sentences, and its figure."""

    agent: int
    reason: str
    sentences: list[str]
    figure: go.Figure


def agent_story(run_dir: Path, agent: int | None = None) -> Story | None:
    """The story of traced ``agent``, or of the one the report chooses (the first listed, else the lowest
    score); None for a run with no trace. An agent who is not traced is refused in one line."""
    _, scenario, _, trace = _load(Path(run_dir))
    return _story_of(Path(run_dir), trace, scenario, agent)


def _story_of(run_dir: Path, trace: pd.DataFrame, scenario: dict[str, Any], agent: int | None) -> Story | None:
    traced = [int(i) for i in trace["id"].unique()]
    if not traced:
        return None
    panel = _agents(run_dir, traced)
    outspoken = len(panel) == len(traced) and bool(panel["outspoken"].all())
    if agent is None:
        choice = choose_agent(trace, "traced outspoken" if outspoken else "traced")
        assert choice is not None  # there is a trace
        agent, reason = choice.agent, choice.reason
    elif agent in traced:
        reason = f"Agent #{agent}, one of the {len(traced)} traced agents."
    else:
        shown = ", ".join(map(str, sorted(traced)[:5])) + (", …" if len(traced) > 5 else "")
        raise TrustsimError(f"agent {agent} is not traced in {run_dir.name} (trace.parquet): the traced are {shown}")
    rows = panel[panel["id"] == agent].to_dict("records")
    about = rows[0] if rows else {}
    if "region" in about and 0 <= int(about["region"]) < len(scenario["regions"]):
        about["region"] = scenario["regions"][int(about["region"])]["name"]
    return Story(agent, reason, narrative(trace, agent, scenario, about), story_figure(trace, agent, scenario))


def _story(run_dir: Path, trace: pd.DataFrame, scenario: dict[str, Any]) -> Section:
    story = _story_of(Path(run_dir), trace, scenario, None)
    if story is None:
        return Section("One agent's story", paragraphs=["This run has no trace (trace.parquet), so no story."])
    return Section("One agent's story", paragraphs=[story.reason, *story.sentences],
                   figures=[("agent_story", story.figure)])  # fmt: skip


def _agents(run_dir: Path, ids: list[int]) -> pd.DataFrame:
    """Who the traced agents are, read once (agents.parquet; empty if unreadable: the story then says less)."""
    empty = pd.DataFrame({"id": [], "outspoken": []})
    if not ids:
        return empty
    try:
        table = pq.read_table(Path(run_dir) / AGENTS, columns=["id", "region", "income_decile", "outspoken"],
                              filters=[("id", "in", ids)])  # fmt: skip
    except (OSError, ValueError, KeyError):
        return empty
    return table.to_pandas()
