"""The daily metrics row of MODEL.md §10, declared up front and preallocated.

Row ``day = t`` is taken at the end of step ``t`` (after phase E). State counts are
over agents alive at the end of the day; event counts (committed, denials, entries,
exits) include agents who emigrated that day.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

from trustsim.day import CHUNK, WRONGLY_SANCTIONED, Day
from trustsim.mechanisms.sanctions import (
    ENTRIES_COURT,
    ENTRIES_SCORE,
    EXITS,
    sanction_conditions,
    tier_bounds,
    tier_index,
)
from trustsim.quantiles import percentiles
from trustsim.scenario import Scenario
from trustsim.world import World

# Layout of the per-chunk state counts of _state_counts: these ten, then one count per
# tier, then agents by sanction-bound position, then listed agents by position.
(
    COUNT_ALIVE,
    COUNT_LISTED,
    COUNT_WRONGLY,
    COUNT_EVER,
    COUNT_EVER_WRONGLY,
    COUNT_OFF_GRID,
    COUNT_ADVISED,
    COUNT_ISOLATED,
) = range(8)
COUNT_DEGREE_LISTED, COUNT_DEGREE_OTHERS, COUNT_FIXED = 8, 9, 10

PERCENTILES = (10.0, 50.0, 90.0)
"""The score percentiles of the metrics row (``score_p10``, ``score_p50``, ``score_p90``)."""


@nb.njit(cache=True)
def state_count_columns(n_tiers: int, n_positions: int) -> int:
    """Columns of the state counts: the fixed ones, the tiers, and two per sanction-bound position."""
    return COUNT_FIXED + n_tiers + 2 * n_positions


def columns(scenario: Scenario) -> dict[str, type]:
    """Every metric column in order, with its dtype (``int`` counts, ``float`` otherwise)."""
    cols: dict[str, type] = {"day": int, "alive": int}
    cols |= {name: float for name in ("score_mean", "score_p10", "score_p50", "score_p90")}
    cols |= {f"tier_{tier.name}": float for tier in scenario.tiers}
    cols |= {
        name: int for name in ("blacklisted", "blacklist_entries_score", "blacklist_entries_court", "blacklist_exits")
    }
    for kind in ("committed", "observed", "misattributed", "caught", "penalised"):
        cols |= {f"{kind}_{b}": int for b in scenario.behaviours}
    for s in scenario.sanctions:
        cols |= {f"active_{s}": int, f"denials_{s}": int}
    cols |= {name: int for name in ("wrongly_sanctioned", "ever_wrongly_sanctioned", "ever_sanctioned")}
    cols |= {"dissent_committed": int, "dissent_unchilled": float, "import_share": float}
    cols |= {"active_edges": int, "isolated": int, "mean_degree_blacklisted": float, "mean_degree_others": float}
    cols |= {"off_grid": int, "advised": int, "emigrated": int, "review_backlog": float}
    cols |= {"stored_record_bytes": float, "stored_bytes": float}
    return cols


EVENT_PREFIXES = ("committed_", "observed_", "misattributed_", "caught_", "penalised_", "denials_",
                  "blacklist_entries_")  # fmt: skip
EVENT_COLUMNS = ("blacklist_exits", "dissent_committed", "dissent_unchilled")


def is_event(column: str) -> bool:
    """Whether a metric column counts the day's events (summed over days) rather than a state (MODEL.md §10)."""
    return column in EVENT_COLUMNS or column.startswith(EVENT_PREFIXES)


class Metrics:
    """Collects one row per day into preallocated columns."""

    def __init__(self, scenario: Scenario, days: int) -> None:
        self.dtypes = columns(scenario)
        self.values = {name: np.zeros(days, dtype=np.int64 if kind is int else np.float64)
                       for name, kind in self.dtypes.items()}  # fmt: skip
        self.behaviours = list(scenario.behaviours)
        self.sanctions = list(scenario.sanctions)
        self.tiers = [tier.name for tier in scenario.tiers]
        self.tier_bounds = tier_bounds(scenario)
        self.applies_below, self.applies_to_blacklisted = sanction_conditions(scenario)
        # Sanctions are counted through their distinct score bounds (highest first): an
        # agent's position is the number of bounds above its score.
        bounds = sorted({float(b) for b in self.applies_below if np.isfinite(b)}, reverse=True)
        self.sanction_bounds = np.array(bounds, dtype=np.float64)
        self.bound_of = [bounds.index(b) if np.isfinite(b) else -1 for b in self.applies_below]
        self.accounting = scenario.accounting
        self.score_bounds = (scenario.score.score_min, scenario.score.score_max)
        self.cameras = scenario.accounting.cameras_per_capita * scenario.run.agents
        self.observed_total = 0
        self.days_recorded = 0

    def record(self, world: World, day: Day) -> None:
        """Write row ``day.t``."""
        row = self._events(day) | self._state(world, day)
        self.observed_total += sum(row[f"observed_{b}"] for b in self.behaviours)
        row["stored_record_bytes"] = float(self.observed_total * self.accounting.bytes_per_record)
        footage_days = min(day.t + 1, self.accounting.footage_retention_days)
        row["stored_bytes"] = (
            row["stored_record_bytes"] + self.cameras * self.accounting.camera_bytes_per_day * footage_days
        )
        row["day"] = day.t
        for name, value in row.items():
            self.values[name][day.t] = value
        self.days_recorded = day.t + 1

    def _events(self, day: Day) -> dict[str, float]:
        row: dict[str, float] = {}
        counts = {
            "committed": day.committed_count.sum(axis=0),
            "observed": day.observed_count.sum(axis=0),
            "misattributed": day.misattributed_count.sum(axis=0),
            "caught": day.caught_count.sum(axis=0),
            "penalised": day.penalised_count.sum(axis=0),
        }
        for kind, per_behaviour in counts.items():
            row |= {f"{kind}_{b}": int(per_behaviour[k]) for k, b in enumerate(self.behaviours)}
        denials = day.denials_count.sum(axis=0)
        row |= {f"denials_{s}": int(denials[k]) for k, s in enumerate(self.sanctions)}
        listing = day.listing_count.sum(axis=0)
        row["blacklist_entries_score"] = int(listing[ENTRIES_SCORE])
        row["blacklist_entries_court"] = int(listing[ENTRIES_COURT])
        row["blacklist_exits"] = int(listing[EXITS])
        row["dissent_committed"] = row.get("committed_dissent", 0)
        row["dissent_unchilled"] = float(day.unchilled.sum())
        purchases = day.alive_start_count * self.accounting.purchases_per_day
        imports = row.get("committed_imported_purchase", np.nan)
        row["import_share"] = imports / purchases if purchases > 0 else np.nan
        row["review_backlog"] = day.review_backlog
        return row

    def _state(self, world: World, day: Day) -> dict[str, float]:
        pop = world.population
        counts, score_sum = _state_counts(
            pop.emigrated, pop.score, pop.blacklisted, day.status, pop.ever_sanctioned,
            pop.ever_wrongly_sanctioned, pop.off_grid, pop.advised, world.degree,
            self.tier_bounds, self.sanction_bounds,
        )  # fmt: skip
        score_percentiles = percentiles(pop.score, pop.emigrated, PERCENTILES, *self.score_bounds)
        row = self.state_row(counts.sum(axis=0), float(score_sum.sum()), score_percentiles, pop.n_agents)
        row["active_edges"] = world.active_edges
        return row

    def state_row(self, total: np.ndarray, score_sum: float, quantiles: list[float], n_agents: int) -> dict[str, float]:
        """The state columns from the summed state counts (layout of :func:`state_count_columns`).

        ``quantiles`` are the alive agents' score percentiles :data:`PERCENTILES`. Any
        backend that reduces the state to these counts gets the same row from them.
        """
        alive = int(total[COUNT_ALIVE])
        listed = int(total[COUNT_LISTED])
        p10, p50, p90 = quantiles
        row: dict[str, float] = {
            "alive": alive,
            "score_mean": score_sum / alive if alive else np.nan,
            "score_p10": float(p10), "score_p50": float(p50), "score_p90": float(p90),
            "blacklisted": listed,
            "wrongly_sanctioned": int(total[COUNT_WRONGLY]),
            "ever_sanctioned": int(total[COUNT_EVER]),
            "ever_wrongly_sanctioned": int(total[COUNT_EVER_WRONGLY]),
            "off_grid": int(total[COUNT_OFF_GRID]),
            "advised": int(total[COUNT_ADVISED]),
            "isolated": int(total[COUNT_ISOLATED]),
            "emigrated": n_agents - alive,
            "mean_degree_blacklisted": total[COUNT_DEGREE_LISTED] / listed if listed else np.nan,
            "mean_degree_others": total[COUNT_DEGREE_OTHERS] / (alive - listed) if alive > listed else np.nan,
        }  # fmt: skip
        n_tiers = len(self.tiers)
        for k, tier in enumerate(self.tiers):
            row[f"tier_{tier}"] = total[COUNT_FIXED + k] / alive if alive else np.nan
        n_positions = self.sanction_bounds.shape[0] + 1
        by_position = total[COUNT_FIXED + n_tiers : COUNT_FIXED + n_tiers + n_positions]
        listed_by_position = total[COUNT_FIXED + n_tiers + n_positions :]
        for k, s in enumerate(self.sanctions):
            bound = self.bound_of[k]
            # active: score below the bound (position above it), or listed and at or above it
            below = int(by_position[bound + 1 :].sum()) if bound >= 0 else 0
            listed_not_below = int(listed_by_position[: bound + 1].sum()) if bound >= 0 else listed
            row[f"active_{s}"] = below + (listed_not_below if self.applies_to_blacklisted[k] else 0)
        return row

    def restore(self, saved: dict[str, np.ndarray], days: int, observed_total: int) -> None:
        """Take the first ``days`` rows from a saved state (same columns) and carry on after them."""
        if set(saved) != set(self.values):
            differing = sorted(set(saved) ^ set(self.values))
            raise ValueError(f"saved metrics have other columns than this scenario's: {differing[:5]}")
        for name, values in saved.items():
            self.values[name][:days] = values[:days]
        self.observed_total = int(observed_total)
        self.days_recorded = days

    def row(self, t: int) -> dict[str, float]:
        """Row ``t`` as a dict (ints for counts, floats otherwise)."""
        return {name: values[t].item() for name, values in self.values.items()}

    def frame(self) -> pd.DataFrame:
        """The rows recorded so far as a DataFrame, one row per day."""
        return pd.DataFrame({name: values[: self.days_recorded] for name, values in self.values.items()})


@nb.njit(parallel=True, cache=True)
def _state_counts(
    emigrated, score, blacklisted, status, ever_sanctioned, ever_wrongly_sanctioned,
    off_grid, advised, active_degree, bounds, sanction_bounds,
):  # fmt: skip
    n = score.shape[0]
    n_tiers = bounds.shape[0] + 1
    n_positions = sanction_bounds.shape[0] + 1
    chunks = (n + CHUNK - 1) // CHUNK
    counts = np.zeros((chunks, state_count_columns(n_tiers, n_positions)), dtype=np.int64)
    score_sum = np.zeros(chunks, dtype=np.float64)
    for c in nb.prange(chunks):
        # Counters live in a local array and scalars (not the shared result) while the
        # chunk is scanned, so the compiler may keep them in registers.
        by_kind = np.zeros(n_tiers + 2 * n_positions, dtype=np.int64)
        alive = listed = wrongly = ever = ever_wrongly = grid = adv = isolated = 0
        degree_listed = degree_others = 0
        total = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if emigrated[i]:
                continue
            s = score[i]
            total += s
            alive += 1
            listed += blacklisted[i]
            wrongly += (status[i] & WRONGLY_SANCTIONED) != 0
            ever += ever_sanctioned[i]
            ever_wrongly += ever_wrongly_sanctioned[i]
            grid += off_grid[i]
            adv += advised[i]
            degree = active_degree[i]
            isolated += degree == 0
            if blacklisted[i]:
                degree_listed += degree
            else:
                degree_others += degree
            by_kind[tier_index(s, bounds)] += 1
            position = tier_index(s, sanction_bounds)
            by_kind[n_tiers + position] += 1
            if blacklisted[i]:
                by_kind[n_tiers + n_positions + position] += 1
        counts[c, COUNT_ALIVE], counts[c, COUNT_LISTED], counts[c, COUNT_WRONGLY] = alive, listed, wrongly
        counts[c, COUNT_EVER], counts[c, COUNT_EVER_WRONGLY], counts[c, COUNT_OFF_GRID] = ever, ever_wrongly, grid
        counts[c, COUNT_ADVISED], counts[c, COUNT_ISOLATED] = adv, isolated
        counts[c, COUNT_DEGREE_LISTED], counts[c, COUNT_DEGREE_OTHERS] = degree_listed, degree_others
        counts[c, COUNT_FIXED:] = by_kind
        score_sum[c] = total
    return counts, score_sum
