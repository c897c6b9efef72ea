"""Households, dependants and ages (docs/model.md §14), with known answers.

Shares are checked with chi-square tests on fixed seeds (deterministic, so never
flaky); the family's part in contagion and chilling, and the children a sanction bars,
on hand-built societies whose answers are worked out by hand in the test; leaving
together and ages moving with the day on engine runs, day by day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import trustsim
from conftest import scenario
from trustsim.day import TOUCHED
from trustsim.engine import Simulation, host_parts
from trustsim.households import YEAR, Households, draw_ages, form_households
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.mechanisms.rollout import coverage_table
from trustsim.mechanisms.scoring import ScoringPhase
from trustsim.metrics import StateCounting, reduce_on_host
from trustsim.network import from_edge_arrays
from trustsim.population import (
    LISTED_WRONGLY,
    frailty_values,
    gap_code,
    gap_of,
    initialise,
    region_quotas,
    relaxation_rate,
    relaxation_steps,
    relaxed_code,
    with_flag,
)
from trustsim.rng import uniform_array
from trustsim.scenario import Scenario, branch_problems, load_scenario
from trustsim.world import World

P_FLOOR = 1e-3  # fixed seeds: a share test below this would mean the rule is wrong, not bad luck


# ---------------------------------------------------------------------------------- forming households


def test_household_sizes_and_children_match_their_shares() -> None:
    """Adults and children per household follow china_family's shares (chi-square, fixed seeds)."""
    for seed in (1, 2):
        s = scenario("china_family", agents=300_000, days=1, seed=seed)
        households = form_households(s)
        sizes = np.diff(households.start)[:-1]  # the last household may be cut short
        adults = np.bincount(sizes - 1, minlength=4)
        assert adults.shape[0] == 4
        _, p = stats.chisquare(adults, np.array(s.households.adults) * adults.sum())
        assert p > P_FLOOR, (seed, adults)
        children = np.bincount(households.children, minlength=4)
        assert children.shape[0] == 4
        _, p = stats.chisquare(children, np.array(s.households.children) * children.sum())
        assert p > P_FLOOR, (seed, children)
        # 2.63 persons a household (docs/model.md §12), to sampling error.
        assert (sizes.sum() + households.children.sum()) / households.n_households == pytest.approx(2.63, abs=0.01)


def test_households_are_contiguous_and_share_region_and_income() -> None:
    """Consecutive ids, the last household cut at N − 1, one region and one income per household."""
    s = scenario("china_family", agents=50_003, days=1, seed=4)
    households = form_households(s)
    start, member_of = households.start, households.member_of
    assert start[0] == 0 and start[-1] == s.run.agents
    assert np.all(np.diff(start) >= 1) and np.all(np.diff(start)[:-1] <= 4)
    assert np.array_equal(member_of, np.repeat(np.arange(households.n_households), np.diff(start)))
    population = initialise(s, households)
    for array in (population.region, population.income_decile):
        first = array[start[:-1]]
        assert np.array_equal(array, first[member_of])
    deciles = np.bincount(population.income_decile[start[:-1]], minlength=10)
    _, p = stats.chisquare(deciles)  # household incomes uniform over the deciles
    assert p > P_FLOOR
    counts = np.bincount(population.region, minlength=s.n_regions)
    quotas = region_quotas(s.run.agents, [r.share for r in s.regions])
    assert np.all(np.abs(counts - quotas) < 4)  # within one household of its quota


def test_without_households_agents_draw_their_own_income() -> None:
    """Households change who shares an income, not the §1 draws of a society without them."""
    s = scenario("china_scs", agents=2000, days=1, seed=4)
    population = initialise(s)
    assert population.age.shape == (0,)  # no ages: none held
    assert len(np.unique(population.income_decile[:8])) > 1  # neighbours differ


# ---------------------------------------------------------------------------------- ages


def test_age_bands_hold_their_shares_and_ages_are_uniform_within() -> None:
    """Bands by their shares; within the 18–29 band, each of its 12 years equally often."""
    s = scenario("china_family", agents=200_000, days=1, seed=5)
    ages = draw_ages(s, np.int16)
    bands = s.ages.age_bands
    minimums = [b.min_age for b in bands]
    assert ages.min() >= 18 and ages.max() <= s.ages.max_age
    band = np.searchsorted(minimums, ages, side="right") - 1
    counts = np.bincount(band, minlength=len(bands))
    _, p = stats.chisquare(counts, np.array([b.share for b in bands]) * ages.shape[0])
    assert p > P_FLOOR, counts
    young = np.bincount(ages[band == 0] - 18, minlength=12)
    assert young.shape[0] == 12
    _, p = stats.chisquare(young)
    assert p > P_FLOOR, young
    top = ages[band == len(bands) - 1]
    assert top.max() == s.ages.max_age  # the last band runs to max_age


def test_ages_advance_on_day_365_and_emigrants_keep_theirs() -> None:
    """Everybody in the country is a year older on day 365, not before; an emigrant keeps its age."""
    s = scenario("china_family", "adaptation.emigrate_min_decile=0", "adaptation.emigrate_rate=0.02",
                 "blacklist.blacklist_score=995", agents=400, days=YEAR + 2, seed=6)  # fmt: skip
    sim = Simulation(s)
    born = sim.world.population.age.copy()
    left_on = np.full(400, -1)
    while sim.world.day < YEAR:
        before = sim.world.population.emigrated.copy()
        sim.step()
        left_on[sim.world.population.emigrated & ~before] = sim.world.day - 1
        assert np.array_equal(sim.world.population.age, born)  # days 0 … 364: no birthday yet
    gone = sim.world.population.emigrated.copy()
    assert gone.any() and not gone.all()
    sim.step()  # day 365
    age = sim.world.population.age
    assert np.array_equal(age[~gone], born[~gone] + 1)
    assert np.array_equal(age[gone], born[gone])
    sim.step()  # day 366: no second birthday
    assert np.array_equal(sim.world.population.age[~gone], born[~gone] + 1)


def test_the_age_multiplier_changes_the_committed_rate_by_its_factor() -> None:
    """Day 0's jaywalks per band: a Poisson-binomial count around Σ base rate × frailty × the band's factor."""
    bands = "ages={max_age = 70, age_bands = [{min_age = 18, share = 0.5}, {min_age = 40, share = 0.5}]}"
    for factors in ([2.0, 0.5], [1.0, 1.0]):
        s = scenario("baseline", bands, f"behaviours.jaywalk.age_multiplier={factors}", agents=200_000, days=1)
        sim = Simulation(s)
        population = sim.world.population
        b = list(s.behaviours).index("jaywalk")
        p_plain = s.behaviours["jaywalk"].base_rate * frailty_values(population.frailty[b])
        band = (population.age >= 40).astype(int)
        sim.step()
        committed = (sim.today.outcomes.committed >> b) & 1
        for k in (0, 1):
            p = np.minimum(p_plain[band == k] * factors[k], 1.0)
            expected, variance = p.sum(), (p * (1 - p)).sum()
            got = int(committed[band == k].sum())
            assert abs(got - expected) < 4.5 * np.sqrt(variance), (factors, k, got, expected)
            if factors[k] != 1.0:  # and far from what it would be without the factor
                assert abs(got - p.sum() / factors[k]) > 10 * np.sqrt(variance)


# ---------------------------------------------------------------------------------- hand-built societies

# Households {0, 1, 2}, {3, 4}, {5, 6}, {7}; agent 2 has emigrated. Edges 0–3, 3–5, 1–4,
# 3–7 are friendships; 0–1 joins two adults of one household: family only.
HOUSEHOLDS = Households(
    member_of=np.array([0, 0, 0, 1, 1, 2, 2, 3], dtype=np.int32),
    start=np.array([0, 3, 5, 7, 8], dtype=np.int64),
    children=np.array([2, 1, 0, 3], dtype=np.int16),
)
EDGES = [(0, 3), (0, 1), (3, 5), (1, 4), (3, 7)]
SCORES = [500.0, 600.0, 999.0, 700.0, 800.0, 900.0, 650.0, 750.0]


def hand_built(s: Scenario, households: Households, edges: list[tuple[int, int]]) -> tuple[World, object]:
    """A world of ``s``'s size with the given households and friendships, and its CPU day."""
    population = initialise(s, households)
    u, v = (np.array(side, dtype=np.int64) for side in zip(*edges, strict=True))
    network = from_edge_arrays(s.run.agents, u, v)
    world = World.create(s, population, network, coverage_table(s, s.run.days), households)
    parts = host_parts(world, None)
    parts.today.t = 0
    return world, parts.today


def small(weight: float) -> Scenario:
    """An 8-agent society with no channel (no points), contagion 0.5 and a family weight."""
    return scenario("baseline", "network={generator = 'small_world', k = 2, p = 0.0}", "score.contagion=0.5",
                    f"households={{adults = [1.0], children = [1.0], family_weight = {weight}, "
                    "emigrate_with_household = true}", agents=8, days=1)  # fmt: skip


@pytest.mark.parametrize("w", [1.0, 0.5, 0.0])
def test_contagion_with_family_matches_a_hand_computed_mean(w: float) -> None:
    """m(i) = (Σ friends + w·Σ family) / (n_friends + w·n_family); own score when that is 0/0."""
    s = small(w)
    world, day = hand_built(s, HOUSEHOLDS, EDGES)
    world.population.score[:] = SCORES
    world.population.emigrated[2] = True
    assert world.degree.tolist() == [1, 1, 0, 3, 1, 1, 0, 1]  # 0–1 is family, not a friendship
    sc = s.score
    rho = 1.0 - 2.0 ** (-1.0 / sc.recovery_half_life_days)
    means = {
        0: (700 + w * 600) / (1 + w),  # friend 3, family 1 (also an edge; 2 has left)
        1: (800 + w * 500) / (1 + w),  # friend 4, family 0
        3: (500 + 900 + 750 + w * 800) / (3 + w),  # friends 0, 5, 7; family 4
        4: (600 + w * 700) / (1 + w),  # friend 1, family 3
        5: (700 + w * 650) / (1 + w),  # friend 3, family 6
        6: 900.0 if w > 0 else 650.0,  # family 5 only; with w = 0 nobody: its own score
        7: 700.0,  # friend 3, no family
    }
    ScoringPhase(s).step(world, day)
    for i, m in means.items():
        x = SCORES[i]
        assert world.population.score[i] == pytest.approx(x + rho * (sc.base_score - x) + sc.contagion * (m - x),
                                                          rel=1e-12), i  # fmt: skip
    assert world.population.score[2] == 999.0  # the emigrant is left alone


@pytest.mark.parametrize("w", [1.0, 0.5, 0.0])
def test_chilling_with_family_matches_a_hand_computed_share(w: float) -> None:
    """f(i) = (touched friends + w·touched family) / (n_friends + w·n_family), 0 when that is 0/0."""
    s = small(w)
    world, day = hand_built(s, HOUSEHOLDS, EDGES)
    world.population.emigrated[2] = True
    day.outcomes.status[[1, 5, 2]] = TOUCHED  # 1 and 5 got dissent points or were listed; 2 has left
    shares = {
        0: (0 + w * 1) / (1 + w),  # friend 3 untouched; family 1 touched
        1: 0.0,  # friend 4, family 0: untouched
        3: (1 + w * 0) / (3 + w),  # friends 0, 5, 7: 5 touched; family 4
        4: (1 + w * 0) / (1 + w),  # friend 1 touched; family 3
        5: 0.0,
        6: 1.0 if w > 0 else 0.0,  # family 5 touched, no friend
        7: 0.0,  # friend 3
    }
    a = s.adaptation
    AdaptationPhase(s).step(world, day)
    for i, f in shares.items():
        today = 1.0 - a.chill_step * f  # chill was 1
        chill = 1.0 - gap_of(world.population.chill_gap[i])  # kept as the code of 1 − chill: within 2**-12
        assert chill == pytest.approx(today + a.chill_relax * (1.0 - today), abs=2e-4 * (1.0 - today)), i
        relaxed = relaxed_code(gap_code(1.0 - today), relaxation_steps(relaxation_rate(a.chill_relax), day.t))
        assert world.population.chill_gap[i] == relaxed, i


def test_children_are_counted_exactly_and_wrongly_only_when_every_adult_is_wrong() -> None:
    """Children barred by china_family's private-school ban (listing) and rental ban (score < 600)."""
    s = scenario("china_family", "network={generator = 'small_world', k = 2, p = 0.0}", agents=12, days=1)
    households = Households(
        member_of=np.array([0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5, 5], dtype=np.int32),
        start=np.array([0, 2, 4, 5, 7, 9, 12], dtype=np.int64),
        children=np.array([2, 1, 3, 0, 2, 1], dtype=np.int16),
    )
    world, day = hand_built(s, households, [(0, 11)])
    pop = world.population
    pop.score[:] = 900.0
    pop.wrongful[:] = 0.0
    listed = {0: True, 2: True, 3: False, 4: False, 5: False, 7: True}  # id: listed wrongly
    for i, wrongly in listed.items():
        pop.blacklisted[i] = True
        pop.record[i] = with_flag(pop.record[i], LISTED_WRONGLY, wrongly)
    pop.emigrated[7] = True  # listed, but gone: household 4's children are not barred by it
    pop.score[4] = 550.0  # rental ban, rightly
    pop.score[8], pop.wrongful[8] = 580.0, 50.0  # rental ban, wrongly (580 + 50 ≥ 600)
    pop.score[9], pop.wrongful[9] = 590.0, 20.0  # wrongly …
    pop.score[10] = 500.0  # … but the other adult rightly: household 5's child is not wrongly barred
    children = reduce_on_host(world, day, StateCounting.from_scenario(s)).children
    barring = [name for name, sanction in s.sanctions.items() if sanction.affects_children]
    assert barring == ["private_school_ban", "rental_ban"]
    school, rental = children[:, 0].tolist(), children[:, 1].tolist()
    assert school == [2 + 1 + 3, 2]  # households 0 (wrongly: its only listed adult), 1 (one right), 2
    assert rental == [3 + 2 + 1, 2]  # households 2, 4 (wrongly), 5 (one right)


# ---------------------------------------------------------------------------------- leaving together


def _emigration_days(together: bool) -> tuple[Simulation, list[tuple[np.ndarray, np.ndarray]]]:
    """A run with much emigration; each day's (alive at its start, leaving that day)."""
    s = scenario("china_family", "adaptation.emigrate_min_decile=0", "adaptation.emigrate_rate=0.2",
                 "blacklist.blacklist_score=990", f"households.emigrate_with_household={str(together).lower()}",
                 agents=3000, days=12, seed=8)  # fmt: skip
    sim = Simulation(s)
    leavers = []
    for _ in range(s.run.days):
        before = sim.world.population.emigrated.copy()
        sim.step()
        leavers.append((~before, sim.world.population.emigrated & ~before))
        assert sim.metrics.row(sim.world.day - 1)["emigrated"] == sim.world.population.emigrated.sum()
    return sim, leavers


def test_a_household_leaves_together_and_its_edges_are_cut() -> None:
    """With emigrate_with_household, an emigrant's other adults leave the same day, with no edge left."""
    sim, leavers = _emigration_days(True)
    member_of = sim.households.member_of
    together = 0
    for alive, left in leavers:
        for h in np.unique(member_of[left]):
            members = np.flatnonzero((member_of == h) & alive)
            assert left[members].all(), f"household {h}: {members[~left[members]]} stayed"
            together += members.shape[0] > 1
    assert together > 10  # households of several adults left as one
    gone = sim.world.population.emigrated
    assert (sim.world.degree[gone] == 0).all()
    net = sim.world.network
    active = sim.world.edge_active
    assert not (gone[net.src[active]] | gone[net.dst[active]]).any()


def test_without_leaving_together_families_split() -> None:
    """Without it, emigration stays one adult's draw: some households are left with adults behind."""
    sim, _ = _emigration_days(False)
    member_of = sim.households.member_of
    gone = sim.world.population.emigrated
    split = [h for h in np.unique(member_of[gone]) if not gone[member_of == h].all()]
    assert len(split) > 10


# ---------------------------------------------------------------------------------- uk_credit


def test_uk_credit_refuses_the_young_most() -> None:
    """uk_credit (docs/model.md §12): missed payments most frequent among the youngest, who stay refused most."""
    s = load_scenario("uk_credit", agents=30_000, days=730, seed=3)
    factors = [b.age_multiplier for b in s.behaviours.values()]
    assert all(f == sorted(f, reverse=True) and f[0] > f[-1] for f in factors)
    sim = Simulation(s)
    sim.run()
    rows = sim.groups.frame().query("dimension == 'age_band'")
    assert rows["group"].unique().tolist() == ["18–34", "35–54", "55+"]
    last = rows[rows["day"] == rows["day"].max()].set_index("group")
    refused = last["sanctioned"] / last["alive"]
    ever = last["ever_sanctioned"] / last["agents"]
    assert refused["18–34"] > refused["35–54"] > refused["55+"] > 0
    assert ever["18–34"] > 1.5 * ever["55+"]


def test_agents_parquet_gains_household_age_and_children_where_they_exist(tmp_path: Path) -> None:
    """agents.parquet has household, children and age with households and ages; neither without."""
    family = trustsim.run("china_family", agents=800, days=3, out=tmp_path / "f")
    table = family.agents
    households = form_households(load_scenario("china_family", agents=800, days=3))
    assert np.array_equal(table["household"], households.member_of)
    assert np.array_equal(table["children"], households.children[households.member_of])
    assert table["age"].between(18, 90).all()
    plain = trustsim.run("china_scs", agents=800, days=3, out=tmp_path / "p").agents
    assert not {"household", "children", "age"} & set(plain.columns)
    assert not {"denials_since_row", "wrongful_since_row"} & set(table.columns)


# ---------------------------------------------------------------------------------- the rules, to the letter


def test_forming_follows_the_text_exactly() -> None:
    """Households, regions, incomes and ages computed here straight from docs/model.md §14, draw by draw."""
    s = scenario("china_family", agents=5003, days=1, seed=9)
    n, seed, spec = s.run.agents, s.run.seed, s.households
    starts, h, placed = [0], 0, 0
    while placed < n:  # n_h: the smallest a whose cumulative share exceeds U(init:hh_adults, 0, h)
        u = uniform_array(seed, "init:hh_adults", 0, np.array([h]))[0]
        cumulative = np.cumsum(spec.adults)
        size = next((a + 1 for a in range(len(cumulative)) if u < cumulative[a]), len(cumulative))
        placed = min(n, placed + size)
        starts.append(placed)
        h += 1
    households = form_households(s)
    assert households.start.tolist() == starts
    u = uniform_array(seed, "init:hh_children", 0, np.arange(h))
    cumulative = np.cumsum(spec.children)
    children = [next((c for c in range(len(cumulative)) if x < cumulative[c]), len(cumulative) - 1) for x in u]
    assert households.children.tolist() == children
    population = initialise(s, households)
    income = np.floor(10 * uniform_array(seed, "init:income", 0, np.arange(h))).astype(int)
    assert population.income_decile[households.start[:-1]].tolist() == income.tolist()
    quotas = np.cumsum(region_quotas(n, [r.share for r in s.regions]))
    order = np.argsort(uniform_array(seed, "init:hh_region_order", 0, np.arange(h)), kind="stable")
    before, region = 0, np.empty(h, dtype=int)
    for k in order:  # S agents placed before household k: the first region r with S < Q_0 + … + Q_r
        region[k] = int(np.argmax(before < quotas))
        before += starts[k + 1] - starts[k]
    assert population.region[households.start[:-1]].tolist() == region.tolist()
    bands = s.ages.age_bands
    ids = np.arange(n)
    u_band, u_age = uniform_array(seed, "init:age_band", 0, ids), uniform_array(seed, "init:age", 0, ids)
    shares = np.cumsum([b.share for b in bands])
    for i in range(0, n, 97):
        k = next((b for b in range(len(bands)) if u_band[i] < shares[b]), len(bands) - 1)
        top = bands[k + 1].min_age - 1 if k + 1 < len(bands) else s.ages.max_age
        assert population.age[i] == bands[k].min_age + int(u_age[i] * (top - bands[k].min_age + 1)), i


def test_a_branch_keeps_the_families_and_may_change_their_policy() -> None:
    """family_weight and emigrate_with_household are policy; sizes, children and ages are the society."""
    saved = load_scenario("china_family", agents=1000, days=10).resolved()
    ok = load_scenario("china_family", agents=1000, days=20, overrides=[
        "households.family_weight=0.2", "households.emigrate_with_household=false"])  # fmt: skip
    assert branch_problems(saved, ok, 10) == []
    sizes = load_scenario("china_family", agents=1000, days=20, overrides=["households.adults=[0.5, 0.5]"])
    first = next(p.worded() for p in branch_problems(saved, sizes, 10))
    assert first.startswith("households.adults.0: 0.5 differs")
    plain = load_scenario("china_scs", agents=1000, days=20)
    worded = sorted(p.worded() for p in branch_problems(saved, plain, 10) if "keeps the saved society" in p.worded())
    assert worded == [
        "ages: a branch keeps the saved society's ages (add or drop [ages] in a new run)",
        "households: a branch keeps the saved society's households (add or drop [households] in a new run)",
    ]
    assert len(branch_problems(saved, plain, 10)) == 2  # one line a section, not one per key
