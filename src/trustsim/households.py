"""Households, dependants and ages (docs/model.md §14): who lives with whom, and how old they are.

Households take consecutive agent ids: household ``h`` holds agents ``start[h] …
start[h + 1] − 1``. Its size is drawn from ``U(init:hh_adults, 0, h)`` and its children
from ``U(init:hh_children, 0, h)`` against the cumulative shares (the largest size when
no share qualifies); the last household is cut short at agent ``N − 1`` and keeps its
children. A household shares its income decile (``U(init:income, 0, h)``) and its region:
households are dealt to regions whole, in the order of ``U(init:hh_region_order, 0, h)``
(a random permutation, stable), each to the first region whose cumulative agent quota
its first agent falls under, so each region is within one household of its quota.

Ages: an agent's band is drawn from ``U(init:age_band, 0, i)`` against the cumulative band
shares, its age on day 0 uniform over the band's whole years from ``U(init:age, 0, i)``.
Ages advance by a year on days 365, 730, … for agents still in the country
(:func:`advance_ages`): an emigrant keeps the age it left with.

The family rules used by the phases (:func:`family_of`, :func:`age_band`) are scalar
``njit`` functions, called by the CPU drivers and the GPU kernels alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.rng import uniform_array
from trustsim.scenario import Scenario

YEAR = 365
"""Days in a year: ages advance every 365 days (docs/model.md §14)."""


class Households(NamedTuple):
    """The households of a society: fixed when it is drawn, never changed."""

    member_of: np.ndarray  # int32 (N,): each agent's household
    start: np.ndarray  # int64 (H + 1,): household h holds agents start[h] … start[h + 1] − 1
    children: np.ndarray  # int16 (H,): dependent children of each household

    @property
    def n_households(self) -> int:
        """Number of households H."""
        return int(self.children.shape[0])


def no_households() -> Households:
    """The empty record a society without households passes to the kernels (their rules see no family)."""
    return Households(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int16))


def smallest_qualifying(draws: np.ndarray, shares: list[float]) -> np.ndarray:
    """For each draw, the smallest index ``k`` whose cumulative share exceeds it (the last when none does)."""
    cumulative = np.cumsum(np.asarray(shares, dtype=np.float64))
    return np.minimum(np.searchsorted(cumulative, draws, side="right"), len(shares) - 1)


def form_households(scenario: Scenario) -> Households:
    """The households of ``scenario``'s society, drawn from its seed (docs/model.md §14)."""
    spec = scenario.households
    if spec is None:
        raise ValueError("form_households needs a scenario with a [households] section")
    n, seed = scenario.run.agents, scenario.run.seed
    # At most N households (each has at least one adult): draw that many sizes and keep
    # the households that start before agent N.
    sizes = smallest_qualifying(uniform_array(seed, "init:hh_adults", 0, np.arange(n)), spec.adults) + 1
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, n, side="left")) + 1  # households up to the one holding agent N − 1
    start = np.concatenate([[0], ends[:count]]).astype(np.int64)
    start[-1] = n  # the last household is cut short at agent N − 1
    children = smallest_qualifying(uniform_array(seed, "init:hh_children", 0, np.arange(count)), spec.children)
    member_of = np.repeat(np.arange(count, dtype=np.int32), np.diff(start))
    return Households(member_of=member_of, start=start, children=children.astype(np.int16))


def household_regions(households: Households, quotas: np.ndarray, seed: int) -> np.ndarray:
    """The region of each household: dealt whole, in a random order, against the agents' regional quotas."""
    sizes = np.diff(households.start)
    order = np.argsort(uniform_array(seed, "init:hh_region_order", 0, np.arange(sizes.shape[0])), kind="stable")
    placed_before = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    regions = np.empty(sizes.shape[0], dtype=np.int32)
    regions[order] = np.searchsorted(np.cumsum(quotas), placed_before, side="right")
    return regions


def household_deciles(households: Households, seed: int) -> np.ndarray:
    """The income decile of each household, 0 … 9, shared by its adults."""
    return np.floor(uniform_array(seed, "init:income", 0, np.arange(households.n_households)) * 10).astype(np.int8)


def draw_ages(scenario: Scenario, dtype: type[np.generic]) -> np.ndarray:
    """Every agent's age on day 0: a band by its share, then a whole year of the band, uniformly."""
    spec = scenario.ages
    if spec is None:
        raise ValueError("draw_ages needs a scenario with an [ages] section")
    ids = np.arange(scenario.run.agents)
    seed = scenario.run.seed
    band = smallest_qualifying(uniform_array(seed, "init:age_band", 0, ids), [b.share for b in spec.age_bands])
    lowest = np.array([b.min_age for b in spec.age_bands], dtype=np.int64)
    years = np.diff(np.append(lowest, spec.max_age + 1))  # whole years of each band
    offset = np.floor(uniform_array(seed, "init:age", 0, ids) * years[band]).astype(np.int64)
    return (lowest[band] + offset).astype(dtype)


def band_minimums(scenario: Scenario) -> np.ndarray:
    """``min_age`` of every age band, youngest first (a single band from 0 without ages)."""
    if scenario.ages is None:
        return np.zeros(1, dtype=np.int64)
    return np.array([band.min_age for band in scenario.ages.age_bands], dtype=np.int64)


@nb.njit(inline="always", cache=True)
def age_band(minimums: np.ndarray, age: int) -> int:
    """The band of an agent of ``age``: the last whose ``min_age`` it has reached (the first below all)."""
    band = 0
    for k in range(1, minimums.shape[0]):
        band += age >= minimums[k]
    return band


@nb.njit(inline="always", cache=True)
def family_of(households: Households, i: int) -> tuple[int, int]:
    """The ids ``lo ≤ j < hi`` of agent ``i``'s household (``i`` included); ``(i, i)`` without households."""
    if households.member_of.shape[0] == 0:
        return i, i
    h = households.member_of[i]
    return households.start[h], households.start[h + 1]


@nb.njit(cache=True)
def advance_ages(age: np.ndarray, emigrated: np.ndarray) -> None:
    """A year older, every agent still in the country (on days 365, 730, …)."""
    for i in range(age.shape[0]):
        if not emigrated[i]:
            age[i] += 1
