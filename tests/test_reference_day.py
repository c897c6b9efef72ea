"""The engine's day agrees exactly with the plain-numpy reference of tests/reference_day.py.

For each configuration the engine runs some days to reach a non-trivial state; then,
day by day, a copy of its start-of-day state goes through :func:`reference_day` and
the engine takes its own step, and every state array, the edge mask and every metrics
column must agree (integers and booleans exactly, floats to 1e-12 relative).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from reference_day import Family, State, coverage_today, reference_day, schedule_value
from trustsim.engine import Simulation
from trustsim.population import FLAGS, STATE, gap_values
from trustsim.scenario import Scenario, SchedulePoint, load_scenario

RTOL = 1e-12

HEAVY = [
    "blacklist.blacklist_score=990",
    "adaptation.unfriend_rate=0.5",
    "adaptation.emigrate_rate=0.3",
    "adaptation.emigrate_min_decile=0",
    "adaptation.opt_out_rate=0.5",
    "adaptation.adviser_rate=0.5",
    "observation.false_match=0.3",
    "blacklist.court_exit_rate=0.3",
    "blacklist.blacklist_exit_days=2",
    "score.contagion=0.2",
    "behaviours.jaywalk.base_rate=0.1",
    "behaviours.jaywalk.points=-20",
    "behaviours.late_payment.escalation=0.5",
    "behaviours.dissent.escalation=0.5",
    "adaptation.adviser_below=995",
    "sanctions.flight_ban.attempt_rate=0.3",
    "observation.review_per_capita=0.005",
    "adaptation.deterrence_step=0.8",
    "adaptation.chill_step=0.9",
    "sanctions.loan_denial.applies_to_blacklisted=true",  # active by score or by listing
]

ROLLOUT = [
    "channels.camera.schedule=[{day = 0, coverage = 0.1}, {day = 20, coverage = 0.9}]",
    "channels.camera.region_schedules.r1=[{day = 3, coverage = 0.2}, {day = 9, coverage = 0.7}]",
    "channels.online.region_schedules.r2=[{day = 12, coverage = 0.8}]",
    "channels.payment.region_schedules.r3=[]",
    "adaptation.opt_out_rate=0.3",
    "observation.false_match=0.2",
    "behaviours.jaywalk.escalation=0.05",
    'behaviours.volunteer.channel="camera"',
]

# Corner cases: a region of one agent (its misattributions are lost), full camera
# coverage, misattributed good deeds, court on a camera behaviour, two judgments a
# day, clamping at both ends, review capacity above demand in some regions.
CORNERS = [
    "regions.0.share=0.499",
    "regions.3.share=0.001",
    "channels.camera.schedule=[{day = 0, coverage = 1.0}]",
    "observation.false_match=0.9",
    "observation.review_per_capita=0.05",
    "observation.review_catch=0.5",
    'behaviours.volunteer.channel="camera"',
    "behaviours.volunteer.points=200",
    "behaviours.volunteer.base_rate=0.05",
    "behaviours.jaywalk.escalation=0.1",
    "behaviours.late_payment.escalation=1.0",
    "behaviours.late_payment.base_rate=0.05",
    "behaviours.dissent.escalation=1.0",
    "behaviours.dissent.base_rate=0.05",
    "score.contagion=0.0",
    "blacklist.blacklist_exit_days=0",
    "blacklist.court_exit_rate=0.5",
]

# china_family's private-school and rental bans reach many households when the list is full.
FAMILY = [
    "sanctions.private_school_ban.attempt_rate=0.3",
    "score.contagion=0.3",
]

CONFIGS: dict[str, dict[str, Any]] = {
    # name: scenario, overrides, agents, seed, days stepped before checking, days checked
    "china_scs": {"source": "china_scs", "overrides": [], "agents": 2500, "seed": 3, "warm": 12, "check": 3},
    "heavy": {"source": "china_scs", "overrides": HEAVY, "agents": 1500, "seed": 5, "warm": 4, "check": 5},
    "rollout": {"source": "china_scs", "overrides": ROLLOUT, "agents": 1500, "seed": 11, "warm": 8, "check": 4},
    "scale_free": {
        "source": "china_scs",
        "overrides": [*HEAVY, "network={generator = 'scale_free', m = 3}"],
        "agents": 1500,
        "seed": 7,
        "warm": 3,
        "check": 3,
    },
    "regional_sbm": {
        "source": "china_scs",
        "overrides": [
            "network={generator = 'regional_sbm', mean_degree = 8.0, within_share = 0.8}",
            "score.contagion=0.1",
        ],
        "agents": 2000,
        "seed": 9,
        "warm": 6,
        "check": 3,
    },
    "corners": {"source": "china_scs", "overrides": CORNERS, "agents": 1000, "seed": 13, "warm": 4, "check": 3},
    # Ten behaviours: masks wider than a byte, an outspoken multiplier off dissent, a
    # positive camera behaviour, court on a camera behaviour.
    "ten_behaviours": {
        "source": "china_scs",
        "overrides": [
            *HEAVY[:3],
            'behaviours.litter={channel = "camera", points = -8.0, base_rate = 0.08, escalation = 0.05}',
            'behaviours.petition={channel = "online", points = -20.0, base_rate = 0.01, outspoken_multiplier = 9.0}',
            'behaviours.help_elderly={channel = "camera", points = 15.0, base_rate = 0.03}',
            'behaviours.luxury={channel = "payment", points = -4.0, base_rate = 0.04}',
            "observation.false_match=0.3",
        ],
        "agents": 1500,
        "seed": 17,
        "warm": 5,
        "check": 3,
    },
    "baseline": {"source": "baseline", "overrides": [], "agents": 1500, "seed": 3, "warm": 5, "check": 2},
    # More than one chunk of the parallel kernels (8,192 agents), the last one ending
    # inside a 64-agent word of phase A's draws.
    "two_chunks": {"source": "china_scs", "overrides": HEAVY, "agents": 9229, "seed": 19, "warm": 3, "check": 2},
    # Households, dependants and ages (docs/model.md §14) under heavy pressure: families
    # in contagion and chilling, children barred, households leaving together.
    "china_family": {
        "source": "china_family", "overrides": [*HEAVY, *FAMILY], "agents": 2000, "seed": 55, "warm": 4, "check": 4
    },
    # Across day 365, when everybody in the country is a year older and some change band.
    "birthday": {"source": "china_family", "overrides": HEAVY[3:], "agents": 600, "seed": 29, "warm": 364, "check": 2},
    # Households without ages, a family weight other than 1, staying when one adult leaves.
    "households_only": {
        "source": "china_scs",
        "overrides": [
            *HEAVY,
            "households={adults = [0.3, 0.4, 0.3], children = [0.5, 0.5], family_weight = 0.5, "
            "emigrate_with_household = false}",
            "sanctions.flight_ban.affects_children=true",
        ],
        "agents": 1500,
        "seed": 31,
        "warm": 4,
        "check": 3,
    },
    # Ages without households.
    "ages_only": {
        "source": "china_scs",
        "overrides": [
            *HEAVY,
            "ages={max_age = 70, age_bands = [{min_age = 18, share = 0.5}, {min_age = 40, share = 0.5}]}",
            "behaviours.jaywalk.age_multiplier=[3.0, 0.25]",
        ],
        "agents": 1500,
        "seed": 37,
        "warm": 4,
        "check": 3,
    },
}


def make_scenario(config: dict[str, Any]) -> Scenario:
    """The scenario of a test configuration, long enough for its warm-up and checked days."""
    return load_scenario(
        config["source"],
        overrides=config["overrides"],
        agents=config["agents"],
        days=config["warm"] + config["check"],
        seed=config["seed"],
    )


def snapshot(sim: Simulation) -> tuple[State, np.ndarray]:
    """Copies of the engine's state arrays and edge mask."""
    state = {name: np.array(value, copy=True) for name, value in sim.world.population.arrays().items()
             if not STATE[name].bits}  # fmt: skip
    # The reference reads every flag by its name in docs/model.md, not the engine's bytes of bits.
    state |= {flag: sim.world.population.flag(flag) for flag in FLAGS}
    return state, np.array(sim.world.edge_active, copy=True)


def reference_of(
    sim: Simulation, state: State, edges: np.ndarray, t: int | None = None
) -> tuple[State, np.ndarray, dict[str, float]]:
    """The reference's day ``t`` (default: the engine's next day) from a given start-of-day state.

    The observed instances of earlier days (for ``stored_record_bytes``) are summed from
    the engine's metrics rows of days before ``t``.
    """
    t = sim.world.day if t is None else t
    frame = sim.metrics.frame()
    before = frame[frame["day"] < t] if len(frame) else frame
    records = int(sum(before[f"observed_{b}"].sum() for b in sim.scenario.behaviours)) if len(before) else 0
    net = sim.world.network
    households = Family(*sim.households) if sim.scenario.households is not None else None
    return reference_day(sim.scenario, state, edges, net.src, net.dst, t, records, households)


def values_differ(want: Any, got: Any) -> bool:
    """Whether two metric values differ (floats beyond RTOL, NaN equals NaN)."""
    want, got = float(want), float(got)
    if math.isnan(want) or math.isnan(got):
        return not (math.isnan(want) and math.isnan(got))
    return not math.isclose(want, got, rel_tol=RTOL, abs_tol=1e-9)


def disagreements(
    ref: tuple[State, np.ndarray, dict[str, float]], state: State, edges: np.ndarray, row: dict[str, Any]
) -> list[str]:
    """Every way the engine's end of day (``state``, ``edges``, ``row``) differs from the reference's."""
    ref_state, ref_edges, ref_row = ref
    problems: list[str] = []
    assert set(ref_state) == set(state), "state arrays differ in name"
    for name, want in ref_state.items():
        got = state[name]
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape} != {want.shape}")
            continue
        bad = ~np.isclose(got, want, rtol=RTOL, atol=0.0) if want.dtype.kind == "f" else got != want
        if bad.any():
            where = np.argwhere(bad)
            first = tuple(int(x) for x in where[0])
            problems.append(
                f"{name}: {len(where)} entries differ, first at {first}: "
                f"engine {got[first]!r}, reference {want[first]!r}"
            )
    if not np.array_equal(edges, ref_edges):
        cut = np.flatnonzero(edges != ref_edges)
        problems.append(f"edge_active: {cut.shape[0]} edges differ, first {int(cut[0])}")
    for name, want in ref_row.items():
        if name not in row:
            problems.append(f"metric {name}: missing from the engine's row")
        elif values_differ(want, row[name]):
            problems.append(f"metric {name}: engine {row[name]!r}, reference {want!r}")
    problems += [f"metric {name}: not in the reference" for name in row if name not in ref_row]
    return problems


def engine_row(sim: Simulation, t: int) -> dict[str, Any]:
    """The engine's metrics row of day ``t``."""
    frame = sim.metrics.frame()
    return frame[frame["day"] == t].iloc[0].to_dict()


@pytest.fixture(scope="module", params=list(CONFIGS))
def warmed(request: pytest.FixtureRequest) -> tuple[str, Simulation]:
    """An engine run of each configuration stepped through its warm-up days."""
    config = CONFIGS[request.param]
    sim = Simulation(make_scenario(config))
    for _ in range(config["warm"]):
        sim.step()
    return request.param, sim


def test_engine_matches_reference(warmed: tuple[str, Simulation]) -> None:
    """Day after day, the engine and the reference agree on state, edges and metrics."""
    name, sim = warmed
    for _ in range(CONFIGS[name]["check"]):
        t = sim.world.day
        state, edges = snapshot(sim)
        ref = reference_of(sim, state, edges)
        sim.step()
        after, after_edges = snapshot(sim)
        problems = disagreements(ref, after, after_edges, engine_row(sim, t))
        assert not problems, f"{name}, day {t}:\n" + "\n".join(problems)


def test_checked_days_exercise_every_branch() -> None:
    """On the days the heavy variant is checked, every counted event happens (the check is not vacuous)."""
    config = CONFIGS["heavy"]
    sim = Simulation(make_scenario(config))
    for _ in range(config["warm"]):
        sim.step()
    totals: dict[str, float] = {}
    start_edges = sim.world.network.n_edges
    for _ in range(config["check"]):
        state, edges = snapshot(sim)
        _, _, row = reference_of(sim, state, edges)
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + value
        sim.step()
    for key in (
        "misattributed_jaywalk",
        "caught_jaywalk",
        "blacklist_entries_score",
        "blacklist_entries_court",
        "blacklist_exits",
        "wrongly_sanctioned",
        "ever_wrongly_sanctioned",
        "off_grid",
        "advised",
        "emigrated",
        "review_backlog",
        "denials_flight_ban",
        "isolated",
    ):
        assert totals[key] > 0, key
    assert totals["active_edges"] < start_edges * config["check"]
    floor = sim.scenario.adaptation.deterrence_floor
    lowest = 1.0 - gap_values(sim.world.population.deterrence_gap.min()[None])[0]
    assert lowest <= (floor + sim.scenario.adaptation.deterrence_relax) * (1 + 2e-4)  # within a code
    assert (gap_values(sim.world.population.chill_gap) > 0.01).any()  # chill below 0.99


def test_comparison_detects_a_perturbed_state() -> None:
    """A wrong start-of-day state (one agent's score, one edge) makes the reference disagree."""
    config = CONFIGS["china_scs"]
    sim = Simulation(make_scenario(config))
    for _ in range(3):
        sim.step()
    t = sim.world.day
    state, edges = snapshot(sim)
    clean = reference_of(sim, state, edges)
    score_off = {name: value.copy() for name, value in state.items()}
    score_off["score"][7] += 1e-3  # a tiny error in one agent's score (some 16 units in the last place)
    listed = {name: value.copy() for name, value in state.items()}
    listed["score"][11] = 100.0  # pushed under the blacklist
    edge_cut = edges.copy()
    edge_cut[0] = False
    sim.step()
    after, after_edges = snapshot(sim)
    row = engine_row(sim, t)
    assert not disagreements(clean, after, after_edges, row)
    tiny = disagreements(reference_of(sim, score_off, edges, t), after, after_edges, row)
    assert any(p.startswith("score:") for p in tiny), tiny
    big = disagreements(reference_of(sim, listed, edges, t), after, after_edges, row)
    assert any(p.startswith("blacklisted:") for p in big), big
    assert any(p.startswith("metric blacklist_entries_score") for p in big), big
    cut = disagreements(reference_of(sim, state, edge_cut, t), after, after_edges, row)
    assert any(p.startswith("edge_active") for p in cut), cut


def test_schedule_reading() -> None:
    """The reference's rollout (docs/model.md §8): 0 before, linear between, flat after."""
    points = [SchedulePoint(day=2, coverage=0.2), SchedulePoint(day=6, coverage=0.6)]
    assert [schedule_value(points, t) for t in (0, 1, 2, 4, 6, 9)] == pytest.approx([0, 0, 0.2, 0.4, 0.6, 0.6])
    assert schedule_value([], 5) == 0.0
    cov = coverage_today(make_scenario(CONFIGS["rollout"]), 6)
    assert cov[0].tolist() == pytest.approx([0.34, 0.45, 0.34, 0.34])
    assert cov[1].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert cov[2].tolist() == [0.5, 0.5, 0.0, 0.5]


def test_ten_behaviour_variant_uses_wide_masks_and_every_new_branch() -> None:
    """The ten-behaviour configuration is not vacuous: 16-bit masks, and its new behaviours happen."""
    sim = Simulation(make_scenario(CONFIGS["ten_behaviours"]))
    assert sim.today.outcomes.committed.dtype == np.uint16
    metrics = sim.run()
    for column in ("misattributed_litter", "misattributed_help_elderly", "penalised_petition", "penalised_luxury"):
        assert metrics[column].sum() > 0, column
    assert metrics["blacklist_entries_court"].sum() > 0


def test_family_variants_exercise_every_family_branch() -> None:
    """On the checked days of the family configurations, children are barred (rightly and wrongly), a household
    leaves together, and day 365 moves agents into the next age band: the checks above are not vacuous."""
    config = CONFIGS["china_family"]
    sim = Simulation(make_scenario(config))
    for _ in range(config["warm"]):
        sim.step()
    totals: dict[str, float] = {}
    together = 0
    for _ in range(config["check"]):
        before = sim.world.population.emigrated.copy()
        state, edges = snapshot(sim)
        _, _, row = reference_of(sim, state, edges)
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + value
        sim.step()
        left = sim.world.population.emigrated & ~before
        together += int(np.any(np.bincount(sim.households.member_of[left]) > 1))
    for key in ("children_affected_private_school_ban", "children_wrongly_affected_private_school_ban",
                "children_affected_rental_ban", "children_wrongly_affected_rental_ban"):  # fmt: skip
        assert totals[key] > 0, key  # by listing and by score, rightly and wrongly
    assert together > 0
    config = CONFIGS["households_only"]  # a sanction of the listed that bars children, w = 0.5
    sim = Simulation(make_scenario(config))
    for _ in range(config["warm"]):
        sim.step()
    barred = {"children_affected_flight_ban": 0, "children_wrongly_affected_flight_ban": 0}
    for _ in range(config["check"]):
        state, edges = snapshot(sim)
        _, _, row = reference_of(sim, state, edges)
        for key in barred:
            barred[key] += row[key]
        sim.step()
    assert all(value > 0 for value in barred.values()), barred
    config = CONFIGS["birthday"]
    sim = Simulation(make_scenario(config))
    for _ in range(config["warm"] + 1):  # to the start of day 365, the second day checked
        sim.step()
    minimums = [band.min_age for band in sim.scenario.ages.age_bands]
    state, edges = snapshot(sim)
    after, _, _ = reference_of(sim, state, edges)
    moved = np.isin(after["age"], minimums) & (after["age"] != state["age"])
    assert moved.any()  # someone turned 30, 45 or 60 on day 365
