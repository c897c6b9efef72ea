"""The report's "Who bears it" section: outcomes by group (groups.parquet, docs/model.md §15).

Per dimension, the groups' rates of being listed, sanctioned, wrongly sanctioned, ever
wrongly sanctioned and of leaving, on the run's last row day, with each rate's disparity
(the gap and the ratio of the highest group to the lowest, :mod:`trustsim.disparity`);
with ages, how long each age band stays under a sanction; with dependants, the children
each barring sanction bars, per simulated year.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trustsim.disparity import SHOWN, disparity, disparity_table, last_rows, rates
from trustsim.report.figures import PALETTE, styled
from trustsim.report.page import Section

YEAR = 365

_TEXT = ("A group is the agents with one value of a dimension (an emigrant stays in the group it left). "
         "Listed, sanctioned and wrongly sanctioned are shares of the group's alive at the end of the last "
         "row's day; ever wrongly sanctioned and left the country are shares of all its agents. The disparity "
         "of a rate is the gap (highest group minus lowest) and the ratio (highest over lowest: ∞ when only "
         "the lowest is 0).")  # fmt: skip


def bearing_section(groups: pd.DataFrame, metrics: pd.DataFrame, scenario: dict[str, Any]) -> Section:
    """The "Who bears it" section of a run's report."""
    if groups.empty:
        return Section("Who bears it", paragraphs=["This run has no groups.parquet (it was written before "
                                                   "trustsim had breakdowns by group), so no breakdown."])  # fmt: skip
    last = last_rows(groups)
    day = int(last["day"].iloc[0])
    figures = [(f"bearing_{dimension}", group_rates(rows, str(dimension), day))
               for dimension, rows in last.groupby("dimension", sort=False)]  # fmt: skip
    table = disparity_table(groups)
    tables = [(f"Disparities on day {day}: the highest and lowest group of each dimension", table.set_index(
        ["dimension", "rate"]))]  # fmt: skip
    paragraphs = [_TEXT]
    if scenario.get("ages"):
        figures.append(("bearing_age_over_time", refused_by_age(groups)))
        tables.append(("Days a year under a sanction, per person in the band (mean over the run)",
                       days_refused_by_age(groups)))  # fmt: skip
        paragraphs.append("How long each age band stays refused: the share of the band under at least one "
                          "sanction at each row, and the days a year that makes per person.")  # fmt: skip
    barring = [c.removeprefix("children_affected_") for c in metrics.columns if c.startswith("children_affected_")]
    if barring:
        figures.append(("bearing_children", children_barred_figure(metrics, barring)))
        tables.append(("Children barred, per simulated year", children_per_year(metrics, barring)))
        paragraphs.append("A sanction that affects children bars a household's children (from a private school, "
                          "a rented home) on each day one of its adults is under it; wrongly when every such "
                          "adult's sanction is wrongful.")  # fmt: skip
    return Section("Who bears it", paragraphs=paragraphs, figures=figures, tables=tables)


def group_rates(rows: pd.DataFrame, dimension: str, day: int) -> go.Figure:
    """One dimension's groups: a panel per rate of :data:`SHOWN`, a bar per group."""
    figure = make_subplots(rows=1, cols=len(SHOWN), subplot_titles=list(SHOWN.values()), horizontal_spacing=0.06)
    labels = rows["group"].astype(str).tolist()
    for k, column in enumerate(SHOWN):
        figure.add_trace(go.Bar(x=labels, y=rates(rows, column), name=SHOWN[column], showlegend=False,
                                marker={"color": PALETTE[k]}), row=1, col=k + 1)  # fmt: skip
    poorest = " (0 the poorest)" if dimension == "income_quintile" else ""
    figure = styled(figure, f"By {dimension.replace('_', ' ')}{poorest}, day {day}", height=340)
    figure.update_xaxes(title_text="", type="category")
    figure.update_yaxes(tickformat=".3~%", rangemode="tozero")
    figure.update_layout(hovermode="closest")
    return figure


def refused_by_age(groups: pd.DataFrame) -> go.Figure:
    """Share of each age band under at least one sanction, at every row."""
    rows = groups[groups["dimension"] == "age_band"]
    figure = go.Figure()
    for k, (band, band_rows) in enumerate(rows.groupby("group", sort=False)):
        figure.add_trace(go.Scatter(x=band_rows["day"], y=rates(band_rows, "sanctioned"), name=str(band),
                                    mode="lines+markers", line={"color": PALETTE[k % len(PALETTE)]}))  # fmt: skip
    figure = styled(figure, "Under a sanction, by age band", "share of the band's alive")
    figure.update_yaxes(tickformat=".3~%", rangemode="tozero")
    return figure


def days_refused_by_age(groups: pd.DataFrame) -> pd.DataFrame:
    """Per age band: the share under a sanction, averaged over the rows weighted by the days each row stands for
    (since the previous row: the last row may follow the one before by a few days only), as days a year."""
    rows = groups[groups["dimension"] == "age_band"].copy()
    days = np.sort(rows["day"].unique())
    covered = dict(zip(days, np.diff(np.concatenate([[-1], days])), strict=True))
    rows["weight"] = rows["day"].map(covered).astype(float)
    rows["weighted"] = rates(rows, "sanctioned") * rows["weight"]
    sums = rows.groupby("group", sort=False)[["weighted", "weight"]].sum()
    by_band = sums["weighted"] / sums["weight"]
    return pd.DataFrame({"share under a sanction": by_band, "days a year": by_band * YEAR}).rename_axis("age band")


def children_barred_figure(metrics: pd.DataFrame, barring: list[str]) -> go.Figure:
    """Children barred each day by each sanction that bars them, and those wrongly barred."""
    figure = go.Figure()
    for k, sanction in enumerate(barring):
        colour = PALETTE[k % len(PALETTE)]
        figure.add_trace(go.Scatter(x=metrics["day"], y=metrics[f"children_affected_{sanction}"], mode="lines",
                                    name=f"{sanction}", line={"color": colour}))  # fmt: skip
        figure.add_trace(go.Scatter(x=metrics["day"], y=metrics[f"children_wrongly_affected_{sanction}"],
                                    mode="lines", name=f"{sanction}, wrongly", line={"color": colour, "dash": "dot"}))
    return styled(figure, "Children barred", "children")


def children_per_year(metrics: pd.DataFrame, barring: list[str]) -> pd.DataFrame:
    """Per simulated year and sanction: children barred on a mean day, on the worst day, and wrongly (mean)."""
    year = (metrics["day"] // YEAR + 1).rename("year")
    out = {}
    for sanction in barring:
        barred = metrics[f"children_affected_{sanction}"].groupby(year)
        wrongly = metrics[f"children_wrongly_affected_{sanction}"].groupby(year)
        out[(sanction, "mean day")] = barred.mean()
        out[(sanction, "most")] = barred.max().astype(float)
        out[(sanction, "wrongly, mean day")] = wrongly.mean()
    table = pd.DataFrame(out)
    table.columns = [f"{sanction}: {what}" for sanction, what in table.columns]
    return table.rename_axis("year")


def disparity_over_seeds(per_run: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """For experiments: per dimension, the mean gap and ratio of ``column``'s rate over runs, with 95% intervals.

    ``per_run``: each run's groups rows. An infinite or undefined ratio in some run leaves
    the ratio's interval to the runs where it is finite (their number is given).
    """
    from scipy import stats

    values: dict[str, dict[str, list[float]]] = {}
    for groups in per_run:
        last = last_rows(groups)
        for dimension, rows in last.groupby("dimension", sort=False):
            gap, ratio = disparity(rates(rows, column))
            entry = values.setdefault(str(dimension), {"gap": [], "ratio": []})
            entry["gap"].append(gap)
            entry["ratio"].append(ratio)
    out = []
    for dimension, entry in values.items():
        row: dict[str, Any] = {"dimension": dimension}
        for kind in ("gap", "ratio"):
            finite = np.array([v for v in entry[kind] if np.isfinite(v)], dtype=float)
            mean = float(finite.mean()) if finite.size else np.nan
            half = (float(stats.t.ppf(0.975, finite.size - 1) * finite.std(ddof=1) / np.sqrt(finite.size))
                    if finite.size >= 2 else np.nan)  # fmt: skip
            row |= {kind: mean, f"{kind} ci_low": mean - half, f"{kind} ci_high": mean + half}
        row["runs with a finite ratio"] = int(np.isfinite(entry["ratio"]).sum())
        out.append(row)
    return pd.DataFrame(out)
