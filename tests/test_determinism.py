"""Reproducibility (docs/model.md §9): same scenario and seed, same numbers; common random numbers."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from conftest import scenario, simulate
from trustsim.engine import Simulation


def test_same_seed_gives_identical_metrics_and_other_seed_differs() -> None:
    s = scenario(agents=4000, days=40)
    first, second = simulate(s), simulate(s)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    other = simulate(scenario(agents=4000, days=40, seed=2))
    assert not first.equals(other)


def test_thread_count_does_not_change_any_number(threads: None) -> None:
    s = scenario(agents=20_000, days=30)  # several chunks per thread
    numba.set_num_threads(1)  # the population and the network are built on one thread too
    one = Simulation(s, threads=1)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    one_metrics = one.run()
    many = Simulation(s, threads=numba.config.NUMBA_NUM_THREADS)
    assert many.threads == numba.config.NUMBA_NUM_THREADS
    many_metrics = many.run()
    pd.testing.assert_frame_equal(one_metrics, many_metrics, check_exact=True)
    for name, values in one.world.population.arrays().items():
        assert np.array_equal(values, many.world.population.arrays()[name]), name


def test_policy_variant_shares_every_draw_with_the_reference() -> None:
    """A change to flight-ban attempts alters denials of flights only: the rest is the same society."""
    reference = simulate(scenario(agents=5000, days=60))
    variant = simulate(scenario("china_scs", "sanctions.flight_ban.attempt_rate=0.5", agents=5000, days=60))
    changed = [c for c in reference.columns if not reference[c].equals(variant[c])]
    assert changed == ["denials_flight_ban"]
    assert variant["denials_flight_ban"].sum() > reference["denials_flight_ban"].sum()


def test_baseline_and_reference_share_population_network_and_first_day_behaviour() -> None:
    reference = Simulation(scenario("china_scs", agents=5000, days=1))
    baseline = Simulation(scenario("baseline", agents=5000, days=1))
    for name in ("region", "income_decile", "traits", "frailty"):
        assert np.array_equal(getattr(reference.world.population, name), getattr(baseline.world.population, name))
    assert np.array_equal(reference.world.network.src, baseline.world.network.src)
    assert np.array_equal(reference.world.network.dst, baseline.world.network.dst)
    ref_row, base_row = reference.run().iloc[0], baseline.run().iloc[0]
    for b in reference.scenario.behaviours:
        assert ref_row[f"committed_{b}"] == base_row[f"committed_{b}"]


def test_timed_steps_record_every_phase_and_give_the_same_numbers() -> None:
    timed = Simulation(scenario("china_scs", agents=1500, days=3, seed=2))
    seconds: dict[str, list[float]] = {}
    while not timed.finished:
        timed.step(seconds)
    assert sorted(seconds) == ["A", "B", "C", "D", "E", "metrics"]
    assert all(len(times) == 3 and min(times) >= 0.0 for times in seconds.values())
    plain = Simulation(scenario("china_scs", agents=1500, days=3, seed=2))
    pd.testing.assert_frame_equal(timed.metrics.frame(), plain.run())
