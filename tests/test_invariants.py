"""Invariants that hold every day of every shipped scenario (trustsim.checks), and that the checks can fail."""

from __future__ import annotations

import re
from collections.abc import Callable

import numba as nb
import numpy as np
import pytest

from conftest import scenario
from trustsim.checks import InvariantError
from trustsim.day import Day
from trustsim.engine import Simulation
from trustsim.metrics import COUNT_FIXED, StateCounting, _state_counts, count_agent
from trustsim.network import ID_BITS
from trustsim.population import EVER_SANCTIONED, GAP_ZERO, Population, gap_of
from trustsim.scenario import shipped_scenarios
from trustsim.world import World


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_keeps_the_invariants(name: str) -> None:
    sim = Simulation(scenario(name, agents=3000, days=60), check=True)
    sim.run()  # InvariantError on the first broken invariant
    assert sim.finished


def test_invariants_hold_with_heavy_emigration_and_unfriending() -> None:
    s = scenario(
        "china_scs", "adaptation.emigrate_rate=0.2", "adaptation.emigrate_min_decile=0",
        "adaptation.unfriend_rate=0.5", "blacklist.blacklist_score=990", agents=3000, days=40,
    )  # fmt: skip
    sim = Simulation(s, check=True)
    sim.run()
    assert sim.world.population.emigrated.sum() > 100
    assert sim.metrics.frame()["isolated"].iloc[-1] > 0


def _break_score(sim: Simulation) -> None:
    sim.world.population.score[17] = np.nan


def _score_above_max(sim: Simulation) -> None:
    sim.world.population.score[5] = sim.scenario.score.score_max + 1


def _unreadable_frailty(sim: Simulation) -> None:
    sim.world.population.frailty[2, 9] = 65535  # above the largest code: it would decode as a negative rate


def _reconnect(sim: Simulation) -> None:
    """A cut friendship comes back on both ends, degrees untouched."""
    net = sim.world.network
    e = int(np.flatnonzero(~net.edge_active())[0])
    u, v, n = int(net.src[e]), int(net.dst[e]), net.n_agents
    for owner, j in ((u, (v - u) % n), (v, (u - v) % n)):  # a lattice edge: its live bit again
        if 1 <= j <= net.half and net.ring[owner] >> (8 + j - 1) & 1:
            net.ring[owner] |= np.uint16(1 << (j - 1))
            return
    for a, b in ((u, v), (v, u)):  # a CSR edge: both slots' sign bits cleared
        starts = net.row_starts()
        row = net.neighbours[starts[a] : starts[a + 1]]
        row[np.flatnonzero((row & ID_BITS) == b)[0]] = b


def _unsanction(sim: Simulation) -> None:
    pop = sim.world.population
    pop.record[np.flatnonzero(pop.flag("ever_sanctioned"))[0]] &= ~EVER_SANCTIONED


def _miscount(sim: Simulation) -> None:
    sim.metrics.values["blacklisted"][sim.world.day - 1] += 1


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_break_score, "score is NaN or infinite (1 case(s), first at index 17)"),
        (_score_above_max, "score outside [0, 1300] (1 case(s), first at index 5)"),
        (_unreadable_frailty, "frailty code above the largest (1 case(s), first at index 9)"),
        (_reconnect, "metric active_edges is"),
        (_unsanction, "metric ever_sanctioned is"),
        (_miscount, "metric blacklisted is"),
    ],
)
def test_the_checks_catch_a_corrupted_day(corrupt: Callable[[Simulation], None], message: str) -> None:
    sim = Simulation(scenario("china_scs", "adaptation.unfriend_rate=0.3", agents=3000, days=30), check=True)
    for _ in range(20):
        sim.step()
    corrupt(sim)
    assert sim.checker is not None
    with pytest.raises(InvariantError, match=re.escape(f"day 19: {message}")):
        sim.checker.check(sim.world, sim.today, sim.metrics.row(19))


def test_the_engine_checks_every_day_when_asked() -> None:
    class Corruption:
        def step(self, world: World, day: Day) -> None:
            if day.t == 7:
                world.population.chill_gap[3] = 0  # the code of a gap of 1: chill 0

    s = scenario("china_scs", agents=2000, days=10)
    unchecked = Simulation(s)
    unchecked.phases["F"] = Corruption()
    unchecked.run()  # nothing notices
    checked = Simulation(s, check=True)
    checked.phases["F"] = Corruption()
    with pytest.raises(InvariantError, match=re.escape("day 7: chill outside (0, 1] (1 case(s), first at index 3)")):
        checked.run()


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


def test_chill_and_deterrence_stay_above_zero_where_their_codes_would_round_them_to_it() -> None:
    """Kept as codes of their gaps to 1, chill and deterrence must not become 0 (docs/model.md §1: (0, 1])."""
    from trustsim.mechanisms.adaptation import AdaptationParams, chilled_gap, deterred_gap

    harsh = ["adaptation.chill_step=0.99", "adaptation.chill_relax=0", "adaptation.deterrence_step=0.9",
             "adaptation.deterrence_floor=1e-12", "adaptation.deterrence_relax=0"]  # fmt: skip
    s = scenario("china_scs", *harsh, agents=100, days=2)
    params = AdaptationParams.from_scenario(s)
    chill_gap = deterrence_gap = np.uint16(GAP_ZERO)
    for _ in range(20):  # every friend signals, every day; points every day
        chill_gap = chilled_gap(params, chill_gap, 1.0, 0)
        deterrence_gap = deterred_gap(params, deterrence_gap, True, 0)
    assert chill_gap == deterrence_gap == 1  # 0.01**20 and 1e-12 are below the smallest step, 2**(-1/4096)
    assert 1.0 - gap_of(chill_gap) > 0.0 and 1.0 - gap_of(deterrence_gap) > 0.0
    sim = Simulation(scenario("china_scs", *harsh, agents=2000, days=30), check=True)
    sim.run()  # the daily invariant checks hold: chill in (0, 1]


@nb.njit
def _counts_by_the_rule(
    counting: StateCounting, pop: Population, status: np.ndarray, degree: np.ndarray, n_columns: int
) -> np.ndarray:
    counts = np.zeros(n_columns, dtype=np.int64)
    for i in range(pop.score.shape[0]):
        if not pop.emigrated[i]:
            count_agent(counting, i, pop, status, degree, counts)
    return counts


def test_the_cpu_state_counts_are_the_rules_agent_by_agent() -> None:
    # The CPU driver counts by vectorised sums over bounds, not by count_agent; both must
    # give the same counts, with emigrants, listed agents and every tier present.
    s = scenario(
        "china_scs", "adaptation.emigrate_rate=0.05", "adaptation.emigrate_min_decile=0",
        "blacklist.blacklist_score=990", agents=20_000, days=30,
    )  # fmt: skip
    sim = Simulation(s)
    sim.run()
    pop, counting = sim.world.population, sim.metrics.counting
    status = sim.today.outcomes.status  # the last day's
    chunked, score_sum = _state_counts(counting, pop, status, sim.world.degree)
    expected = _counts_by_the_rule(counting, pop, status, sim.world.degree, counting.columns)
    assert pop.emigrated.sum() > 0 and pop.blacklisted.sum() > 0
    assert (expected[COUNT_FIXED : COUNT_FIXED + 6] > 0).sum() >= 4  # agents in several tiers
    assert status.any()  # some wrongly sanctioned today, or other flags
    np.testing.assert_array_equal(chunked.sum(axis=0), expected)
    alive = ~pop.emigrated
    assert score_sum.sum() == pytest.approx(pop.score[alive].astype(np.float64).sum(), rel=1e-12)
