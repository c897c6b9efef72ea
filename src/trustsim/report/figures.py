"""Plotly figures of one run, each from its daily metrics (and the resolved scenario).

Every function takes ``metrics`` (the ``metrics.parquet`` table, all days or the days
so far) and ``scenario`` (the resolved scenario as JSON data, ``Scenario.resolved()``
or a manifest's ``"scenario"``) and returns a :class:`plotly.graph_objects.Figure`.
The report and the dashboard draw the same figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

Scenario = dict[str, Any]

PALETTE = ("#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50", "#b7950b")
"""Trace colours, in order (print-friendly, distinguishable in grey)."""

_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "automargin": True}
_LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"}, "colorway": PALETTE}
TEMPLATE = go.layout.Template(layout=_LAYOUT | {"xaxis": _AXIS, "yaxis": _AXIS})
"""A light look like plotly's "plotly_white", built once: naming that template copies it per figure (60 ms each)."""


def styled(figure: go.Figure, title: str, y_title: str = "", height: int = 360) -> go.Figure:
    """The common look: title, white template, legend below, day axis."""
    figure.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template=TEMPLATE,
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.18},
        hovermode="x unified",
    )
    figure.update_xaxes(title_text="day")
    if y_title:
        figure.update_yaxes(title_text=y_title)
    return figure


def _line(metrics: pd.DataFrame, column: str, name: str, **style: Any) -> go.Scatter:
    return go.Scatter(x=metrics["day"], y=metrics[column], name=name, mode="lines", **style)


def _names(scenario: Scenario, section: str) -> list[str]:
    return list(scenario[section])


def score_distribution(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Score percentile band (10th–90th), median and mean over time."""
    day = metrics["day"]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=day, y=metrics["score_p90"], name="90th percentile", mode="lines",
                                line={"width": 0.5, "color": PALETTE[0]}))  # fmt: skip
    band = {"width": 0.5, "color": PALETTE[0]}
    figure.add_trace(go.Scatter(x=day, y=metrics["score_p10"], name="10th percentile", mode="lines",
                                fill="tonexty", fillcolor="rgba(31,78,121,0.18)", line=band))  # fmt: skip
    figure.add_trace(_line(metrics, "score_p50", "median", line={"color": PALETTE[0], "width": 2}))
    figure.add_trace(_line(metrics, "score_mean", "mean", line={"color": PALETTE[1], "dash": "dash"}))
    threshold = scenario["blacklist"]["blacklist_score"]
    if scenario["score"]["score_min"] <= threshold <= scenario["score"]["score_max"]:  # else nobody can be listed
        figure.add_hline(y=threshold, line={"color": "#999", "dash": "dot"}, annotation_text="blacklist threshold")
    return styled(figure, "Score distribution (10th–90th percentile band)", "score")


def tiers(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Share of the alive in each tier, stacked."""
    figure = go.Figure()
    for tier in scenario["tiers"]:
        column = f"tier_{tier['name']}"
        figure.add_trace(go.Scatter(x=metrics["day"], y=metrics[column], name=tier["name"], mode="lines",
                                    stackgroup="tiers"))  # fmt: skip
    figure = styled(figure, "Tier shares", "share of the alive")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def blacklist(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Blacklist size, and daily entries (by score, by court) and exits."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06)
    figure.add_trace(_line(metrics, "blacklisted", "on the blacklist", line={"color": PALETTE[1]}), row=1, col=1)
    for column, name, colour in (("blacklist_entries_score", "entries by score", PALETTE[0]),
                                 ("blacklist_entries_court", "entries by court", PALETTE[3])):  # fmt: skip
        figure.add_trace(go.Bar(x=metrics["day"], y=metrics[column], name=name, marker_color=colour), row=2, col=1)
    figure.add_trace(go.Bar(x=metrics["day"], y=-metrics["blacklist_exits"], name="exits (below zero)",
                            marker_color=PALETTE[2]), row=2, col=1)  # fmt: skip
    figure.update_layout(barmode="relative")
    figure.update_yaxes(title_text="agents", row=1, col=1)
    figure.update_yaxes(title_text="per day", row=2, col=1)
    figure = styled(figure, "Blacklist: size, entries and exits", height=460)
    figure.update_xaxes(title_text="", row=1, col=1)
    return figure


def sanctions_active(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Agents under each sanction, day by day."""
    figure = go.Figure([_line(metrics, f"active_{s}", s) for s in _names(scenario, "sanctions")])
    return styled(figure, "Sanctions in force", "agents sanctioned")


def denials(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Cumulative refusals by sanction."""
    figure = go.Figure()
    for s in _names(scenario, "sanctions"):
        figure.add_trace(go.Scatter(x=metrics["day"], y=metrics[f"denials_{s}"].cumsum(), name=s, mode="lines"))
    return styled(figure, "Refusals (cumulative) by sanction", "refusals")


def yearly_denials(metrics: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Refusals per sanction and simulated year (days 0–364 are year 1; a last partial year says so)."""
    year = metrics["day"] // 365 + 1
    columns = [f"denials_{s}" for s in _names(scenario, "sanctions")]
    table = metrics[columns].groupby(year).sum().T
    days = metrics["day"].groupby(year).count()
    table.columns = [f"year {y}" + (f" ({days[y]} days)" if days[y] < 365 else "") for y in table.columns]
    table.index = [c.removeprefix("denials_") for c in columns]
    table.loc["all sanctions"] = table.sum()
    return table


def wrongful(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Agents wrongly sanctioned today and ever (left scale), beside everybody ever sanctioned (right scale).

    Each has its own scale: the wrongly sanctioned are often a hundredth of those sanctioned,
    and on one scale their lines would lie flat on the day axis.
    """
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(_line(metrics, "wrongly_sanctioned", "wrongly sanctioned today", line={"color": PALETTE[1]}))
    figure.add_trace(_line(metrics, "ever_wrongly_sanctioned", "ever wrongly sanctioned",
                           line={"color": PALETTE[1], "dash": "dot"}))  # fmt: skip
    figure.add_trace(_line(metrics, "ever_sanctioned", "ever sanctioned (right scale)", line={"color": PALETTE[6]}),
                     secondary_y=True)  # fmt: skip
    figure = styled(figure, "Wrongful sanctions: now and ever", "agents wrongly sanctioned")
    figure.update_yaxes(title_text="agents ever sanctioned", secondary_y=True, color=PALETTE[6], showgrid=False,
                        rangemode="tozero")  # fmt: skip
    figure.update_yaxes(color=PALETTE[1], secondary_y=False, rangemode="tozero")
    return figure


def wrongful_sources(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Per behaviour: misattributions caught in review and those that stood; the review backlog."""
    behaviours = [b for b in _names(scenario, "behaviours") if metrics[f"misattributed_{b}"].sum() > 0]
    behaviours = behaviours or _names(scenario, "behaviours")
    misattributed = np.array([metrics[f"misattributed_{b}"].sum() for b in behaviours], dtype=float)
    caught = np.array([metrics[f"caught_{b}"].sum() for b in behaviours], dtype=float)
    figure = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55],
                           subplot_titles=("misattributions by behaviour (whole run)", "review backlog"))  # fmt: skip
    figure.add_trace(go.Bar(x=behaviours, y=caught, name="caught in review", marker_color=PALETTE[2]), row=1, col=1)
    figure.add_trace(go.Bar(x=behaviours, y=misattributed - caught, name="stood (points on the wrong person)",
                            marker_color=PALETTE[1]), row=1, col=1)  # fmt: skip
    figure.add_trace(_line(metrics, "review_backlog", "review backlog", line={"color": PALETTE[4]}), row=1, col=2)
    figure.update_layout(barmode="stack")
    figure = styled(figure, "Where wrongful points come from: face-recognition misattribution and review", height=380)
    figure.update_xaxes(title_text="", row=1, col=1)
    figure.update_layout(hovermode="closest")
    return figure


def chilling(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Dissent posted against the unchilled expectation, and the chilling effect (28-day windows)."""
    committed = metrics["dissent_committed"].rolling(28, min_periods=1).sum()
    unchilled = metrics["dissent_unchilled"].rolling(28, min_periods=1).sum()
    effect = np.where(unchilled > 0, 1.0 - committed / unchilled.where(unchilled > 0, 1.0), np.nan)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(_line(metrics, "dissent_unchilled", "dissent expected without chill",
                           line={"color": PALETTE[6], "dash": "dot"}))  # fmt: skip
    figure.add_trace(_line(metrics, "dissent_committed", "dissent posted", line={"color": PALETTE[0]}))
    figure.add_trace(go.Scatter(x=metrics["day"], y=effect, name="chilling effect (28 days)", mode="lines",
                                line={"color": PALETTE[1]}), secondary_y=True)  # fmt: skip
    figure = styled(figure, "Chilling effect on dissent", "posts per day")
    figure.update_yaxes(title_text="chilling effect", tickformat=".0%", secondary_y=True)
    return figure


def isolation(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Mean active degree of the listed against the others, and agents with no friend left."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(_line(metrics, "mean_degree_others", "mean friends: others", line={"color": PALETTE[0]}))
    figure.add_trace(_line(metrics, "mean_degree_blacklisted", "mean friends: blacklisted",
                           line={"color": PALETTE[1]}))  # fmt: skip
    figure.add_trace(_line(metrics, "isolated", "agents with no friend left", line={"color": PALETTE[6],
                           "dash": "dot"}), secondary_y=True)  # fmt: skip
    figure = styled(figure, "Isolation of the listed", "active friends")
    figure.update_yaxes(title_text="isolated agents", secondary_y=True)
    return figure


def import_share(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Imported purchases as a share of purchases (docs/model.md §10)."""
    figure = go.Figure([_line(metrics, "import_share", "import share", line={"color": PALETTE[4]})])
    figure = styled(figure, "Import share of purchases", "share")
    figure.update_yaxes(tickformat=".2%")
    return figure


def adaptation(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Agents who went off-grid, hired an adviser or emigrated."""
    figure = go.Figure([
        _line(metrics, "off_grid", "off-grid"),
        _line(metrics, "advised", "advised"),
        _line(metrics, "emigrated", "emigrated (cumulative)"),
    ])  # fmt: skip
    return styled(figure, "Adaptation: off-grid, advised, emigrated", "agents")


def byte_unit(largest: float) -> tuple[float, str]:
    """The decimal unit (size, name) that shows ``largest`` bytes as a number below 1,000."""
    for size, name in ((1e18, "exabytes"), (1e15, "petabytes"), (1e12, "terabytes"), (1e9, "gigabytes"),
                       (1e6, "megabytes")):  # fmt: skip
        if largest >= size:
            return size, name
    return 1.0, "bytes"


def storage(metrics: pd.DataFrame, scenario: Scenario) -> go.Figure:
    """Data stored (records and footage, in the unit that suits the largest amount) and the review backlog."""
    size, unit = byte_unit(float(metrics["stored_bytes"].max()) if len(metrics) else 0.0)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Scatter(x=metrics["day"], y=metrics["stored_bytes"] / size, name="records + footage",
                                mode="lines", fill="tozeroy", line={"color": PALETTE[0]}))  # fmt: skip
    figure.add_trace(go.Scatter(x=metrics["day"], y=metrics["stored_record_bytes"] / size, name="records only",
                                mode="lines", line={"color": PALETTE[2]}))  # fmt: skip
    figure.add_trace(_line(metrics, "review_backlog", "review backlog (instances)", line={"color": PALETTE[4],
                           "dash": "dot"}), secondary_y=True)  # fmt: skip
    figure = styled(figure, "Data stored and review backlog", unit)
    figure.update_yaxes(title_text="review backlog", secondary_y=True)
    return figure


RUN_FIGURES = {
    "score_distribution": score_distribution,
    "tiers": tiers,
    "blacklist": blacklist,
    "sanctions_active": sanctions_active,
    "denials": denials,
    "wrongful": wrongful,
    "wrongful_sources": wrongful_sources,
    "chilling": chilling,
    "isolation": isolation,
    "import_share": import_share,
    "adaptation": adaptation,
    "storage": storage,
}
"""Every run figure by name, in report order."""

HEADLINE = ("score_distribution", "blacklist", "wrongful", "chilling", "isolation")
"""The headline figures of a run: what ``Result.plot()`` draws and the dashboard shows live."""


class Figures(dict[str, go.Figure]):
    """Plotly figures by name, shown one after another in Jupyter (each is also ``figures[name]``)."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for figure in self.values():
            display(figure)

    def show(self) -> None:
        """Show every figure (in a browser outside Jupyter, as ``plotly.graph_objects.Figure.show`` does)."""
        for figure in self.values():
            figure.show()

