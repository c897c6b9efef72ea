"""The dashboard's "who bears it" panel: one dimension's groups, their rates and the disparity, live (no Solara here).

It reads the groups rows a live run publishes (:attr:`trustsim.dashboard.live.Snapshot.groups`,
:func:`trustsim.groups.rows_of` of the state after the last day) and draws, for the
groups of one dimension (docs/model.md §15), the rates of
:data:`trustsim.disparity.SHOWN` (:func:`trustsim.disparity.rates`) as small multiples:
one panel of horizontal bars per rate, each on its own scale, the groups on a shared
axis. A line of text gives the disparity (highest group over lowest, and the gap) of
the share ever wrongly sanctioned, or of the share ever sanctioned while nobody has been
wrongly sanctioned.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from trustsim.disparity import SHOWN, disparity, rates
from trustsim.groups import dimensions
from trustsim.report.figures import PALETTE, TEMPLATE
from trustsim.scenario import Scenario

DEFAULT_DIMENSION = "income_quintile"
"""The dimension the panel shows until another is chosen."""
DIMENSION_WORDS = {
    "region": "region",
    "income_quintile": "income quintile",
    "outspoken": "outspoken",
    "cashless": "cashless",
    "privacy_minded": "privacy-minded",
    "age_band": "age band",
    "has_children": "has children",
}
"""Each dimension as the page names it."""
BOOLEAN_WORDS = {
    "outspoken": ("not outspoken", "outspoken"),
    "cashless": ("uses cash", "cashless"),
    "privacy_minded": ("not privacy-minded", "privacy-minded"),
    "has_children": ("no children", "with children"),
}
"""The groups ``false`` and ``true`` of the yes-or-no dimensions, in words."""
EMPTY_LINE = "Who bears it fills in from the first day."
"""The disparity line before day 1."""
ROW_HEIGHT = 30
"""Pixels per group in the figure."""


def dimension_words(dimension: str) -> str:
    """A dimension as the page names it (``income_quintile``: ``income quintile``)."""
    return DIMENSION_WORDS.get(dimension, dimension.replace("_", " "))


def dimension_choices(scenario: Scenario) -> dict[str, str]:
    """The scenario's dimensions by their words, in the breakdown's order (for the selector)."""
    return {dimension_words(dimension): dimension for dimension in dimensions(scenario)}


def chosen_dimension(scenario: Scenario, dimension: str) -> str:
    """``dimension`` if the scenario breaks its agents down by it, else :data:`DEFAULT_DIMENSION`."""
    return dimension if dimension in dimensions(scenario) else DEFAULT_DIMENSION


def group_words(dimension: str, groups: list[str]) -> list[str]:
    """The labels of a dimension's groups in words: quintiles Q1 (poorest) … Q5 (richest), yes-or-no groups named."""
    if dimension == "income_quintile":
        words = [f"Q{int(group) + 1}" for group in groups]
        if len(words) >= 2:
            words[0], words[-1] = f"{words[0]} (poorest)", f"{words[-1]} (richest)"
        return words
    if dimension in BOOLEAN_WORDS:
        no, yes = BOOLEAN_WORDS[dimension]
        return [yes if group == "true" else no if group == "false" else group for group in groups]
    return list(groups)


def panel_rates(groups: pd.DataFrame, scenario: Scenario, dimension: str) -> pd.DataFrame:
    """Each group of ``dimension`` (rows, in order, all of them) by each rate of SHOWN (columns); NaN without rows."""
    labels = dimensions(scenario)[dimension]
    rows = groups[groups["dimension"] == dimension].set_index("group")
    table = pd.DataFrame({column: rates(rows, column) for column in SHOWN}, index=rows.index, dtype=float)
    return table.reindex(labels)


def days_done(groups: pd.DataFrame) -> int:
    """The days simulated when the groups rows were counted (0 without rows)."""
    return int(groups["day"].max()) + 1 if len(groups) else 0


def rate_text(value: float) -> str:
    """A rate in words: two decimals under 1% (so a small rate is not shown as 0.0%); empty for none."""
    if not math.isfinite(value):
        return ""
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}"


def figure(groups: pd.DataFrame, scenario: Scenario, dimension: str, width: int) -> go.Figure:
    """The panel's chart: one bar per group in each rate's own panel (empty bars before day 1, the groups shown).

    The layout is written out rather than made by plotly's ``make_subplots``, which takes
    several times as long: the figure is drawn anew with every snapshot.
    """
    table = panel_rates(groups, scenario, dimension)
    labels = group_words(dimension, list(table.index))
    traces = [_bars(table[column].to_numpy(), labels, words, PALETTE[k], k) for k, (column, words) in
              enumerate(SHOWN.items())]  # fmt: skip
    day = days_done(groups)
    title = f"By {dimension_words(dimension)}" + (f", after day {day}" if day else "")
    layout = _panels([_upper(table[column].to_numpy()) for column in SHOWN], dimension_words(dimension))
    layout |= {"title": {"text": title, "x": 0.01, "font": {"size": 15}}, "template": TEMPLATE, "width": width,
               "height": 120 + ROW_HEIGHT * len(labels), "autosize": False, "showlegend": False, "bargap": 0.25,
               "margin": {"l": 60, "r": 40, "t": 70, "b": 30}}  # fmt: skip
    return go.Figure(traces, layout)


def _panels(uppers: list[float], y_title: str) -> dict[str, object]:
    """Side-by-side panels, one per rate (x axes ``x``, ``x2`` …, each ending at its ``upper``) sharing the groups."""
    spacing = 0.05
    size = (1 - spacing * (len(uppers) - 1)) / len(uppers)
    layout: dict[str, object] = {"annotations": []}
    for k, (upper, words) in enumerate(zip(uppers, SHOWN.values(), strict=True)):
        start, suffix = k * (size + spacing), str(k + 1) if k else ""
        layout[f"xaxis{suffix}"] = {"domain": [start, start + size], "anchor": f"y{suffix}", "range": [0, upper],
                                    "tickformat": ".2~p", "nticks": 3}  # fmt: skip
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "autorange": "reversed"} | (
            {"matches": "y", "showticklabels": False} if k else {"title": {"text": y_title}})  # fmt: skip
        layout["annotations"].append({"text": words, "x": start + size / 2, "y": 1, "xref": "paper", "yref": "paper",
                                      "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 12}})  # fmt: skip
    return layout


def _bars(values: np.ndarray, labels: list[str], words: str, colour: str, panel: int) -> go.Bar:
    """One rate's horizontal bars in its panel, each labelled with its value."""
    suffix = str(panel + 1) if panel else ""
    return go.Bar(x=values, y=labels, xaxis=f"x{suffix}", yaxis=f"y{suffix}", orientation="h", name=words,
                  marker_color=colour, cliponaxis=False, text=[rate_text(float(v)) for v in values],
                  textposition="outside", textfont={"size": 10},
                  hovertemplate=f"%{{y}}: %{{x:.3~p}}<extra>{words}</extra>")  # fmt: skip


def _upper(values: np.ndarray) -> float:
    """The end of a rate's axis: room for the longest bar and its label (1% when no group has any)."""
    finite = values[np.isfinite(values)]
    highest = float(finite.max()) if finite.size else 0.0
    return 1.4 * highest if highest > 0 else 0.01


def headline_column(rows: pd.DataFrame) -> str:
    """The column the disparity line is about: ever wrongly sanctioned, or ever sanctioned while nobody was wrongly."""
    return "ever_wrongly_sanctioned" if rows["ever_wrongly_sanctioned"].sum() > 0 else "ever_sanctioned"


def disparity_line(groups: pd.DataFrame, dimension: str) -> str:
    """One line: the groups of ``dimension`` with the highest and lowest rate, their ratio and their gap."""
    if groups.empty:
        return EMPTY_LINE
    rows = groups[groups["dimension"] == dimension]
    column = headline_column(rows)
    values = rates(rows, column).to_numpy()
    gap, ratio = disparity(values)
    after = f"After day {days_done(groups)}"
    if math.isnan(gap):
        return f"{after}, no group of {dimension_words(dimension)} has agents."
    if math.isnan(ratio):
        return f"{after}, nobody has been sanctioned yet."
    subject = f"{after}, {column.replace('_', ' ')} by {dimension_words(dimension)}"
    if column == "ever_sanctioned":
        subject += " (nobody wrongly yet)"
    labels = group_words(dimension, list(rows["group"]))
    high, low = int(np.nanargmax(values)), int(np.nanargmin(values))
    highest, lowest = f"{labels[high]} {rate_text(values[high])}", f"{labels[low]} {rate_text(values[low])}"
    than = f", {ratio:.3g} times {lowest}" if math.isfinite(ratio) else f" against none in {labels[low]}"
    return f"{subject}: {highest}{than}; a gap of {gap * 100:.3g} percentage points."
