"""Who bears it: rates and disparities of ``groups.parquet`` (docs/model.md §15).

A group's **rate** of a column is the column over the group's ``alive`` (the state
columns: listed, wrongly listed, sanctioned, wrongly sanctioned) or over its ``agents``
(the ever-columns and the emigrated, which count emigrants too); the flows (denials,
wrongful points) are summed over every row of the run, so their rate is per agent over
the whole run. ``score_mean`` is its own rate. The **disparity** of a column within a
dimension is reported two ways: the gap (highest group's rate minus lowest) and the ratio
(highest over lowest: infinite when only the lowest is 0, undefined when every rate is).

A **quantity** names one number of a run's groups table, on its last row day, for
experiments: ``disparity:COLUMN:DIMENSION`` (the ratio), ``gap:COLUMN:DIMENSION``, or
``rate:COLUMN:DIMENSION=GROUP``, e.g. ``gap:ever_wrongly_sanctioned:income_quintile``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

OVER_ALIVE = ("blacklisted", "listed_wrongly", "sanctioned", "wrongly_sanctioned")
"""State columns, counted among the alive at the end of the day: their rates are over ``alive``."""
OVER_AGENTS = ("ever_sanctioned", "ever_wrongly_sanctioned", "emigrated")
"""Columns over all the group's agents, emigrants included."""
FLOWS = ("denials", "wrongful_points")
"""Columns counted since the previous row: summed over the run, per agent."""
RATE_COLUMNS = (*OVER_ALIVE, *OVER_AGENTS, *FLOWS, "score_mean")
"""The columns that have a rate."""
KINDS = ("disparity", "gap", "rate")
"""The kinds of quantity."""

SHOWN = {
    "blacklisted": "listed",
    "sanctioned": "sanctioned",
    "wrongly_sanctioned": "wrongly sanctioned",
    "ever_wrongly_sanctioned": "ever wrongly sanctioned",
    "emigrated": "left the country",
}
"""The rates the report draws for every dimension, with their words."""


def last_rows(groups: pd.DataFrame) -> pd.DataFrame:
    """The rows of the last row day (the run's end), flows summed over every row."""
    last = groups[groups["day"] == groups["day"].max()].copy()
    if len(last):
        totals = groups.groupby(["dimension", "group"], sort=False)[list(FLOWS)].sum()
        keys = pd.MultiIndex.from_frame(last[["dimension", "group"]])
        for column in FLOWS:
            last[column] = totals[column].reindex(keys).to_numpy()
    return last


def rates(rows: pd.DataFrame, column: str) -> pd.Series:
    """Each row's rate of ``column`` (NaN where its group is empty)."""
    if column == "score_mean":
        return rows[column].astype(float)
    over = rows["alive"] if column in OVER_ALIVE else rows["agents"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rows[column] / over.where(over > 0)).astype(float)


def disparity(values: np.ndarray | pd.Series) -> tuple[float, float]:
    """The gap (highest − lowest) and ratio (highest / lowest) of some groups' rates, empty groups left out.

    The ratio is infinite when only the lowest rate is 0 and NaN when every rate is 0 (or
    no group has a rate).
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    high, low = float(finite.max()), float(finite.min())
    if high == 0.0:
        return 0.0, math.nan
    return high - low, (high / low if low > 0 else math.inf)


def disparity_table(groups: pd.DataFrame, columns: tuple[str, ...] = tuple(SHOWN)) -> pd.DataFrame:
    """Per dimension and column, on the last row day: the highest and lowest groups, their rates, gap and ratio."""
    last = last_rows(groups)
    out = []
    for dimension, rows in last.groupby("dimension", sort=False):
        for column in columns:
            values = rates(rows, column)
            gap, ratio = disparity(values)
            defined = values.notna()
            high = rows["group"][defined].iloc[int(np.argmax(values[defined]))] if defined.any() else "–"
            low = rows["group"][defined].iloc[int(np.argmin(values[defined]))] if defined.any() else "–"
            out.append({"dimension": dimension, "rate": SHOWN.get(column, column), "highest": high,
                        "highest rate": float(values.max()), "lowest": low, "lowest rate": float(values.min()),
                        "gap": gap, "ratio": ratio})  # fmt: skip
    return pd.DataFrame(out)


class Quantity(NamedTuple):
    """One number of a run's groups table: ``KIND:COLUMN:DIMENSION`` or ``rate:COLUMN:DIMENSION=GROUP``."""

    kind: str
    column: str
    dimension: str
    group: str | None

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Read a quantity; ValueError with how to write one if it is malformed."""
        parts = text.split(":")
        if len(parts) != 3 or parts[0] not in KINDS:
            raise ValueError(
                f"{text!r} is not a groups quantity: write disparity:COLUMN:DIMENSION, "
                "gap:COLUMN:DIMENSION or rate:COLUMN:DIMENSION=GROUP"
            )
        kind, column, where = parts
        if column not in RATE_COLUMNS:
            raise ValueError(f"{text!r}: {column!r} is not a groups.parquet column with a rate; "
                             f"choose from {', '.join(RATE_COLUMNS)}")  # fmt: skip
        dimension, _, group = where.partition("=")
        if (kind == "rate") != bool(group):
            raise ValueError(f"{text!r}: a rate names one group (rate:COLUMN:DIMENSION=GROUP), "
                             "a disparity or gap a whole dimension")  # fmt: skip
        return cls(kind, column, dimension, group or None)

    def check(self, dimensions: dict[str, list[str]]) -> None:
        """ValueError if the dimension or group is not one of a scenario's (``dimensions``: its groups)."""
        if self.dimension not in dimensions:
            raise ValueError(f"{self.text}: no dimension {self.dimension!r} in this scenario; "
                             f"choose from {', '.join(dimensions)}")  # fmt: skip
        if self.group is not None and self.group not in dimensions[self.dimension]:
            raise ValueError(f"{self.text}: no group {self.group!r} in {self.dimension}; "
                             f"choose from {', '.join(dimensions[self.dimension])}")  # fmt: skip

    @property
    def text(self) -> str:
        """The quantity as written."""
        where = f"{self.dimension}={self.group}" if self.group is not None else self.dimension
        return f"{self.kind}:{self.column}:{where}"

    def of(self, groups: pd.DataFrame) -> float:
        """Its value in a run's groups table (NaN if the run has no such rows)."""
        last = last_rows(groups)
        rows = last[last["dimension"] == self.dimension]
        values = rates(rows, self.column)
        if self.kind == "rate":
            picked = values[rows["group"] == self.group]
            return float(picked.iloc[0]) if len(picked) else math.nan
        gap, ratio = disparity(values)
        return gap if self.kind == "gap" else ratio


def is_quantity(name: str) -> bool:
    """Whether a metric name is a groups quantity (it has a colon) rather than a headline figure."""
    return ":" in name


def who_bears_it(groups: pd.DataFrame, children: dict[str, int] | None = None) -> str | None:
    """One line of who bears it, on the last row day: the poorest income quintile against the richest and (with
    ages) the youngest band against the oldest, in the share ever wrongly sanctioned (ever sanctioned when
    nobody was wrongly), then the children each barring sanction bars (``children``: sanction → count).

    None without rows.
    """
    last = last_rows(groups)
    if not len(last):
        return None
    column = "ever_wrongly_sanctioned" if last["ever_wrongly_sanctioned"].sum() > 0 else "ever_sanctioned"
    parts = []
    for dimension in ("income_quintile", "age_band"):
        rows = last[last["dimension"] == dimension]
        if len(rows) >= 2:
            values = rates(rows, column).to_numpy()
            first, end = rows["group"].iloc[0], rows["group"].iloc[-1]
            low, high = (
                ("the poorest fifth", "the richest") if dimension == "income_quintile" else (f"ages {first}", end)
            )
            parts.append(f"{_share(values[0])} of {low} against {_share(values[-1])} of {high}")
    text = f"{column.replace('_', ' ')}: " + "; ".join(parts)
    for sanction, count in (children or {}).items():
        text += f"; {count:,} children barred by {sanction}"
    return text


def children_barred(metrics: pd.DataFrame) -> dict[str, int]:
    """Children barred on the last day by each sanction that bars them (``children_affected_<s>``)."""
    prefix = "children_affected_"
    last = metrics.iloc[-1]
    return {column.removeprefix(prefix): int(last[column]) for column in metrics.columns if column.startswith(prefix)}


def _share(value: float) -> str:
    """A rate in words: two decimals under 1% (so a small rate is not shown as 0.0%)."""
    if math.isnan(value):
        return "–"
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}"
