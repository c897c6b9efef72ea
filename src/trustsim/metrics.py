"""The daily metrics row of docs/model.md §10, declared up front and preallocated.

Row ``day = t`` is taken at the end of step ``t`` (after phase E). State counts are
over agents alive at the end of the day; event counts (committed, denials, entries,
exits) include agents who emigrated that day.

A backend reduces the day to a :class:`Reduction` (the day's tallies on the host, the
summed state counts, the score sum and percentiles); :class:`Metrics` builds the row from
it the same way for both. The state counts of one agent are the rule
:func:`count_agent`, called by the CPU driver :class:`HostReduce` and by the GPU
kernel of :mod:`trustsim.gpu.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numba as nb
import numpy as np
import pandas as pd

from trustsim.day import (
    CHUNK,
    ENTRIES_COURT,
    ENTRIES_SCORE,
    EXITS,
    WRONGLY_SANCTIONED,
    Day,
    Tallies,
    agents_of,
    chunk_function,
)
from trustsim.households import Households
from trustsim.mechanisms.sanctions import (
    sanction_active,
    sanction_conditions,
    tier_bounds,
    tier_index,
    wrongful_sanction,
)
from trustsim.population import (
    ADVISED,
    EVER_SANCTIONED,
    EVER_WRONGLY_SANCTIONED,
    LISTED_WRONGLY,
    OFF_GRID,
    Population,
    is_set,
)
from trustsim.quantiles import ScorePercentiles
from trustsim.scalar import pick, tally
from trustsim.scenario import Scenario
from trustsim.world import World

# Layout of the state counts: these, then one count per tier, then alive agents by
# sanction-bound position, then listed agents by position.
(
    COUNT_ALIVE,
    COUNT_LISTED,
    COUNT_WRONGLY,
    COUNT_EVER,
    COUNT_EVER_WRONGLY,
    COUNT_OFF_GRID,
    COUNT_ADVISED,
    COUNT_ISOLATED,
    COUNT_DEGREE_LISTED,
    COUNT_DEGREE_OTHERS,
    COUNT_FIXED,
) = range(11)

PERCENTILES = (10.0, 50.0, 90.0)
"""The score percentiles of the metrics row (``score_p10``, ``score_p50``, ``score_p90``)."""


class StateCounting(NamedTuple):
    """What the state counts are broken down by: the tiers, the sanctions' distinct score bounds, and the
    sanctions that bar children (docs/model.md §14)."""

    tier_bounds: np.ndarray  # float64: min_score of every tier but the last, highest first
    sanction_bounds: np.ndarray  # float64: the distinct applies_below of the sanctions, highest first
    children_below: np.ndarray  # float64 (K,): applies_below of each sanction that affects children (-inf: none)
    children_to_listed: np.ndarray  # bool (K,): whether listing activates it

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> StateCounting:
        """The breakdown of ``scenario``."""
        below, listed = sanction_conditions(scenario)
        bounds = sorted({float(b) for b in below if np.isfinite(b)}, reverse=True)
        barring = np.array([s.affects_children for s in scenario.sanctions.values()], dtype=np.bool_)
        return cls(tier_bounds(scenario), np.array(bounds, dtype=np.float64), below[barring], listed[barring])

    @property
    def columns(self) -> int:
        """Columns of the state counts (see the layout above)."""
        return state_count_columns(self.tier_bounds.shape[0] + 1, self.sanction_bounds.shape[0] + 1)


@nb.njit(cache=True)
def state_count_columns(n_tiers: int, n_positions: int) -> int:
    """Columns of the state counts: the fixed ones, the tiers, and two per sanction-bound position."""
    return COUNT_FIXED + n_tiers + 2 * n_positions


class Reduction(NamedTuple):
    """A day reduced to what its metrics row needs, on the host."""

    tallies: Tallies  # the day's event tallies
    counts: np.ndarray  # int64: the state counts summed over the alive agents (layout above)
    score_sum: float  # of the alive agents, in a fixed order
    percentiles: list[float]  # the alive agents' score percentiles PERCENTILES
    children: np.ndarray  # int64 (2, K): children barred by each sanction that affects them; wrongly barred


Reduce = Callable[[World, Day, StateCounting], Reduction]
"""A backend's reduction of the day: a :class:`HostReduce` on the CPU."""


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
    for s, sanction in scenario.sanctions.items():
        cols |= {f"active_{s}": int, f"denials_{s}": int}
        if sanction.affects_children:  # docs/model.md §14
            cols |= {f"children_affected_{s}": int, f"children_wrongly_affected_{s}": int}
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
    """Whether a metric column counts the day's events (summed over days) rather than a state (docs/model.md §10)."""
    return column in EVENT_COLUMNS or column.startswith(EVENT_PREFIXES)


class Metrics:
    """Collects one row per day into preallocated columns, from a backend's :data:`Reduce`."""

    def __init__(self, scenario: Scenario, days: int, reduce: Reduce | None = None) -> None:
        self.dtypes = columns(scenario)
        self.values = {name: np.zeros(days, dtype=np.int64 if kind is int else np.float64)
                       for name, kind in self.dtypes.items()}  # fmt: skip
        self.reduce = HostReduce(scenario) if reduce is None else reduce
        self.behaviours = list(scenario.behaviours)
        self.sanctions = list(scenario.sanctions)
        self.barring = [name for name, s in scenario.sanctions.items() if s.affects_children]
        self.tiers = [tier.name for tier in scenario.tiers]
        self.counting = StateCounting.from_scenario(scenario)
        applies_below, self.applies_to_blacklisted = sanction_conditions(scenario)
        # Sanctions are counted through their distinct score bounds (highest first): an
        # agent's position is the number of bounds above its score.
        bounds = list(self.counting.sanction_bounds)
        self.bound_of = [bounds.index(b) if np.isfinite(b) else -1 for b in applies_below]
        self.accounting = scenario.accounting
        self.cameras = scenario.accounting.cameras_per_capita * scenario.run.agents
        self.n_agents = scenario.run.agents
        self.observed_total = 0
        self.days_recorded = 0

    def record(self, world: World, day: Day) -> None:
        """Write row ``day.t``."""
        reduced = self.reduce(world, day, self.counting)
        row = self._events(reduced.tallies, day) | self.state_row(reduced)
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

    def _events(self, tallies: Tallies, day: Day) -> dict[str, float]:
        row: dict[str, float] = {}
        counts = {
            "committed": tallies.committed.sum(axis=0),
            "observed": tallies.observed.sum(axis=0),
            "misattributed": tallies.misattributed.sum(axis=0),
            "caught": tallies.caught.sum(axis=0),
            "penalised": tallies.penalised.sum(axis=0),
        }
        for kind, per_behaviour in counts.items():
            row |= {f"{kind}_{b}": int(per_behaviour[k]) for k, b in enumerate(self.behaviours)}
        denials = tallies.denials.sum(axis=0)
        row |= {f"denials_{s}": int(denials[k]) for k, s in enumerate(self.sanctions)}
        listing = tallies.listing.sum(axis=0)
        row["blacklist_entries_score"] = int(listing[ENTRIES_SCORE])
        row["blacklist_entries_court"] = int(listing[ENTRIES_COURT])
        row["blacklist_exits"] = int(listing[EXITS])
        row["dissent_committed"] = row.get("committed_dissent", 0)
        row["dissent_unchilled"] = float(tallies.unchilled.sum())
        purchases = day.alive_start_count * self.accounting.purchases_per_day
        imports = row.get("committed_imported_purchase", np.nan)
        row["import_share"] = imports / purchases if purchases > 0 else np.nan
        row["review_backlog"] = day.review_backlog
        return row

    def state_row(self, reduced: Reduction) -> dict[str, float]:
        """The state columns from a day's reduction (whichever backend reduced it)."""
        total = reduced.counts
        alive = int(total[COUNT_ALIVE])
        listed = int(total[COUNT_LISTED])
        p10, p50, p90 = reduced.percentiles
        degree_listed, degree_others = int(total[COUNT_DEGREE_LISTED]), int(total[COUNT_DEGREE_OTHERS])
        row: dict[str, float] = {
            "alive": alive,
            "score_mean": reduced.score_sum / alive if alive else np.nan,
            "score_p10": float(p10), "score_p50": float(p50), "score_p90": float(p90),
            "blacklisted": listed,
            "wrongly_sanctioned": int(total[COUNT_WRONGLY]),
            "ever_sanctioned": int(total[COUNT_EVER]),
            "ever_wrongly_sanctioned": int(total[COUNT_EVER_WRONGLY]),
            "off_grid": int(total[COUNT_OFF_GRID]),
            "advised": int(total[COUNT_ADVISED]),
            "isolated": int(total[COUNT_ISOLATED]),
            "emigrated": self.n_agents - alive,
            # Emigrants' edges are cut when they leave: every active edge joins two alive agents.
            "active_edges": (degree_listed + degree_others) // 2,
            "mean_degree_blacklisted": degree_listed / listed if listed else np.nan,
            "mean_degree_others": degree_others / (alive - listed) if alive > listed else np.nan,
        }  # fmt: skip
        n_tiers = len(self.tiers)
        for k, tier in enumerate(self.tiers):
            row[f"tier_{tier}"] = total[COUNT_FIXED + k] / alive if alive else np.nan
        n_positions = self.counting.sanction_bounds.shape[0] + 1
        by_position = total[COUNT_FIXED + n_tiers : COUNT_FIXED + n_tiers + n_positions]
        listed_by_position = total[COUNT_FIXED + n_tiers + n_positions :]
        for k, s in enumerate(self.sanctions):
            bound = self.bound_of[k]
            # active: score below the bound (position above it), or listed and at or above it
            below = int(by_position[bound + 1 :].sum()) if bound >= 0 else 0
            listed_not_below = int(listed_by_position[: bound + 1].sum()) if bound >= 0 else listed
            row[f"active_{s}"] = below + (listed_not_below if self.applies_to_blacklisted[k] else 0)
        for k, s in enumerate(self.barring):
            row[f"children_affected_{s}"] = int(reduced.children[0, k])
            row[f"children_wrongly_affected_{s}"] = int(reduced.children[1, k])
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


# ---------------------------------------------------------------------------------- the rule


@nb.njit(inline="always", cache=True)
def count_agent(
    counting: StateCounting, i: int, pop: Population, status: np.ndarray, degree: np.ndarray, counts: np.ndarray
) -> None:
    """Add alive agent ``i`` to the state counts ``counts`` (layout above)."""
    s = np.float64(pop.score[i])
    listed = pop.blacklisted[i]
    active_degree = degree[i]
    tally(counts, COUNT_ALIVE, 1)
    tally(counts, COUNT_LISTED, 1 if listed else 0)
    tally(counts, COUNT_WRONGLY, 1 if status[i] & WRONGLY_SANCTIONED else 0)
    record, adapted = pop.record[i], pop.adapted[i]
    tally(counts, COUNT_EVER, 1 if is_set(record, EVER_SANCTIONED) else 0)
    tally(counts, COUNT_EVER_WRONGLY, 1 if is_set(record, EVER_WRONGLY_SANCTIONED) else 0)
    tally(counts, COUNT_OFF_GRID, 1 if is_set(adapted, OFF_GRID) else 0)
    tally(counts, COUNT_ADVISED, 1 if is_set(adapted, ADVISED) else 0)
    tally(counts, COUNT_ISOLATED, 1 if active_degree == 0 else 0)
    tally(counts, COUNT_DEGREE_LISTED if listed else COUNT_DEGREE_OTHERS, active_degree)
    n_tiers = counting.tier_bounds.shape[0] + 1
    n_positions = counting.sanction_bounds.shape[0] + 1
    tally(counts, COUNT_FIXED + tier_index(s, counting.tier_bounds), 1)
    position = tier_index(s, counting.sanction_bounds)
    tally(counts, COUNT_FIXED + n_tiers + position, 1)
    if listed:
        tally(counts, COUNT_FIXED + n_tiers + n_positions + position, 1)


@nb.njit(inline="always", cache=True)
def count_household(
    counting: StateCounting, households: Households, h: int, pop: Population, counts: np.ndarray
) -> None:
    """Add household ``h``'s children to ``counts`` (2, K) for each sanction that bars children (docs/model.md §14).

    A sanction bars them on a day one of the household's alive adults has it active; wrongly
    when every such adult has it wrongfully (docs/model.md §6 item 7).
    """
    children = households.children[h]
    if children == 0:
        return
    lo, hi = households.start[h], households.start[h + 1]
    for k in range(counting.children_below.shape[0]):
        below, to_listed = counting.children_below[k], counting.children_to_listed[k]
        barred = False
        wrongly = True
        for j in range(lo, hi):
            if pop.emigrated[j]:
                continue
            s, listed = np.float64(pop.score[j]), pop.blacklisted[j]
            if sanction_active(s, listed, below, to_listed):
                barred = True
                wrongful = np.float64(pop.wrongful[j])
                listed_wrongly = is_set(pop.record[j], LISTED_WRONGLY)
                wrongly = wrongly and wrongful_sanction(s, wrongful, listed_wrongly, listed, below, to_listed)
        if barred:
            tally(counts, (0, k), children)
            if wrongly:
                tally(counts, (1, k), children)


# ---------------------------------------------------------------------------------- the CPU driver


def reduce_on_host(world: World, day: Day, counting: StateCounting) -> Reduction:
    """The CPU's :data:`Reduce` for one day on its own (a run's days take a :class:`HostReduce`)."""
    return HostReduce(world.scenario)(world, day, counting)


class HostReduce:
    """The CPU's :data:`Reduce`: the state counted chunk by chunk, exact percentiles without a full sort, found
    first where the day before's were (:class:`~trustsim.quantiles.ScorePercentiles`)."""

    def __init__(self, scenario: Scenario) -> None:
        """The reduction of ``scenario``'s days, in order."""
        score = scenario.score
        self.percentiles = ScorePercentiles(PERCENTILES, score.score_min, score.score_max)

    def __call__(self, world: World, day: Day, counting: StateCounting) -> Reduction:
        """Day ``day.t`` reduced to its metrics row's inputs."""
        pop = world.population
        counts, score_sum = _state_counts(counting, pop, day.outcomes.status, world.degree)
        quantiles = self.percentiles(pop.score, pop.emigrated)
        children = np.zeros((2, counting.children_below.shape[0]), dtype=np.int64)
        if children.size and world.households.n_households:
            children = _children_counts(counting, world.households, pop).sum(axis=0)
        return Reduction(day.tallies, counts.sum(axis=0), float(score_sum.sum()), quantiles, children)


@nb.njit(parallel=True, cache=True)
def _children_counts(counting: StateCounting, households: Households, pop: Population) -> np.ndarray:
    n = households.children.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    counts = np.zeros((chunks, 2, counting.children_below.shape[0]), dtype=np.int64)
    for c in nb.prange(chunks):
        local = np.zeros((2, counting.children_below.shape[0]), dtype=np.int64)
        _count_households(c, counting, households, pop, local)
        counts[c] = local
    return counts


@chunk_function
def _count_households(
    c: int, counting: StateCounting, households: Households, pop: Population, counts: np.ndarray
) -> None:
    lo, hi = agents_of(c, households.children.shape[0])  # households, here
    for h in range(lo, hi):
        count_household(counting, households, h, pop, counts)


@nb.njit(parallel=True, cache=True)
def _state_counts(
    counting: StateCounting, pop: Population, status: np.ndarray, degree: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = pop.score.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    n_columns = state_count_columns(counting.tier_bounds.shape[0] + 1, counting.sanction_bounds.shape[0] + 1)
    counts = np.zeros((chunks, n_columns), dtype=np.int64)
    score_sum = np.zeros(chunks, dtype=np.float64)
    for c in nb.prange(chunks):
        # Counters live in a local array (not the shared result) while the chunk is scanned.
        local = np.zeros(n_columns, dtype=np.int64)
        score_sum[c] = _count_chunk(c, counting, pop, status, degree, local)
        counts[c, :] = local
    return counts, score_sum


@chunk_function
def _count_chunk(
    c: int, counting: StateCounting, pop: Population, status: np.ndarray, degree: np.ndarray, counts: np.ndarray
) -> float:
    # count_agent's counts for the chunk, arranged as sums of selects, which vectorise: the
    # per-agent increments of count_agent, at indices that depend on the agent, do not.
    # An agent's tier (or sanction-bound position) is the number of bounds above its
    # score, since the bounds strictly decrease; so the agents of tier j are those below
    # bound j-1 less those below bound j. tests/test_invariants.py checks these counts
    # against the rule's, agent by agent.
    lo, hi = agents_of(c, pop.score.shape[0])
    emigrated, listed = pop.emigrated, pop.blacklisted
    alive = in_list = wrongly = ever = ever_wrongly = off_grid = advised = isolated = 0
    degree_listed = degree_others = 0
    for i in range(lo, hi):
        a = not emigrated[i]
        on_list = a & listed[i]
        alive += a
        in_list += on_list
        wrongly += a & ((status[i] & WRONGLY_SANCTIONED) != 0)
        ever += a & is_set(pop.record[i], EVER_SANCTIONED)
        ever_wrongly += a & is_set(pop.record[i], EVER_WRONGLY_SANCTIONED)
        off_grid += a & is_set(pop.adapted[i], OFF_GRID)
        advised += a & is_set(pop.adapted[i], ADVISED)
        isolated += a & (degree[i] == 0)
        degree_listed += pick(on_list, np.int64(degree[i]), np.int64(0))
        degree_others += pick(a & (not listed[i]), np.int64(degree[i]), np.int64(0))
    for column, value in ((COUNT_ALIVE, alive), (COUNT_LISTED, in_list), (COUNT_WRONGLY, wrongly), (COUNT_EVER, ever),
                          (COUNT_EVER_WRONGLY, ever_wrongly), (COUNT_OFF_GRID, off_grid), (COUNT_ADVISED, advised),
                          (COUNT_ISOLATED, isolated), (COUNT_DEGREE_LISTED, degree_listed),
                          (COUNT_DEGREE_OTHERS, degree_others)):  # fmt: skip
        counts[column] = value
    n_tiers = counting.tier_bounds.shape[0] + 1
    n_positions = counting.sanction_bounds.shape[0] + 1
    _count_between(lo, hi, pop, counting.tier_bounds, alive, False, counts[COUNT_FIXED : COUNT_FIXED + n_tiers])
    positions = COUNT_FIXED + n_tiers
    _count_between(lo, hi, pop, counting.sanction_bounds, alive, False, counts[positions : positions + n_positions])
    _count_between(lo, hi, pop, counting.sanction_bounds, in_list, True, counts[positions + n_positions :])
    return _score_sum(lo, hi, pop.score, emigrated)


@nb.njit(inline="always", cache=True)
def _count_between(lo, hi, pop, bounds, everyone, listed_only, out):
    # out[j]: how many of the alive agents lo … hi-1 (the listed ones only, with listed_only),
    # of whom there are everyone, are at position j among the strictly decreasing bounds
    # (tier_index): those below bound j-1 (all of them for j = 0) less those below bound j.
    above = everyone
    for k in range(bounds.shape[0]):
        below = 0
        for i in range(lo, hi):
            counted = (not pop.emigrated[i]) & ((not listed_only) | pop.blacklisted[i])
            below += counted & (np.float64(pop.score[i]) < bounds[k])
        out[k] = above - below
        above = below
    out[bounds.shape[0]] = above


@nb.njit(inline="always", cache=True)
def _score_sum(lo, hi, score, emigrated):
    # The alive agents' scores summed in a fixed order, whatever the number of threads: four
    # running sums, of the agents lo + 4m + r for r = 0 … 3, added at the end (independent
    # chains of additions overlap; one chain waits on every addition).
    s0 = s1 = s2 = s3 = 0.0
    first = lo
    while first + np.uint64(4) <= hi:
        s0 += pick(emigrated[first], 0.0, np.float64(score[first]))
        s1 += pick(emigrated[first + np.uint64(1)], 0.0, np.float64(score[first + np.uint64(1)]))
        s2 += pick(emigrated[first + np.uint64(2)], 0.0, np.float64(score[first + np.uint64(2)]))
        s3 += pick(emigrated[first + np.uint64(3)], 0.0, np.float64(score[first + np.uint64(3)]))
        first += np.uint64(4)
    for i in range(first, hi):
        s0 += pick(emigrated[i], 0.0, np.float64(score[i]))
    return (s0 + s1) + (s2 + s3)
