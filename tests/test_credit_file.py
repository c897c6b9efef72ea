"""The score's expiry memory (a credit file): points leave the score exactly ``memory_days`` days later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trustsim.engine import Simulation
from trustsim.errors import ScenarioError
from trustsim.memory import estimate
from trustsim.preflight import BackendOptionError
from trustsim.report.records import record_follow_up, sanctioned_days
from trustsim.scenario import Scenario, branch_problems, load_scenario, read_raw, scenario_from_raw
from trustsim.store import read_checkpoint, write_checkpoint

MEMORY_DAYS = 9


def short_file(**extra: object) -> list[str]:
    """uk_credit with a nine-day file and frequent payment trouble, so that points clamp and expire often."""
    settings = {
        "score.memory_days": MEMORY_DAYS,
        "behaviours.missed_payment.base_rate": 0.03,
        "behaviours.default.base_rate": 0.01,
    } | extra
    return [f"{key}={value}" for key, value in settings.items()]


def day_points(simulation: Simulation) -> np.ndarray:
    """Each agent's points of the day just simulated, from phase B's attributed instances (finance only)."""
    attributed = simulation.today.outcomes.attributed.astype(np.int64)
    points = np.zeros(attributed.shape[0])
    for b, behaviour in enumerate(simulation.scenario.behaviours.values()):
        points += ((attributed >> b) & 1) * behaviour.points
    return points


def test_the_score_is_the_clamped_sum_of_the_last_memory_days_of_points() -> None:
    scenario = load_scenario("uk_credit", agents=3000, days=40, overrides=short_file())
    simulation = Simulation(scenario)
    history = []
    clamped = 0
    for d in range(scenario.run.days):
        simulation.step()
        history.append(day_points(simulation))
        window = np.sum(history[max(0, d - MEMORY_DAYS + 1) :], axis=0)
        unclamped = scenario.score.base_score + window
        expected = np.clip(unclamped, scenario.score.score_min, scenario.score.score_max)
        clamped += int(np.count_nonzero(unclamped < scenario.score.score_min))
        np.testing.assert_array_equal(simulation.world.population.score, expected, err_msg=f"day {d}")
    assert clamped > 0  # the test covers scores held at the floor while their points expire
    assert np.count_nonzero(np.array(history)) > 1000


def test_a_point_applied_on_day_t_is_gone_on_day_t_plus_memory_days_not_before_not_after() -> None:
    scenario = load_scenario("uk_credit", agents=3000, days=40, overrides=short_file())
    simulation = Simulation(scenario)
    points, scores = [], []
    while not simulation.finished:
        simulation.step()
        points.append(day_points(simulation))
        scores.append(simulation.world.population.score.copy())
    points_by_day, score_by_day = np.array(points), np.array(scores)
    base = scenario.score.base_score
    checked = 0
    for agent in np.flatnonzero(np.count_nonzero(points_by_day, axis=0) == 1):
        t = int(np.flatnonzero(points_by_day[:, agent])[0])
        if t + MEMORY_DAYS >= scenario.run.days:
            continue
        path = score_by_day[:, agent]
        assert np.all(path[:t] == base)
        assert np.all(path[t : t + MEMORY_DAYS] == base + points_by_day[t, agent])  # on file: days t … t+M−1
        assert path[t + MEMORY_DAYS] == base  # gone on day t + M
        checked += 1
    assert checked > 50


def expiry_china(days: int = 30) -> Scenario:
    """china_scs with a five-day credit file (no recovery, contagion or court points) and frequent misattribution."""
    raw = read_raw("china_scs")
    raw["score"].pop("recovery_half_life_days")
    raw["score"] |= {"memory": "expiry", "memory_days": 5, "contagion": 0.0}
    raw["blacklist"]["court_points"] = 0
    raw["observation"]["false_match"] = 0.3
    return scenario_from_raw(raw, agents=2000, days=days)


def test_wrongful_points_expire_with_the_points() -> None:
    scenario = expiry_china()
    jaywalk = np.uint64(1 << list(scenario.behaviours).index("jaywalk"))
    simulation = Simulation(scenario)
    received = []
    for d in range(scenario.run.days):
        simulation.step()
        received.append((simulation.today.outcomes.wrongly_received.astype(np.uint64) & jaywalk) != 0)
        on_file = np.any(received[max(0, d - 4) :], axis=0)
        wrongful = simulation.world.population.wrongful
        assert np.all(wrongful[on_file] > 0) and np.all(wrongful[~on_file] == 0), f"day {d}"
        balance = simulation.credit_file.balance
        np.testing.assert_array_equal(simulation.world.population.score, np.clip(balance, 0, 1300))
    assert np.count_nonzero(np.any(received, axis=0)) > 50  # not vacuous (about 100 expected)


def test_a_run_resumed_from_a_checkpoint_keeps_its_file(tmp_path: Path) -> None:
    scenario = load_scenario("uk_credit", agents=2000, days=30, overrides=short_file())
    straight = Simulation(scenario).run()
    first = Simulation(scenario)
    for _ in range(17):
        first.step()
    write_checkpoint(tmp_path / "day-17.npz", first.saved_state())
    state = read_checkpoint(tmp_path / "day-17.npz")
    assert state.credit_file["agent"].size > 0
    resumed = Simulation(scenario, start=state).run()
    assert resumed.equals(straight)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (['score.memory="expiry"'], "needs memory_days"),
        (['score.memory="expiry"', "score.memory_days=10"], "drop recovery_half_life_days"),
        (["score.memory_days=10"], "applies to memory = 'expiry' only"),
        (["score.memory_days=0"], "greater than or equal to 1"),
    ],
)
def test_impossible_memory_settings_are_refused(settings: list[str], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario("china_scs", overrides=settings)


def test_court_points_and_contagion_outside_the_file_are_refused() -> None:
    with pytest.raises(ScenarioError, match="court_points = 0 or drop the escalation"):
        load_scenario("uk_credit", overrides=["behaviours.default.escalation=0.1", "blacklist.court_points=100"])
    with pytest.raises(ScenarioError, match="set contagion = 0"):
        load_scenario("uk_credit", overrides=["score.contagion=0.01"])


def test_a_branch_keeps_the_memory_mode_and_may_shorten_the_file_but_not_lengthen_it() -> None:
    saved = load_scenario("uk_credit", agents=2000, days=30, overrides=short_file()).resolved()
    longer = load_scenario("uk_credit", agents=2000, days=60, overrides=short_file(**{"score.memory_days": 20}))
    assert any("cannot come back on file" in p.worded() for p in branch_problems(saved, longer, 30))
    shorter = load_scenario("uk_credit", agents=2000, days=60, overrides=short_file(**{"score.memory_days": 4}))
    assert branch_problems(saved, shorter, 30) == []
    recovering = load_scenario("china_scs", days=60).resolved()
    assert any("score.memory" in p.worded() for p in branch_problems(recovering, shorter, 30))


def test_a_shortened_file_drops_every_record_past_its_new_length_on_the_first_day() -> None:
    scenario = load_scenario("uk_credit", agents=3000, days=20, overrides=short_file())
    first = Simulation(scenario)
    history = []
    for _ in range(12):
        first.step()
        history.append(day_points(first))
    branch = load_scenario("uk_credit", agents=3000, days=20, overrides=short_file(**{"score.memory_days": 4}))
    second = Simulation(branch, start=first.saved_state())
    for d in range(12, 20):
        second.step()
        history.append(day_points(second))
        expected = np.clip(999 + np.sum(history[d - 3 :], axis=0), 0, 999)
        np.testing.assert_array_equal(second.world.population.score, expected, err_msg=f"day {d}")


def test_the_gpu_backend_refuses_a_credit_file_before_looking_for_a_gpu(tmp_path: Path) -> None:
    with pytest.raises(BackendOptionError, match="CPU backend only"):
        Simulation(load_scenario("uk_credit", agents=100, days=2), backend="gpu")
    command = [sys.executable, "-m", "trustsim", "run", "uk_credit", "--agents", "100", "--days", "2",
               "--backend", "gpu", "--out", str(tmp_path / "run")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: score.memory = 'expiry' (a credit file) runs on the CPU backend only: use --backend cpu"
    ]
    assert not (tmp_path / "run").exists()


def test_the_memory_estimate_counts_the_file() -> None:
    credit = load_scenario("uk_credit", agents=100_000)
    kept_longer = load_scenario("uk_credit", agents=100_000, overrides=["score.memory_days=4000"])
    assert estimate(kept_longer).scratch > estimate(credit).scratch > 100_000 * 32


def test_the_report_says_how_long_one_or_two_missed_payments_keep_a_person_refused() -> None:
    table = record_follow_up(load_scenario("uk_credit")).set_index("record")
    one, two = table.loc["1 × missed_payment (-130)"], table.loc["2 × missed_payment (-130)"]
    assert one["mortgage_refusal"] == "2,190 days (6.0 years)"  # exactly memory_days
    assert two["mortgage_refusal"] == "2,220 days (6.1 years)"  # until the second, a month later, expires
    assert one["phone_contract_refusal"] == two["phone_contract_refusal"] == "–"  # 739 is still above 721
    assert table.loc["2 × default (-350)", "tenancy_refusal"] == "2,160 days (5.9 years)"  # 299 < 561 between
    # With recovery (china_scs, half-life 365 days) 950 climbs back over 960 after 365·log2(1.25) = 117.5 days.
    recovering = record_follow_up(load_scenario("china_scs")).set_index("record")
    assert recovering.loc["1 × late_payment (-50)", "dating_demotion"] == "118 days"
    # Listed below 600 on day 5, out after 30 days at or above 750 (days 15 … 44): phase D's own rule.
    path = np.concatenate([np.full(5, 1000.0), np.full(10, 500.0), np.full(40, 800.0), np.full(5, 700.0)])
    listed, active = sanctioned_days(path, load_scenario("china_scs"))
    np.testing.assert_array_equal(np.flatnonzero(listed), np.arange(5, 44))
    np.testing.assert_array_equal(active[0], listed)  # flight_ban: while listed
    np.testing.assert_array_equal(np.flatnonzero(active[6]), np.arange(5, 60))  # internet_throttle: below 850
    good = ["behaviours.missed_payment.points=10", "behaviours.default.points=5"]
    only_good = load_scenario("uk_credit", overrides=good)
    assert record_follow_up(only_good).empty and "mortgage_refusal" in record_follow_up(only_good).columns
