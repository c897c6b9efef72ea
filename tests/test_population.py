"""The agents' state as stored: frailty's 16-bit code (docs/model-choices.md)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustsim.population import (
    FRAILTY_MIN_EXPONENT,
    FRAILTY_TOP_CODE,
    GAP_ZERO,
    frailty_code,
    frailty_of,
    frailty_values,
    gap_code,
    gap_values,
    initialise,
    relaxation_rate,
    relaxation_steps,
    relaxed_code,
)
from trustsim.rng import gamma_unit_mean, stream_id
from trustsim.scenario import load_scenario
from trustsim.store import agent_table

SMALLEST = 2.0**FRAILTY_MIN_EXPONENT
TOP = FRAILTY_TOP_CODE


def test_every_code_stands_for_two_to_its_exponent_times_one_plus_its_mantissa() -> None:
    assert TOP == 62 * 1024 + 1023  # the largest code: exponent 62 above the smallest, every mantissa bit set
    codes = np.arange(TOP + 1, dtype=np.uint16)
    expected = np.ldexp(1.0 + (codes & 1023) / 1024.0, (codes.astype(np.int64) >> 10) + FRAILTY_MIN_EXPONENT)
    assert np.array_equal(frailty_values(codes), expected)
    assert frailty_of(np.uint16(1234)) == expected[1234]
    assert np.all(np.diff(expected) > 0)  # codes are ordered as the frailties they stand for


def test_a_code_encodes_back_to_itself() -> None:
    codes = np.arange(TOP + 1, dtype=np.uint16)
    again = np.array([frailty_code(value) for value in frailty_values(codes)], dtype=np.uint16)
    assert np.array_equal(again, codes)


@given(st.floats(min_value=SMALLEST, max_value=2.0**15 * (1 - 2**-12), allow_subnormal=False))
def test_the_code_is_the_nearest_within_half_a_step(value: float) -> None:
    code = int(frailty_code(value))
    stored = frailty_of(np.uint16(code))
    assert abs(stored / value - 1.0) <= 2.0**-11
    neighbours = [frailty_of(np.uint16(c)) for c in (code - 1, code + 1) if 0 <= c <= TOP]
    assert all(abs(other - value) >= abs(stored - value) for other in neighbours)


def test_values_beyond_the_range_are_clamped_to_its_ends() -> None:
    assert frailty_code(0.0) == 0 and frailty_code(SMALLEST / 4) == 0
    assert frailty_code(2.0**20) == TOP
    assert frailty_of(np.uint16(TOP)) < 2.0**15


def test_frailty_is_the_code_of_each_agents_gamma_draw_with_mean_one_and_variance_one_over_h() -> None:
    s = load_scenario("china_scs", agents=100_000, days=1, seed=4)
    population = initialise(s)
    h = s.population.heterogeneity
    for b, name in enumerate(s.behaviours):
        stream = stream_id(f"init:frailty:{name}")
        sample = [0, 1, 77, 99_999]
        assert [int(population.frailty[b, i]) for i in sample] == [
            int(frailty_code(gamma_unit_mean(h, s.run.seed, stream, i))) for i in sample
        ]
        values = frailty_values(population.frailty[b])
        n = values.shape[0]
        # Gamma(h, 1/h): mean 1, variance 1/h, fourth central moment 3(h + 2)/h³ (for the variance's error)
        assert abs(values.mean() - 1.0) < 5 * np.sqrt(1 / h / n)
        assert abs(values.var() - 1 / h) < 5 * np.sqrt((3 * (h + 2) / h**3 - 1 / h**2) / n)


def test_the_agent_table_gives_frailties_not_codes() -> None:
    s = load_scenario("china_scs", agents=1_000, days=1, seed=2)
    population = initialise(s)
    table = agent_table(population, s, np.zeros(1_000, dtype=np.int32))
    for b, name in enumerate(s.behaviours):
        column = table.column(f"frailty_{name}").to_numpy()
        assert column.dtype == np.float64
        assert np.array_equal(column, frailty_values(population.frailty[b]))


def test_every_gap_code_decodes_to_its_power_of_two_and_encodes_back_to_itself() -> None:
    """Deterrence and chill gaps are 16-bit codes of 2**(-c/4096) (0 for the top code), read back from tables
    built with square roots and products only; the nearest code of a gap is a log2 guess settled by the tables."""
    codes = np.arange(GAP_ZERO + 1, dtype=np.uint16)
    gaps = gap_values(codes)
    expected = np.where(codes == GAP_ZERO, 0.0, np.exp2(-codes.astype(np.float64) / 4096))
    np.testing.assert_allclose(gaps, expected, rtol=4e-15, atol=0)
    assert gaps[0] == 1.0 and gaps[GAP_ZERO] == 0.0 and np.all(np.diff(gaps) < 0)
    for c in range(1, GAP_ZERO, 97):
        assert gap_code(gaps[c]) == c
        above, below = gaps[c - 1], gaps[c + 1] if c + 1 < GAP_ZERO else 0.0
        assert gap_code(gaps[c] + 0.49 * (above - gaps[c])) == c  # the nearest code, either side
        assert gap_code(gaps[c] - 0.49 * (gaps[c] - below)) == c
    assert gap_code(1.0) == 1  # a gap of 1 (deterrence 0) is never stored
    assert gap_code(0.0) == GAP_ZERO and gap_code(0.4 * gaps[GAP_ZERO - 1]) == GAP_ZERO


@pytest.mark.parametrize("relax", [0.0, 1e-7, 0.002, 0.05, 0.5, 1.0])
def test_relaxation_by_whole_codes_keeps_the_rate_over_any_run_of_days(relax: float) -> None:
    """``gap ← gap·(1 − relax)`` a day is ``-log2(1 − relax)·4096`` codes; a run of days takes its share to within
    one code, with no drift: after 1000 days the gap is (1 − relax)**1000 of what it was, to within a code."""
    rate = relaxation_rate(relax)
    steps = [relaxation_steps(rate, t) for t in range(1000)]
    if relax == 1.0:
        assert set(steps) == {GAP_ZERO}
        return
    for start, end in ((0, 1000), (17, 400), (399, 401)):
        assert abs(sum(steps[start:end]) - (end - start) * rate) < 1
    start = 3000
    code = start
    for t in range(1000):
        code = relaxed_code(code, steps[t])
    want = (1 - relax) ** 1000 * gap_values(np.array([start], dtype=np.uint16))[0]
    if want > gap_values(np.array([GAP_ZERO - 1], dtype=np.uint16))[0]:
        got = gap_values(np.array([code], dtype=np.uint16))[0]
        assert abs(got / want - 1) < 2 ** (1 / 4096) - 1 + 1e-12
    else:
        assert code == GAP_ZERO
