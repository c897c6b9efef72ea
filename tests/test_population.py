"""The agents' state as stored: frailty's 16-bit code (docs/model-choices.md), the gaps' codes, packed flags."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustsim.population import (
    ADAPTED,
    ADVISED,
    CASHLESS,
    COURT_LISTED,
    EVER_SANCTIONED,
    EVER_WRONGLY_SANCTIONED,
    FLAGS,
    FRAILTY_MIN_EXPONENT,
    FRAILTY_TOP_CODE,
    GAP_ZERO,
    LISTED_WRONGLY,
    OFF_GRID,
    OUTSPOKEN,
    PRIVACY_MINDED,
    RECORD,
    STATE,
    TRAITS,
    frailty_code,
    frailty_of,
    frailty_values,
    gap_code,
    gap_values,
    initialise,
    is_set,
    relaxation_rate,
    relaxation_steps,
    relaxed_code,
    with_flag,
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


def test_each_flag_constant_is_the_bit_its_state_array_declares() -> None:
    """The kernels' constants and the state table (which the agent table and checkpoints read) name the same bits."""
    constants = {
        "outspoken": OUTSPOKEN, "privacy_minded": PRIVACY_MINDED, "cashless": CASHLESS,
        "court_listed": COURT_LISTED, "listed_wrongly": LISTED_WRONGLY, "ever_sanctioned": EVER_SANCTIONED,
        "ever_wrongly_sanctioned": EVER_WRONGLY_SANCTIONED, "off_grid": OFF_GRID, "advised": ADVISED,
    }  # fmt: skip
    declared = {name: (holder, constants[name]) for holder, names in
                (("traits", TRAITS), ("record", RECORD), ("adapted", ADAPTED)) for name in names}  # fmt: skip
    assert declared == FLAGS
    assert all(STATE[holder].bits for holder, _ in FLAGS.values())
    assert all(len(column.bits) <= 8 and np.dtype(column.dtype) == np.uint8 for column in STATE.values() if column.bits)


@pytest.mark.parametrize("compiled", [True, False])
def test_setting_or_clearing_a_flag_keeps_every_other_bit(compiled: bool) -> None:
    setter, reader = (with_flag, is_set) if compiled else (with_flag.py_func, is_set.py_func)
    for flags in range(256):
        for k in range(8):
            bit = np.uint8(1 << k)
            for on in (False, True):
                changed = setter(np.uint8(flags), bit, on)
                assert changed == (flags | (1 << k) if on else flags & ~(1 << k))
                assert reader(changed, bit) == on


def test_the_population_draws_each_flag_with_its_share_and_the_agent_table_writes_it() -> None:
    s = load_scenario("china_scs", agents=100_000, days=1, seed=3)
    population = initialise(s)
    p = s.population
    for name, share in (("outspoken", p.outspoken_share), ("privacy_minded", p.privacy_share)):
        drawn = population.flag(name).mean()
        assert abs(drawn - share) < 5 * np.sqrt(share * (1 - share) / 100_000), name
    cashless = sum(r.share * r.cashless_share for r in s.regions)
    assert abs(population.flag("cashless").mean() - cashless) < 5 * np.sqrt(cashless * (1 - cashless) / 100_000)
    population.record[::7] |= EVER_SANCTIONED
    population.adapted[::5] |= ADVISED
    table = agent_table(population, s, np.zeros(100_000, dtype=np.int32))
    for name in FLAGS:
        column = table.column(name).to_numpy()
        assert column.dtype == np.bool_ and np.array_equal(column, population.flag(name)), name
    assert table.column("ever_sanctioned").to_numpy().sum() == len(range(0, 100_000, 7))
    assert table.column("advised").to_numpy().sum() == len(range(0, 100_000, 5))
    assert not {"traits", "record", "adapted"} & set(table.column_names)
