"""One agent's story, told from the trace of a run (``trace.parquet``, see :mod:`trustsim.trace`).

The report picks, among the traced (outspoken) agents, the one listed earliest; if no
traced agent was ever listed, the one whose score fell lowest, and it says so. An
emigrant's story ends on the day they left (their state is frozen from then on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trustsim.report.figures import PALETTE, styled


@dataclass(frozen=True)
class Choice:
    """The agent whose story is told, and why that one."""

    agent: int
    listed: bool
    reason: str


def present(trace: pd.DataFrame) -> pd.Series:
    """Rows where the agent is still in the society: not emigrated, or emigrating that very day.

    An emigrant's state is frozen when they leave, so their later rows still say
    "blacklisted"; a story counts only the days they lived through.
    """
    ordered = trace.sort_values(["id", "day"])
    left_before = ordered.groupby("id")["emigrated"].shift(1, fill_value=False).astype(bool)
    return (~left_before).reindex(trace.index)


def choose_agent(trace: pd.DataFrame, panel: str = "traced") -> Choice | None:
    """The traced agent listed earliest (ties: lowest id), else the one whose score fell lowest; None if no trace.

    ``panel`` names the traced agents in the explanation ("traced outspoken", ...).
    """
    if trace.empty:
        return None
    listed = trace[trace["blacklisted"] & present(trace)]
    size = trace["id"].nunique()
    if len(listed):
        first = listed.sort_values(["day", "id"]).iloc[0]
        ever = listed["id"].nunique()
        reason = (f"{ever} of the {size} {panel} agents were listed during the run; this is the one "
                  f"listed first (day {int(first['day'])}).")  # fmt: skip
        return Choice(int(first["id"]), True, reason)
    lowest = trace.sort_values(["score", "id"]).iloc[0]
    fell = lowest["score"] < trace[trace["day"] == trace["day"].min()]["score"].max()
    how = (f"the one whose score fell lowest ({lowest['score']:,.0f} on day {int(lowest['day'])})" if fell
           else "no traced score fell below where it started; this is the lowest-numbered one")  # fmt: skip
    reason = f"None of the {size} {panel} agents was listed during the run; this is {how}."
    return Choice(int(lowest["id"]) if fell else int(trace["id"].min()), False, reason)


def _periods(days: np.ndarray, flags: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of days where ``flags`` holds, as (first, last) pairs."""
    out: list[tuple[int, int]] = []
    for day, flag in zip(days, flags, strict=True):
        if flag and out and out[-1][1] == day - 1:
            out[-1] = (out[-1][0], int(day))
        elif flag:
            out.append((int(day), int(day)))
    return out


def _events(story: pd.DataFrame, scenario: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(column, label, marker, colour) of every event kind that happened to the agent."""
    kinds = []
    for b, spec in scenario["behaviours"].items():
        if spec["points"] < 0:
            kinds += [(f"committed_{b}", f"did: {b}", "circle-open", PALETTE[0]),
                      (f"recorded_{b}", f"recorded: {b}", "circle", PALETTE[4])]  # fmt: skip
        kinds.append((f"misattributed_to_{b}", f"wrongly pinned: {b}", "x", PALETTE[1]))
    kinds += [(f"denied_{s}", f"refused: {s}", "square", PALETTE[3]) for s in scenario["sanctions"]]
    return [k for k in kinds if k[0] in story and story[k[0]].any()]


def story_figure(trace: pd.DataFrame, agent: int, scenario: dict[str, Any]) -> go.Figure:
    """Score (listed periods shaded), the day-by-day events, and the agent's friends, up to the day they left."""
    story = trace[(trace["id"] == agent) & present(trace)].sort_values("day")
    days = story["day"].to_numpy()
    events = _events(story, scenario)
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.45, 0.4, 0.15], vertical_spacing=0.04)
    figure.add_trace(go.Scatter(x=days, y=story["score"], name="score", mode="lines",
                                line={"color": PALETTE[0], "width": 2}), row=1, col=1)  # fmt: skip
    figure.add_trace(go.Scatter(x=days, y=story["score"] + story["wrongful"], name="score without wrongful points",
                                mode="lines", line={"color": PALETTE[6], "dash": "dot"}), row=1, col=1)  # fmt: skip
    for first, last in _periods(days, story["blacklisted"].to_numpy()):
        figure.add_vrect(x0=first - 0.5, x1=last + 0.5, fillcolor="rgba(192,57,43,0.12)", line_width=0, row=1, col=1)
    threshold = scenario["blacklist"]["blacklist_score"]
    if len(story) and story["score"].min() - 200 <= threshold <= story["score"].max() + 200:
        figure.add_hline(y=threshold, line={"color": "#999", "dash": "dot"}, row=1, col=1)
    for column, label, marker, colour in events:
        hit = story[column].to_numpy()
        figure.add_trace(go.Scatter(x=days[hit], y=[label] * int(hit.sum()), name=label, mode="markers",
                                    marker={"symbol": marker, "color": colour, "size": 8}, showlegend=False),
                         row=2, col=1)  # fmt: skip
    figure.add_trace(go.Scatter(x=days, y=story["active_degree"], name="friends", mode="lines",
                                line={"color": PALETTE[2]}, showlegend=False), row=3, col=1)  # fmt: skip
    figure = styled(figure, f"Agent #{agent}: score, events and friends (listed periods shaded)",
                    height=300 + 26 * max(len(events), 3))  # fmt: skip
    figure.update_yaxes(title_text="score", row=1, col=1)
    figure.update_yaxes(title_text="friends", row=3, col=1)
    figure.update_xaxes(title_text="", row=1, col=1)
    figure.update_xaxes(title_text="", row=2, col=1)
    figure.update_layout(hovermode="closest")
    return figure


def narrative(trace: pd.DataFrame, agent: int, scenario: dict[str, Any], about: dict[str, Any]) -> list[str]:
    """The story in plain sentences, up to the day the agent left (if they emigrated)."""
    story = trace[(trace["id"] == agent) & present(trace)].sort_values("day")
    first, last = story.iloc[0], story.iloc[-1]
    who = "an outspoken agent" if about.get("outspoken") else "an agent"
    lines = [
        f"Agent #{agent} is {who}{_about(about)}. Everybody starts with a score of "
        f"{scenario['score']['base_score']:,.0f}; at the end of day {int(first['day'])} they have "
        f"{int(first['active_degree'])} friends."
    ]
    for b, spec in scenario["behaviours"].items():
        did, recorded = int(story[f"committed_{b}"].sum()), int(story[f"recorded_{b}"].sum())
        wrong = int(story[f"misattributed_to_{b}"].sum())
        if spec["points"] < 0 and did:
            lines.append(f"Over {len(story)} days they did {b} {_times(did)}; the system recorded {recorded} "
                         f"of them against them.")  # fmt: skip
        if wrong:
            lines.append(f"Somebody else's {b} was pinned on them by mistake {_times(wrong)}.")
    listed = _periods(story["day"].to_numpy(), story["blacklisted"].to_numpy())
    if listed:
        how = "by a court" if story.loc[story["day"] == listed[0][0], "court_listed"].any() else "by score"
        periods = "one period" if len(listed) == 1 else f"{len(listed)} periods"
        lines.append(f"They were listed {how} on day {listed[0][0]}; listed for "
                     f"{sum(b - a + 1 for a, b in listed)} days in {periods}.")  # fmt: skip
    refused = {s: int(story[f"denied_{s}"].sum()) for s in scenario["sanctions"]}
    refused = {s: n for s, n in refused.items() if n}
    if refused:
        lines.append("Refusals: " + ", ".join(f"{s} ×{n}" for s, n in refused.items()) + ".")
    if last["emigrated"]:
        lines.append(f"They emigrated on day {int(last['day'])}, with a score of {last['score']:,.0f}.")
    else:
        listed_now = "still listed" if last["blacklisted"] else "not listed"
        lines.append(f"On the last day their score is {last['score']:,.0f} ({listed_now}), with "
                     f"{int(last['active_degree'])} friends left.")  # fmt: skip
    return lines


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _about(about: dict[str, Any]) -> str:
    parts = []
    if "region" in about:
        parts.append(f"region {about['region']}")
    if "income_decile" in about:
        parts.append(f"income decile {int(about['income_decile'])}, 0 the poorest and 9 the richest")
    return f" ({', '.join(parts)})" if parts else ""
