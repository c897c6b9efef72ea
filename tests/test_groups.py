"""groups.parquet (docs/model.md §15): every dimension splits the society exactly.

On each breakdown day the rows of one dimension add up to the society's figures:
those of metrics.parquet for the same day (alive, listed, wrongly sanctioned, denials
since the previous row) and, where metrics.parquet has no column (sanctioned) or counts
only the alive (ever sanctioned), the engine's state read directly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import scenario
from trustsim.day import CHUNK
from trustsim.disparity import Quantity, disparity, last_rows, rates, who_bears_it
from trustsim.engine import Simulation
from trustsim.groups import (
    GroupInputs,
    breakdown_day,
    dimensions,
    group_inputs,
    group_slices,
    rows_of,
    rows_of_slices,
)
from trustsim.households import age_band, band_minimums
from trustsim.scenario import Scenario

PRESSURE = (
    "blacklist.blacklist_score=985",
    "observation.false_match=0.3",
    "channels.camera.schedule=[{day = 0, coverage = 1.0}]",
    "behaviours.jaywalk.base_rate=0.2",
    "adaptation.emigrate_min_decile=0",
    "adaptation.emigrate_rate=0.01",
    "run.breakdown_every=7",
)


def sanctioned(s: Scenario, score: np.ndarray, listed: np.ndarray) -> np.ndarray:
    """Whether each agent has at least one active sanction (docs/model.md §6 item 6), from its state."""
    active = np.zeros(score.shape[0], dtype=bool)
    for sanction in s.sanctions.values():
        if sanction.applies_below is not None:
            active |= score < sanction.applies_below
        if sanction.applies_to_blacklisted:
            active |= listed
    return active


@pytest.fixture(scope="module")
def family_run() -> tuple[Simulation, dict[int, dict[str, float]]]:
    """china_family under pressure for 30 days; the society's figures on each breakdown day."""
    s = scenario("china_family", *PRESSURE, agents=4000, days=30, seed=3)
    sim = Simulation(s)
    expected: dict[int, dict[str, float]] = {}
    since = 0
    while not sim.finished:
        sim.step()
        t = sim.world.day - 1
        row = sim.metrics.row(t)
        since += sum(row[f"denials_{name}"] for name in s.sanctions)
        if not breakdown_day(s, t):
            continue
        pop = sim.world.population
        alive = ~pop.emigrated
        expected[t] = {
            "agents": s.run.agents,
            "alive": row["alive"],
            "blacklisted": row["blacklisted"],
            "sanctioned": int((alive & sanctioned(s, pop.score, pop.blacklisted)).sum()),
            "wrongly_sanctioned": row["wrongly_sanctioned"],
            # metrics.parquet's ever_* count the alive; a group's count its emigrants too
            "ever_sanctioned": row["ever_sanctioned"] + int((pop.emigrated & pop.flag("ever_sanctioned")).sum()),
            "ever_wrongly_sanctioned": row["ever_wrongly_sanctioned"]
            + int((pop.emigrated & pop.flag("ever_wrongly_sanctioned")).sum()),
            "emigrated": row["emigrated"],
            "denials": since,
            "score_sum": row["score_mean"] * row["alive"],
        }
        since = 0
    return sim, expected


def test_breakdown_days_are_every_seventh_and_the_last(family_run: tuple[Simulation, dict]) -> None:
    """Rows on days 6, 13, 20, 27 and the last day 29, one per (dimension, group) each."""
    sim, _ = family_run
    groups = sim.groups.frame()
    assert sorted(groups["day"].unique()) == [6, 13, 20, 27, 29]
    dims = dimensions(sim.scenario)
    assert list(dims) == ["region", "income_quintile", "outspoken", "cashless", "privacy_minded", "age_band",
                          "has_children"]  # fmt: skip
    per_day = sum(len(labels) for labels in dims.values())
    assert (groups.groupby("day").size() == per_day).all()


def test_every_dimension_sums_to_the_society(family_run: tuple[Simulation, dict]) -> None:
    """Alive, listed, sanctioned, wrongly sanctioned, ever sanctioned, emigrated, denials between rows."""
    sim, expected = family_run
    groups = sim.groups.frame()
    for t, figures in expected.items():
        assert figures["sanctioned"] > 0 and figures["wrongly_sanctioned"] > 0 and figures["denials"] > 0
        assert figures["emigrated"] > 0
        today = groups[groups["day"] == t]
        for dimension, rows in today.groupby("dimension"):
            for column, value in figures.items():
                if column == "score_sum":
                    total = float((rows["score_mean"] * rows["alive"]).sum())
                    assert total == pytest.approx(value, rel=1e-9), (t, dimension)
                else:
                    assert int(rows[column].sum()) == value, (t, dimension, column)


def test_groups_are_the_agents_with_that_value(family_run: tuple[Simulation, dict]) -> None:
    """Each group's size counted again from the agent table on the last day, for every dimension."""
    sim, _ = family_run
    s = sim.scenario
    pop = sim.world.population
    last = sim.groups.frame().query("day == 29").set_index(["dimension", "group"])["agents"]
    children = sim.households.children[sim.households.member_of] > 0
    values = {
        "region": np.array([r.name for r in s.regions])[pop.region],
        "income_quintile": (pop.income_decile // 2).astype(str),
        "outspoken": np.where(pop.flag("outspoken"), "true", "false"),
        "cashless": np.where(pop.flag("cashless"), "true", "false"),
        "privacy_minded": np.where(pop.flag("privacy_minded"), "true", "false"),
        "age_band": np.array(dimensions(s)["age_band"])[[age_band(band_minimums(s), a) for a in pop.age]],
        "has_children": np.where(children, "true", "false"),
    }
    for dimension, labels in values.items():
        counted = pd.Series(labels).value_counts()
        for group, size in counted.items():
            assert last[(dimension, group)] == size, (dimension, group)


def test_wrongful_points_add_up_to_the_misattributions_that_stand() -> None:
    """A row's wrongful points are the points of misattributions that stood."""
    s = scenario("china_scs", "observation.false_match=0.3",
                 "run.breakdown_every=5", agents=3000, days=10, seed=2)  # fmt: skip
    sim = Simulation(s)
    sim.run()
    metrics = sim.metrics.frame()
    groups = sim.groups.frame()
    negative = {name: b.points for name, b in s.behaviours.items() if b.points < 0 and b.channel == "camera"}
    for lo, hi in ((0, 4), (5, 9)):
        days = metrics[(metrics["day"] >= lo) & (metrics["day"] <= hi)]
        stood = sum(-points * (days[f"misattributed_{name}"] - days[f"caught_{name}"]).sum()
                    for name, points in negative.items())  # fmt: skip
        rows = groups[(groups["day"] == hi) & (groups["dimension"] == "region")]
        assert stood > 0
        assert rows["wrongful_points"].sum() == pytest.approx(stood, rel=1e-9)


def test_a_society_without_families_has_the_five_plain_dimensions() -> None:
    """No age_band without ages, no has_children without households; a run shorter than a row still gets one."""
    s = scenario("china_scs", agents=500, days=3)
    sim = Simulation(s)
    sim.run()
    groups = sim.groups.frame()
    assert groups["day"].unique().tolist() == [2]
    assert list(groups["dimension"].unique()) == ["region", "income_quintile", "outspoken", "cashless",
                                                  "privacy_minded"]  # fmt: skip


# ---------------------------------------------------------------------------------- rates and disparities


def _table() -> pd.DataFrame:
    """Two row days of one dimension, two groups; hand-made."""
    rows = []
    for day, denials in ((29, (4, 1)), (59, (6, 3))):
        for group, agents, alive, sanctioned, ever, d in (("0", 100, 80, 20, 30, denials[0]),
                                                          ("4", 50, 50, 5, 5, denials[1])):  # fmt: skip
            rows.append({"day": day, "dimension": "income_quintile", "group": group, "agents": agents,
                         "alive": alive, "score_mean": 900.0, "blacklisted": 0, "listed_wrongly": 0,
                         "sanctioned": sanctioned, "wrongly_sanctioned": 0, "ever_sanctioned": ever,
                         "ever_wrongly_sanctioned": 0, "emigrated": agents - alive, "denials": d,
                         "wrongful_points": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_disparity_is_the_gap_and_the_ratio_of_the_extreme_groups() -> None:
    assert disparity(np.array([0.1, 0.05, 0.2])) == pytest.approx((0.15, 4.0))
    assert disparity(np.array([0.0, 0.1])) == (0.1, math.inf)  # only the lowest is 0
    gap, ratio = disparity(np.array([0.0, 0.0]))
    assert gap == 0.0 and math.isnan(ratio)  # everybody at 0: undefined
    assert disparity(np.array([np.nan, 0.2, 0.1])) == pytest.approx((0.1, 2.0))  # an empty group is left out


def test_rates_are_over_the_alive_or_over_all_agents_and_flows_over_the_run() -> None:
    table = _table()
    last = last_rows(table)
    assert last["day"].unique().tolist() == [59]
    assert rates(last, "sanctioned").tolist() == [20 / 80, 5 / 50]  # a state: over the alive
    assert rates(last, "ever_sanctioned").tolist() == [30 / 100, 5 / 50]  # over every agent
    assert rates(last, "denials").tolist() == [(4 + 6) / 100, (1 + 3) / 50]  # summed over the rows
    assert Quantity.parse("disparity:sanctioned:income_quintile").of(table) == pytest.approx(2.5)
    assert Quantity.parse("gap:ever_sanctioned:income_quintile").of(table) == pytest.approx(0.2)
    assert Quantity.parse("rate:denials:income_quintile=4").of(table) == pytest.approx(0.08)
    line = who_bears_it(table, {"private_school_ban": 7})
    assert line == ("ever sanctioned: 30.0% of the poorest fifth against 10.0% of the richest; "
                    "7 children barred by private_school_ban")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("disparity:ever_sanctioned", "is not a groups quantity"),
        ("ratio:ever_sanctioned:region", "is not a groups quantity"),
        ("gap:alive:region", "not a groups.parquet column with a rate"),
        ("rate:sanctioned:region", "names one group"),
        ("gap:sanctioned:region=r1", "names one group"),
    ],
)
def test_a_malformed_quantity_says_how_to_write_one(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Quantity.parse(text)


def test_a_quantity_must_name_a_dimension_and_group_of_the_scenario() -> None:
    dims = dimensions(scenario("china_scs", agents=100, days=1))
    Quantity.parse("rate:sanctioned:region=r1").check(dims)
    with pytest.raises(ValueError, match="no dimension 'age_band'"):
        Quantity.parse("gap:sanctioned:age_band").check(dims)
    with pytest.raises(ValueError, match="no group 'r9' in region"):
        Quantity.parse("rate:sanctioned:region=r9").check(dims)


def test_a_breakdown_in_slices_is_the_breakdown_in_one_pass() -> None:
    """Rows counted over slices of whole chunks (as a GPU run copies them) equal one pass, floats bit for bit."""
    s = scenario("china_family", *PRESSURE, agents=3 * CHUNK + 123, days=10, seed=4)
    sim = Simulation(s)
    for _ in range(5):  # no row yet: the wrongful points since day 0 are still counted
        sim.step()
    pop, status, households = sim.world.population, sim.today.outcomes.status, sim.households
    whole = rows_of(s, 4, group_inputs(pop, status, households))
    parts = []
    for lo in range(0, s.run.agents, CHUNK):
        hi = min(s.run.agents, lo + CHUNK)
        arrays = {name: getattr(pop, name)[lo:hi] for name in GroupInputs._fields
                  if name not in ("status", "member_of", "children")}  # fmt: skip
        parts.append(GroupInputs(**arrays, status=status[lo:hi], member_of=households.member_of[lo:hi],
                                 children=households.children))  # fmt: skip
    sliced = rows_of_slices(s, 4, parts)
    pd.testing.assert_frame_equal(whole, sliced, check_exact=True)
    assert whole["wrongful_points"].sum() > 0


def test_a_gpu_world_is_copied_for_its_breakdown_a_slice_at_a_time() -> None:
    """Under the CUDA simulator: the device arrays, copied in slices of one chunk, give the host's rows."""
    s = scenario("china_family", *PRESSURE, agents=2 * CHUNK + 77, days=10, seed=4)
    host = Simulation(s)
    for _ in range(5):  # a state with listings, sanctions, refusals, wrongful points and emigrants
        host.step()
    device = Simulation(s, backend="gpu", start=host.saved_state())
    device.today.outcomes.status.copy_to_device(host.today.outcomes.status)  # the day's sanction flags
    expected = rows_of(s, 4, group_inputs(host.world.population, host.today.outcomes.status, host.households))
    for column in ("sanctioned", "wrongly_sanctioned", "emigrated", "denials"):
        assert expected[column].sum() > 0, column
    assert expected["wrongful_points"].sum() > 0
    slices = list(group_slices(device.world.population, device.today.outcomes.status, device.world.households,
                               size=CHUNK))  # fmt: skip
    assert len(slices) == 3 and all(isinstance(part.score, np.ndarray) for part in slices)
    pd.testing.assert_frame_equal(expected, rows_of_slices(s, 4, slices), check_exact=True)


def test_days_refused_weigh_each_row_by_the_days_it_stands_for() -> None:
    """Rows on days 29 and 31: the first stands for 30 days, the second for 2."""
    from trustsim.report.bearing import days_refused_by_age

    rows = []
    for day, sanctioned in ((29, 10), (31, 40)):
        rows.append({"day": day, "dimension": "age_band", "group": "18–29", "agents": 100, "alive": 100,
                     "sanctioned": sanctioned})  # fmt: skip
    table = days_refused_by_age(pd.DataFrame(rows))
    share = (0.1 * 30 + 0.4 * 2) / 32
    assert table.loc["18–29", "share under a sanction"] == pytest.approx(share)
    assert table.loc["18–29", "days a year"] == pytest.approx(365 * share)


def test_an_emigrant_stays_in_the_age_band_it_left_from() -> None:
    """Across day 365 with emigration: the age_band groups are the bands of the alive's ages today and of each
    emigrant's age on the day it left, computed here from the ages alone."""
    s = scenario("china_family", "adaptation.emigrate_min_decile=0", "adaptation.emigrate_rate=0.01",
                 "blacklist.blacklist_score=995", agents=1500, days=400, seed=5)  # fmt: skip
    sim = Simulation(s)
    age_at_leaving = np.full(s.run.agents, -1)
    while not sim.finished:
        before = sim.world.population.emigrated.copy()
        ages = sim.world.population.age.copy()
        sim.step()
        left = sim.world.population.emigrated & ~before
        age_at_leaving[left] = sim.world.population.age[left]
        assert np.array_equal(sim.world.population.age[left], ages[left] + (sim.world.day - 1 == 365))
    pop = sim.world.population
    assert (age_at_leaving >= 0).sum() > 50 and (age_at_leaving[pop.emigrated] >= 0).all()
    age = np.where(pop.emigrated, age_at_leaving, pop.age)
    minimums = [band.min_age for band in s.ages.age_bands]
    labels = np.array(dimensions(s)["age_band"])[np.searchsorted(minimums, age, side="right") - 1]
    last = sim.groups.frame().query("day == 399 and dimension == 'age_band'").set_index("group")
    counted = pd.Series(labels).value_counts()
    assert {g: int(last.loc[g, "agents"]) for g in last.index} == {g: int(counted.get(g, 0)) for g in last.index}
    emigrants = pd.Series(labels[pop.emigrated]).value_counts()
    assert {g: int(last.loc[g, "emigrated"]) for g in last.index} == {g: int(emigrants.get(g, 0)) for g in last.index}
