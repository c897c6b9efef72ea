"""The trace: one agent's story must add up to the daily counts of everybody."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trustsim
from trustsim.trace import DEFAULT_PANEL, Trace, choose_panel

AGENTS, DAYS = 3000, 40
# A harsh variant so that listings, sanctions, refusals and emigration all happen.
HARSH = ["score.contagion=0.2", "blacklist.blacklist_score=990", "blacklist.blacklist_exit_score=995",
         "adaptation.emigrate_rate=0.05", "adaptation.emigrate_min_decile=0"]  # fmt: skip


@pytest.fixture(scope="module")
def everybody() -> tuple[trustsim.Simulation, pd.DataFrame, pd.DataFrame]:
    """A run whose panel is the whole population, with its metrics and trace."""
    scenario = trustsim.load_scenario("china_scs", overrides=HARSH, agents=AGENTS, days=DAYS, seed=3)
    simulation = trustsim.Simulation(scenario)
    simulation.trace = Trace(scenario, np.arange(AGENTS))
    metrics = simulation.run()
    return simulation, metrics, simulation.trace.frame(DAYS)


def test_the_panel_is_evenly_spaced_outspoken_agents() -> None:
    outspoken = np.zeros(100_000, dtype=bool)
    outspoken[np.arange(3, 100_000, 7)] = True
    panel = choose_panel(outspoken, 1000)
    assert panel.size == 1000 and outspoken[panel].all() and np.all(np.diff(panel) > 0)
    assert panel[0] == 3 and panel[-1] == np.flatnonzero(outspoken)[-1]
    gaps = np.diff(panel)
    assert gaps.min() >= 7 * 14 and gaps.max() <= 7 * 15  # 14,285 outspoken / 999 gaps
    few = np.zeros(50, dtype=bool)
    few[[4, 9]] = True
    assert choose_panel(few, 1000).tolist() == [4, 9]
    assert choose_panel(np.zeros(5, dtype=bool), 3).tolist() == [0, 2, 4]  # nobody outspoken: everybody
    assert choose_panel(few, 0).size == 0


def test_traced_events_add_up_to_the_daily_counts(everybody: tuple) -> None:
    simulation, metrics, trace = everybody
    scenario = simulation.scenario
    by_day = trace.groupby("day")
    alive = trace[~trace.emigrated].groupby("day")
    assert metrics.denials_flight_ban.sum() > 0 and metrics.blacklisted.max() > 0  # the test has teeth
    assert metrics.emigrated.iloc[-1] > 0 and (trace.emigrated & trace.sanctioned).any()
    for b in scenario.behaviours:
        np.testing.assert_array_equal(by_day[f"committed_{b}"].sum(), metrics[f"committed_{b}"])
    for s in scenario.sanctions:
        np.testing.assert_array_equal(by_day[f"denied_{s}"].sum(), metrics[f"denials_{s}"])
        np.testing.assert_array_equal(alive[f"active_{s}"].sum(), metrics[f"active_{s}"])
    np.testing.assert_array_equal(alive.blacklisted.sum(), metrics.blacklisted)
    np.testing.assert_array_equal(alive.wrongly_sanctioned.sum(), metrics.wrongly_sanctioned)
    entries = metrics.blacklist_entries_score + metrics.blacklist_entries_court
    np.testing.assert_array_equal(by_day.entered_blacklist.sum(), entries)
    np.testing.assert_array_equal(by_day.emigrated.sum(), metrics.emigrated)
    np.testing.assert_allclose(alive.score.mean(), metrics.score_mean, rtol=1e-12)
    last = trace[trace.day == DAYS - 1].set_index("id")
    np.testing.assert_array_equal(last.score, simulation.world.population.score)
    np.testing.assert_array_equal(last.active_degree, simulation.world.degree)


def test_tracing_changes_nothing_in_the_run(everybody: tuple) -> None:
    _, metrics, _ = everybody
    scenario = trustsim.load_scenario("china_scs", overrides=HARSH, agents=AGENTS, days=DAYS, seed=3)
    untraced = trustsim.Simulation(scenario, traced=0)
    pd.testing.assert_frame_equal(untraced.run(), metrics, check_exact=True)
    assert untraced.trace.frame(DAYS).empty


def test_a_run_directory_holds_the_default_panel(tmp_path) -> None:
    result = trustsim.run("china_scs", agents=200_000 // 40, days=3, seed=2, out=tmp_path / "run")
    trace = pd.read_parquet(tmp_path / "run" / "trace.parquet")
    outspoken = result.agents.set_index("id").outspoken
    ids = trace.id.unique()
    assert len(trace) == 3 * len(ids) and result.manifest["traced_agents"] == len(ids) <= DEFAULT_PANEL
    assert outspoken.loc[ids].all() and len(ids) == outspoken.sum()  # fewer outspoken than the panel: all
