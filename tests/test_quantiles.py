"""The histogram-and-select percentiles equal numpy's, ties, clusters and bounds included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trustsim.quantiles as quantiles
from trustsim.quantiles import percentiles


@pytest.fixture(autouse=True, params=["histogram", "partition"])
def _both_paths_for_every_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs once through the histogram path and once by partitioning a copy."""
    monkeypatch.setattr(quantiles, "_SMALL", 0 if request.param == "histogram" else 1 << 40)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 200_000])
def test_percentiles_equal_numpy(n: int, dtype: type[np.floating]) -> None:
    """Double or single precision values (the scores are single): numpy's percentiles of the values as doubles."""
    rng = np.random.default_rng(n)
    values = np.clip(np.round(rng.normal(1000, 40, n), 1), 0, 1300)  # many ties
    values[: n // 3] = 1000.0  # a heavy atom, as on early days
    spread = 1e-6 if dtype == np.float64 else 1e-4  # a tight cluster in one bin, distinct values in either precision
    values[n // 3 : n // 2] = 1000.0 + rng.normal(0, spread, n // 2 - n // 3)
    values = values.astype(dtype)
    excluded = rng.random(n) >= 0.9
    excluded[0] = False
    expected = np.percentile(values[~excluded].astype(np.float64), [10, 50, 90])
    assert percentiles(values, excluded, (10, 50, 90), 0.0, 1300.0) == list(expected)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-50.0, 50.0, allow_nan=False), min_size=1, max_size=300),
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=5),
)
def test_any_values_and_percentiles(values: list[float], q: list[float]) -> None:
    array = np.array(values)
    excluded = np.zeros(array.shape[0], dtype=np.bool_)
    assert percentiles(array, excluded, tuple(q), -50.0, 50.0) == list(np.percentile(array, q))


def test_values_at_the_bounds_and_a_degenerate_range() -> None:
    values = np.array([0.0, 1300.0, 1300.0, 0.0, 650.0])
    none = np.zeros(5, dtype=np.bool_)
    assert percentiles(values, none, (0, 25, 50, 100), 0.0, 1300.0) == list(np.percentile(values, [0, 25, 50, 100]))
    assert percentiles(np.full(4, 7.0), np.zeros(4, bool), (10, 90), 7.0, 7.0) == [7.0, 7.0]


def test_constant_and_empty() -> None:
    assert percentiles(np.full(5, 7.0), np.zeros(5, bool), (10, 90), 0.0, 10.0) == [7.0, 7.0]
    assert all(np.isnan(percentiles(np.ones(3), np.ones(3, bool), (50,), 0.0, 10.0)))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([-3.0, -0.0, 0.0, 1e-300, 2.5, 2.5000000000000004, 7.0, 1000.0]), min_size=1, max_size=60),
    st.lists(st.floats(-3.0, 1000.0, allow_nan=False), min_size=0, max_size=60),
    st.floats(0.0, 100.0),
    st.sampled_from([np.float64, np.float32]),
)
def test_radix_select_inside_a_crowded_bin(
    atoms: list[float], spread: list[float], q: float, dtype: type[np.floating]
) -> None:
    """Atoms as close as the precision allows (in single precision 1e-300 is 0, and 2.5 + 2⁻⁵¹ is 2.5)."""
    values = np.array(atoms + spread).astype(dtype)
    excluded = np.zeros(values.shape[0], dtype=np.bool_)
    crowded, quantiles._COLLECT = quantiles._COLLECT, 2  # every bin of more than two values is narrowed by radix
    try:
        got = percentiles(values, excluded, (q,), -3.0, 1000.0)
    finally:
        quantiles._COLLECT = crowded
    assert got == list(np.percentile(values.astype(np.float64), [q]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_day_after_day_each_days_percentiles_equal_numpy_wherever_the_ranks_move(dtype: type[np.floating]) -> None:
    """ScorePercentiles collects the bins of the day before's ranks in the histogram's pass: a rank that stays,
    drifts a bin, jumps far, lands in a crowded bin or leaves one must give numpy's answer all the same."""
    rng = np.random.default_rng(7)
    n = 60_000
    track = quantiles.ScorePercentiles((10, 50, 90), 0.0, 1300.0)
    days = [np.full(n, 1000.0)]  # everybody at the base score: one crowded bin
    drift = np.clip(1000.0 + rng.normal(0, 20, n), 0, 1300)
    days += [drift - 0.08 * t for t in range(4)]  # about a bin a day
    days += [np.clip(drift - 300.0, 0, 1300), np.clip(drift + 250.0, 0, 1300)]  # far jumps
    days += [np.where(rng.random(n) < 0.7, 990.0, drift)]  # back into a crowded bin
    crowded, quantiles._COLLECT = quantiles._COLLECT, 20_000
    try:
        for values in days:
            values = values.astype(dtype)
            excluded = rng.random(n) >= 0.95
            expected = np.percentile(values[~excluded].astype(np.float64), [10, 50, 90])
            assert track(values, excluded) == list(expected)
    finally:
        quantiles._COLLECT = crowded


def test_a_rank_in_the_bins_of_the_day_before_needs_no_second_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes it faster: on a day like the one before, every rank is found among the values collected in the
    histogram's pass."""
    rng = np.random.default_rng(3)
    values = 1000.0 + rng.normal(0, 20, 50_000)
    none = np.zeros(values.shape[0], dtype=np.bool_)
    track = quantiles.ScorePercentiles((10, 50, 90), 0.0, 1300.0)
    track(values, none)
    passes: list[int] = []
    collect = quantiles._collect
    monkeypatch.setattr(quantiles, "_collect", lambda *a: passes.append(1) or collect(*a))
    assert track(values - 0.05, none) == list(np.percentile(values - 0.05, [10, 50, 90]))
    assert passes == []  # (the partition path, for small arrays, collects nothing either)
