"""Invariants that hold every day of every shipped scenario, checked while stepping."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import scenario
from trustsim.engine import Simulation
from trustsim.scenario import shipped_scenarios


def _step_and_check(sim: Simulation) -> None:
    s = sim.scenario
    pop = sim.world.population
    n = pop.n_agents
    previous_active = sim.world.edge_active.copy()
    previous_ever = pop.ever_sanctioned.copy()
    frozen: dict[int, float] = {}
    while not sim.finished:
        emigrated_before = pop.emigrated.copy()
        sim.step()
        t = sim.world.day - 1
        row = sim.metrics.frame().iloc[t]
        alive = ~pop.emigrated
        # scores within bounds, no NaN anywhere in the state
        assert np.all((pop.score >= s.score.score_min) & (pop.score <= s.score.score_max))
        for name, values in pop.arrays().items():
            if values.dtype.kind == "f":
                assert np.isfinite(values).all(), name
        assert np.all(pop.wrongful >= 0)
        assert np.all((pop.deterrence > 0) & (pop.deterrence <= 1))
        assert np.all((pop.chill > 0) & (pop.chill <= 1))
        # conservation of counts
        assert row["alive"] + row["emigrated"] == n == alive.sum() + pop.emigrated.sum()
        for b in s.behaviours:
            assert row[f"committed_{b}"] >= row[f"observed_{b}"] >= row[f"penalised_{b}"]
            assert row[f"misattributed_{b}"] >= row[f"caught_{b}"]
        tiers = sum(row[f"tier_{tier.name}"] for tier in s.tiers)
        assert tiers == pytest.approx(1.0)
        assert row["blacklisted"] == (pop.blacklisted & alive).sum()
        assert row["wrongly_sanctioned"] <= row["ever_wrongly_sanctioned"] <= row["ever_sanctioned"]
        # cut edges stay cut; emigrants keep no edge
        active = sim.world.edge_active
        assert not np.any(active & ~previous_active)
        assert row["active_edges"] == active.sum()
        net = sim.world.network
        assert not np.any(active & (pop.emigrated[net.src] | pop.emigrated[net.dst]))
        previous_active = active.copy()
        # "ever" flags never clear
        assert np.all(pop.ever_sanctioned >= previous_ever)
        previous_ever = pop.ever_sanctioned.copy()
        # emigrants take no further part: frozen score, no behaviour
        for i in np.flatnonzero(pop.emigrated):
            assert frozen.setdefault(int(i), float(pop.score[i])) == pop.score[i]
        assert not sim.today.committed[emigrated_before].any()


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_keeps_the_invariants(name: str) -> None:
    _step_and_check(Simulation(scenario(name, agents=3000, days=60)))


def test_invariants_hold_with_heavy_emigration_and_unfriending() -> None:
    s = scenario(
        "china_scs", "adaptation.emigrate_rate=0.2", "adaptation.emigrate_min_decile=0",
        "adaptation.unfriend_rate=0.5", "blacklist.blacklist_score=990", agents=3000, days=40,
    )  # fmt: skip
    sim = Simulation(s)
    _step_and_check(sim)
    assert sim.world.population.emigrated.sum() > 100
    assert sim.metrics.frame()["isolated"].iloc[-1] > 0


def test_baseline_has_no_score_movement_no_listing_no_sanctions() -> None:
    sim = Simulation(scenario("baseline", agents=5000, days=60))
    m = sim.run()
    assert (sim.world.population.score == 1000).all()
    assert (m["score_mean"] == 1000).all() and (m["score_p10"] == 1000).all()
    quiet = [
        c for c in m.columns if c.startswith(("observed_", "penalised_", "denials_", "blacklist", "ever_", "wrongly"))
    ]
    quiet += [f"active_{s}" for s in sim.scenario.sanctions]
    assert len(quiet) > 30
    for column in quiet:
        assert (m[column] == 0).all(), column
    assert (m["active_edges"] == sim.world.network.n_edges).all()
    assert m["committed_jaywalk"].sum() > 0 and m["dissent_committed"].sum() > 0
    assert m["emigrated"].iloc[-1] == 0
    assert m["stored_record_bytes"].iloc[-1] == 0


def test_a_society_that_empties_by_emigration_keeps_running() -> None:
    s = scenario(
        "china_scs", "adaptation.emigrate_min_decile=0", "adaptation.emigrate_rate=1.0",
        "sanctions.dating_demotion.applies_below=2000", agents=500, days=4,
    )  # fmt: skip
    sim = Simulation(s)
    m = sim.run()
    assert m["alive"].iloc[0] == 0 and m["emigrated"].iloc[-1] == 500
    assert m["import_share"].iloc[1:].isna().all() and m["score_mean"].isna().all()
    assert (m["committed_jaywalk"].iloc[1:] == 0).all()
    with pytest.raises(RuntimeError, match="simulated already"):
        sim.step()
