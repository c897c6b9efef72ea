"""Analytic expectations: the model's counts and dynamics match what docs/model.md implies.

Each statistical check states its tolerance in standard deviations of the
sampling noise, computed from the same population (frailties are known), so a
wrong rate, coverage or error-rate path would fail it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import NO_ADAPTATION, only, scenario, simulate
from trustsim.engine import Simulation
from trustsim.mechanisms.scoring import recovery_rate
from trustsim.population import frailty_values, initialise
from trustsim.scenario import read_raw, validate

SIGMAS = 4.5


def within(observed: float, expected: float, variance: float) -> bool:
    """|observed − expected| below SIGMAS standard deviations."""
    return abs(observed - expected) <= SIGMAS * math.sqrt(max(variance, 1e-12))


def test_committed_jaywalks_match_rate_times_frailty_without_deterrence() -> None:
    s = scenario("china_scs", *NO_ADAPTATION, agents=20_000, days=40)
    metrics = simulate(s)
    p = np.minimum(0.02 * frailty_values(initialise(s).frailty[0]), 1.0)
    total = metrics["committed_jaywalk"].sum()
    assert within(total, s.run.days * p.sum(), s.run.days * (p * (1 - p)).sum())
    # and ≈ N·0.02 per day, up to the sampling of frailties (mean 1, sd 1/sqrt(2N))
    assert abs(total / s.run.days / (20_000 * 0.02) - 1) < 0.03


def test_observation_face_recognition_and_review_rates() -> None:
    s = scenario("china_scs", *NO_ADAPTATION, "observation.review_per_capita=1.0", agents=20_000, days=60)
    m = simulate(s)
    committed, observed = m["committed_jaywalk"].sum(), m["observed_jaywalk"].sum()
    misattributed, caught = m["misattributed_jaywalk"].sum(), m["caught_jaywalk"].sum()
    penalised = m["penalised_jaywalk"].sum()
    assert within(observed, 0.4 * committed, committed * 0.4 * 0.6)
    assert within(misattributed, 0.01 * observed, observed * 0.01 * 0.99)
    # review capacity exceeds demand: every misattribution is reviewed and caught w.p. 0.9
    assert within(caught, 0.9 * misattributed, misattributed * 0.9 * 0.1)
    assert (m["review_backlog"] == 0).all()
    lost = observed - penalised - caught  # false non-matches
    assert within(lost, 0.05 * observed, observed * 0.05 * 0.95)
    # non-camera channels: observed ≈ committed × coverage (finance 0.9)
    c, o = m["committed_late_payment"].sum(), m["observed_late_payment"].sum()
    assert within(o, 0.9 * c, c * 0.9 * 0.1)
    assert (m["misattributed_late_payment"] == 0).all()


def test_no_review_capacity_means_nothing_is_caught_and_all_candidates_wait() -> None:
    m = simulate(scenario("china_scs", "observation.review_per_capita=0", agents=5000, days=20))
    assert m["caught_jaywalk"].sum() == 0
    candidates = m["penalised_jaywalk"]  # every attributed camera instance stands and was a candidate
    assert np.allclose(m["review_backlog"], candidates)


def test_payment_channel_sees_only_cashless_agents() -> None:
    s = scenario("china_scs", *NO_ADAPTATION, agents=20_000, days=30)
    m = simulate(s)
    pop = initialise(s)
    p = np.minimum(0.05 * frailty_values(pop.frailty[3]), 1.0)
    cashless = pop.flag("cashless")
    expected = s.run.days * p[cashless].sum()  # payment coverage 1.0
    assert within(m["observed_imported_purchase"].sum(), expected, s.run.days * (p * (1 - p))[cashless].sum())


def test_court_listings_per_year_from_late_payment() -> None:
    s = scenario(
        "china_scs", *only("late_payment"), *NO_ADAPTATION,
        "blacklist.court_points=0", "blacklist.blacklist_score=0", "blacklist.court_exit_rate=1",
        agents=20_000, days=365,
    )  # fmt: skip
    m = simulate(s)
    p = np.minimum(0.002 * frailty_values(initialise(s).frailty[1]), 1.0)
    per_day = p.sum() * 0.9 * 0.02  # committed × finance coverage × escalation
    # court-listed agents leave the next day; a second judgment while listed is no entry (rare)
    expected = s.run.days * per_day
    assert within(m["blacklist_entries_court"].sum(), expected, expected)
    assert m["blacklist_entries_score"].sum() == 0
    assert m["blacklist_exits"].sum() >= m["blacklist_entries_court"].sum() - m["blacklisted"].iloc[-1]


def test_mean_score_follows_recovery_and_constant_drift_to_steady_state() -> None:
    points, rate, half_life = -10.0, 0.3, 20.0
    s = scenario(
        "china_scs", *only("late_payment"), *NO_ADAPTATION,
        f"behaviours.late_payment.points={points}", f"behaviours.late_payment.base_rate={rate}",
        "behaviours.late_payment.escalation=0", "channels.finance.schedule=[{day=0, coverage=1.0}]",
        f"score.recovery_half_life_days={half_life}", "score.contagion=0",
        agents=10_000, days=150,
    )  # fmt: skip
    m = simulate(s)
    rho = recovery_rate(half_life)
    p = np.minimum(rate * frailty_values(initialise(s).frailty[1]), 1.0)
    drift = points * p
    k = np.arange(1, s.run.days + 1)[:, None]
    expected = 1000 + (drift / rho * (1 - (1 - rho) ** k)).mean(axis=1)
    variance = (points**2 * p * (1 - p) / (1 - (1 - rho) ** 2)).mean() / s.run.agents
    errors = np.abs(m["score_mean"].to_numpy() - expected) / math.sqrt(variance)
    assert errors.max() < SIGMAS
    steady = 1000 + drift.mean() / rho
    assert abs(m["score_mean"].iloc[-1] - steady) < 0.01 * abs(steady - 1000)  # within 1% of the deficit


def _contagion_only() -> Simulation:
    raw = read_raw("china_scs")
    raw["run"] |= {"agents": 3000, "days": 60}
    raw["score"].pop("recovery_half_life_days")  # no recovery
    raw["blacklist"]["blacklist_score"] = 0  # nobody listed, so nobody unfriended
    raw["adaptation"]["emigrate_rate"] = 0.0  # nobody leaves, so no edge is cut
    for behaviour in raw["behaviours"].values():
        behaviour["base_rate"] = 0.0
    return Simulation(validate(raw))


def test_contagion_alone_conserves_the_degree_weighted_mean_score() -> None:
    sim = _contagion_only()
    pop = sim.world.population
    pop.score[:] = np.random.default_rng(5).uniform(100, 1200, pop.n_agents)
    degree = sim.world.degree.copy()
    before = float(degree @ pop.score)
    spread = pop.score.std()
    sim.run()
    # Scores are stored in single precision: each day rounds each score by at most half a unit
    # in the last place, 2⁻¹⁴ below 2048; a broken conservation would move it by whole points.
    assert degree @ pop.score.astype(np.float64) == pytest.approx(before, abs=60 * degree.sum() * 2.0**-14)
    assert pop.score.std() < 0.8 * spread  # scores converge towards friends'
    assert not np.isclose(pop.score.mean(), (degree @ pop.score) / degree.sum())  # plain mean is not conserved


def test_recovery_alone_is_exact_exponential_decay_to_target() -> None:
    s = scenario("china_scs", *only(), *NO_ADAPTATION, "score.contagion=0", agents=2000, days=50)
    sim = Simulation(s)
    pop = sim.world.population
    start = np.random.default_rng(1).uniform(700, 1200, pop.n_agents)
    pop.score[:] = start
    sim.run()
    rho = recovery_rate(365.0)
    expected = 1000 + (start - 1000) * (1 - rho) ** 50
    assert not pop.flag("off_grid").any() and not pop.emigrated.any()
    # Single precision rounds each day's score by at most 2⁻¹⁴ below 2048, and (1 − ρ) < 1 shrinks earlier
    # roundings: 50 days are within 50·2⁻¹⁴ (0.003) of the exact decay, whose daily step is 0.2 to 0.5 points.
    assert np.allclose(pop.score, expected, rtol=0, atol=50 * 2.0**-14)
