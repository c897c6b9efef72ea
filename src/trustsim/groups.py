"""Who bears it: the outcomes broken down by group (docs/model.md §15), the rows of ``groups.parquet``.

On every day ``t`` with ``(t + 1) % breakdown_every == 0`` and on the last day, each
dimension (region, income quintile, outspoken, cashless, privacy-minded; age band with
ages; has children with households) splits the agents into groups, and each group gets
one row: its agents (emigrants included: an emigrant stays in the group it left from),
the alive, their mean score, the listed, wrongly listed, sanctioned and wrongly
sanctioned among the alive, the ever (wrongly) sanctioned and emigrated among all, and
the denials and wrongful points (``−Δw``) since the previous row.

The agents are counted in one parallel pass (:func:`count_groups`, the rule
:func:`group_ids`) over host arrays. A GPU run copies the arrays it needs to the host
once per row, a slice of :data:`SLICE` agents at a time (:func:`group_slices`), so the
copy stays small beside a country's state. Float sums are kept per chunk of agents and
added in chunk order, so rows depend neither on the thread count nor on the slicing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numba as nb
import numpy as np
import pandas as pd

from trustsim.day import CHUNK, SANCTIONED, WRONGLY_SANCTIONED, agents_of, chunk_function
from trustsim.households import Households, age_band, band_minimums
from trustsim.population import (
    CASHLESS,
    EVER_SANCTIONED,
    EVER_WRONGLY_SANCTIONED,
    LISTED_WRONGLY,
    OUTSPOKEN,
    PRIVACY_MINDED,
    is_set,
)
from trustsim.scenario import Scenario

COUNTS = ("agents", "alive", "blacklisted", "listed_wrongly", "sanctioned", "wrongly_sanctioned", "ever_sanctioned",
          "ever_wrongly_sanctioned", "emigrated", "denials")  # fmt: skip
"""The integer columns of a group's row, in this order in the counters."""
SUMS = ("score_sum", "wrongful_points")
"""The float sums of a group (the score over the alive, the wrongful points since the previous row)."""
COLUMNS = ("day", "dimension", "group", "agents", "alive", "score_mean", "blacklisted", "listed_wrongly",
           "sanctioned", "wrongly_sanctioned", "ever_sanctioned", "ever_wrongly_sanctioned", "emigrated", "denials",
           "wrongful_points")  # fmt: skip
"""The columns of ``groups.parquet`` (docs/model.md §15)."""
SLICE = 512 * CHUNK
"""Agents copied to the host at a time for a GPU run's breakdown (4,194,304: a whole number of chunks)."""
STATE_COLUMNS = ("blacklisted", "listed_wrongly", "sanctioned", "wrongly_sanctioned")
"""Columns over the alive (their rates are over ``alive``); the others are over all the group's ``agents``."""


class GroupLayout(NamedTuple):
    """Where each dimension's groups start in the flat list of groups."""

    start: np.ndarray  # int64 (dimensions + 1,): dimension d's groups are start[d] … start[d+1] − 1
    band_minimums: np.ndarray  # int64: the age bands' min_age
    aged: bool
    housed: bool


class GroupInputs(NamedTuple):
    """The per-agent arrays a breakdown reads (on the host)."""

    region: np.ndarray
    income_decile: np.ndarray
    traits: np.ndarray  # the population's bytes of flags (trustsim.population.TRAITS)
    age: np.ndarray
    score: np.ndarray
    emigrated: np.ndarray
    blacklisted: np.ndarray
    record: np.ndarray  # trustsim.population.RECORD
    denials_since_row: np.ndarray
    wrongful_since_row: np.ndarray
    status: np.ndarray
    member_of: np.ndarray  # each agent's household (empty without households)
    children: np.ndarray  # each household's children (empty without households)


def dimensions(scenario: Scenario) -> dict[str, list[str]]:
    """Each dimension of the breakdown with the labels of its groups, in order."""
    dims: dict[str, list[str]] = {
        "region": [region.name for region in scenario.regions],
        "income_quintile": [str(q) for q in range(5)],
        "outspoken": ["false", "true"],
        "cashless": ["false", "true"],
        "privacy_minded": ["false", "true"],
    }
    if scenario.ages is not None:
        bands = scenario.ages.age_bands
        upper = [band.min_age - 1 for band in bands[1:]]
        dims["age_band"] = [f"{b.min_age}–{top}" for b, top in zip(bands, upper, strict=False)] + [
            f"{bands[-1].min_age}+"
        ]
    if scenario.households is not None:
        dims["has_children"] = ["false", "true"]
    return dims


def layout(scenario: Scenario) -> GroupLayout:
    """The flat layout of ``scenario``'s groups."""
    sizes = [len(labels) for labels in dimensions(scenario).values()]
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return GroupLayout(start, band_minimums(scenario), scenario.ages is not None, scenario.households is not None)


def breakdown_day(scenario: Scenario, t: int) -> bool:
    """Whether day ``t`` gets rows in ``groups.parquet``: every ``breakdown_every`` days, and the last day."""
    return (t + 1) % scenario.run.breakdown_every == 0 or t == scenario.run.days - 1


# ---------------------------------------------------------------------------------- the rule


@nb.njit(inline="always", cache=True)
def group_ids(layout: GroupLayout, inputs: GroupInputs, i: int, out: np.ndarray) -> int:
    """Agent ``i``'s group in each dimension, as indices into the flat list of groups; how many dimensions."""
    start = layout.start
    out[0] = start[0] + inputs.region[i]
    out[1] = start[1] + inputs.income_decile[i] // 2
    traits = inputs.traits[i]
    out[2] = start[2] + (1 if is_set(traits, OUTSPOKEN) else 0)
    out[3] = start[3] + (1 if is_set(traits, CASHLESS) else 0)
    out[4] = start[4] + (1 if is_set(traits, PRIVACY_MINDED) else 0)
    d = 5
    if layout.aged:
        out[d] = start[d] + age_band(layout.band_minimums, inputs.age[i])
        d += 1
    if layout.housed:
        out[d] = start[d] + (1 if inputs.children[inputs.member_of[i]] > 0 else 0)
        d += 1
    return d


# ---------------------------------------------------------------------------------- the pass


@nb.njit(parallel=True, cache=True)
def count_groups(layout: GroupLayout, inputs: GroupInputs) -> tuple[np.ndarray, np.ndarray]:
    """Every group's counts (groups, len(COUNTS)) and each chunk's float sums (chunks, groups, len(SUMS))."""
    n = inputs.score.shape[0]
    groups = layout.start[-1]
    chunks = (n + CHUNK - 1) // CHUNK
    counts = np.zeros((chunks, groups, 10), dtype=np.int64)
    sums = np.zeros((chunks, groups, 2), dtype=np.float64)
    for c in nb.prange(chunks):
        ids = np.empty(layout.start.shape[0] - 1, dtype=np.int64)
        local_counts = np.zeros((groups, 10), dtype=np.int64)
        local_sums = np.zeros((groups, 2), dtype=np.float64)
        _count_chunk(c, layout, inputs, ids, local_counts, local_sums)
        counts[c] = local_counts
        sums[c] = local_sums
    return counts.sum(axis=0), sums


@nb.njit(cache=True)
def _in_order(sums: np.ndarray) -> np.ndarray:
    total = np.zeros(sums.shape[1:], dtype=np.float64)
    for c in range(sums.shape[0]):  # chunk by chunk: the sums depend neither on the threads nor on the slices
        total += sums[c]
    return total


@chunk_function
def _count_chunk(
    c: int, layout: GroupLayout, inputs: GroupInputs, ids: np.ndarray, counts: np.ndarray, sums: np.ndarray
) -> None:
    lo, hi = agents_of(c, inputs.score.shape[0])
    for i in range(lo, hi):
        n_dims = group_ids(layout, inputs, i, ids)
        alive = not inputs.emigrated[i]
        status = inputs.status[i] if alive else 0
        listed = alive and inputs.blacklisted[i]
        record = inputs.record[i]
        for d in range(n_dims):
            g = ids[d]
            counts[g, 0] += 1
            counts[g, 1] += alive
            counts[g, 2] += listed
            counts[g, 3] += listed and is_set(record, LISTED_WRONGLY)
            counts[g, 4] += (status & SANCTIONED) != 0
            counts[g, 5] += (status & WRONGLY_SANCTIONED) != 0
            counts[g, 6] += is_set(record, EVER_SANCTIONED)
            counts[g, 7] += is_set(record, EVER_WRONGLY_SANCTIONED)
            counts[g, 8] += not alive
            counts[g, 9] += inputs.denials_since_row[i]
            if alive:
                sums[g, 0] += inputs.score[i]
            sums[g, 1] += inputs.wrongful_since_row[i]


# ---------------------------------------------------------------------------------- the recorder


class Groups:
    """The rows of ``groups.parquet`` so far, one per (breakdown day, dimension, group)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.dimensions = dimensions(scenario)
        self.layout = layout(scenario)
        self.rows: list[pd.DataFrame] = []

    def record(self, t: int, slices: Iterable[GroupInputs]) -> None:
        """Add day ``t``'s rows from the day's end state, given in slices of agents (:func:`group_slices`); the
        caller then starts the next row's counters."""
        self.rows.append(rows_of_slices(self.scenario, t, slices, self.layout))

    def frame(self) -> pd.DataFrame:
        """Every row so far (an empty table with the columns before the first breakdown day)."""
        if not self.rows:
            return empty_groups()
        return pd.concat(self.rows, ignore_index=True)

    def saved(self) -> dict[str, np.ndarray]:
        """The rows as arrays (for checkpoints)."""
        frame = self.frame()
        return {name: frame[name].to_numpy(dtype=str if name in ("dimension", "group") else None)
                for name in COLUMNS}  # fmt: skip

    @staticmethod
    def empty_saved() -> dict[str, np.ndarray]:
        """The saved form of no rows."""
        return {name: empty_groups()[name].to_numpy(dtype=str if name in ("dimension", "group") else None)
                for name in COLUMNS}  # fmt: skip

    def restore(self, saved: dict[str, np.ndarray]) -> None:
        """Take back the rows of :meth:`saved`."""
        frame = pd.DataFrame({name: saved[name] for name in COLUMNS})
        for name in ("dimension", "group"):
            frame[name] = frame[name].astype(str)
        self.rows = [frame] if len(frame) else []


def rows_of(scenario: Scenario, t: int, inputs: GroupInputs) -> pd.DataFrame:
    """Day ``t``'s rows of ``groups.parquet`` from the state ``inputs`` (denials and wrongful points: since the
    counters were last started). The dashboard calls it any day, for a live breakdown."""
    return rows_of_slices(scenario, t, [inputs])


def rows_of_slices(
    scenario: Scenario, t: int, slices: Iterable[GroupInputs], flat: GroupLayout | None = None
) -> pd.DataFrame:
    """As :func:`rows_of`, the agents given in consecutive slices of whole chunks (ids in order)."""
    flat = layout(scenario) if flat is None else flat
    counts = np.zeros((flat.start[-1], len(COUNTS)), dtype=np.int64)
    partial = []
    for inputs in slices:
        slice_counts, slice_sums = count_groups(flat, inputs)
        counts += slice_counts
        partial.append(slice_sums)
    sums = _in_order(np.concatenate(partial))
    labels = [(dimension, group) for dimension, groups in dimensions(scenario).items() for group in groups]
    frame = pd.DataFrame({name: counts[:, k] for k, name in enumerate(COUNTS)})
    with np.errstate(invalid="ignore", divide="ignore"):
        frame.insert(2, "score_mean", np.where(counts[:, 1] > 0, sums[:, 0] / counts[:, 1], np.nan))
    frame["wrongful_points"] = sums[:, 1]
    frame.insert(0, "group", [group for _, group in labels])
    frame.insert(0, "dimension", [dimension for dimension, _ in labels])
    frame.insert(0, "day", np.full(len(labels), t, dtype=np.int64))
    return frame[list(COLUMNS)]


def empty_groups() -> pd.DataFrame:
    """A groups table with no rows."""
    types: dict[str, Any] = dict.fromkeys(COLUMNS, np.int64) | {"dimension": str, "group": str}
    types |= {"score_mean": np.float64, "wrongful_points": np.float64}
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in types.items()})


def group_inputs(population: Any, status: Any, households: Households) -> GroupInputs:
    """The arrays a breakdown reads, on the host (copied from the device on a GPU run)."""

    def host(values: Any) -> np.ndarray:
        return values if isinstance(values, np.ndarray) else values.copy_to_host()

    names = [name for name in GroupInputs._fields if name not in ("status", "member_of", "children")]
    arrays = {name: host(getattr(population, name)) for name in names}
    return GroupInputs(**arrays, status=host(status), member_of=host(households.member_of),
                       children=host(households.children))  # fmt: skip


def group_slices(population: Any, status: Any, households: Households, size: int = 0) -> Iterator[GroupInputs]:
    """The arrays a breakdown reads, on the host, in slices of ``size`` agents (default :data:`SLICE`): views of
    host arrays, or copies of device arrays made one slice at a time."""
    n = status.shape[0]
    if isinstance(status, np.ndarray):
        yield group_inputs(population, status, households)
        return
    size = size or SLICE
    names = [name for name in GroupInputs._fields if name not in ("status", "member_of", "children")]
    children = households.children.copy_to_host()
    for lo in range(0, n, size):
        hi = min(n, lo + size)
        arrays = {name: getattr(population, name)[lo:hi].copy_to_host() for name in names}
        member_of = households.member_of[lo:hi].copy_to_host() if households.member_of.shape[0] else \
            np.zeros(0, np.int32)  # fmt: skip
        yield GroupInputs(**arrays, status=status[lo:hi].copy_to_host(), member_of=member_of, children=children)


def start_group_row(population: Any) -> None:
    """Start counting the denials and wrongful points of the next row (host or device arrays alike)."""
    population.denials_since_row[:] = 0
    population.wrongful_since_row[:] = 0


def groups_problems(saved: dict[str, np.ndarray], scenario: Scenario, day: int) -> list[str]:
    """Why ``saved`` cannot be the groups rows of ``scenario`` after ``day`` days (empty if it can)."""
    if set(saved) != set(COLUMNS):
        return [f"groups columns {sorted(saved)} are not {sorted(COLUMNS)}"]
    lengths = {values.shape for values in saved.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        return ["groups columns differ in length"]
    days = saved["day"]
    if days.size and (days.min() < 0 or days.max() >= day):
        return [f"groups rows fall outside days 0 … {day - 1}"]
    known = set(dimensions(scenario))
    if not set(np.unique(saved["dimension"])) <= known:
        return [f"groups rows name dimensions other than {sorted(known)}"]
    return []
