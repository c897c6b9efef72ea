"""A plain-numpy reference of one simulated day, written from docs/model.md §3–§10 and §14 alone.

This module is deliberately slow and literal: it follows docs/model.md's phases A→E and
the metrics of §10 in the order the text gives them, with the open points read as
docs/model-choices.md records. It imports nothing from ``trustsim.mechanisms``,
``trustsim.day`` or ``trustsim.metrics``: its only link to the engine is the random
generator ``U(seed, stream, t, k)`` (:func:`trustsim.rng.uniform_array`), so that
both draw the same numbers, and the scenario schema.

Every stream is drawn for every agent (or edge), even where the outcome is certain:
draws are stateless, so this changes nothing (model-choices.md, "Randomness").

Float sums that feed the state are added in a fixed order: an agent's own correctly
attributed points in behaviour order, plus the sum of the points of misattributions
that stand on it, added up in order of (actor id, behaviour); a friends' mean adds
the friends' scores in increasing id order, then divides by their number; with
households (§14) it adds ``w`` times the family's scores (summed in id order) and divides
by ``n_friends + w·n_family``.
``frailty`` is stored as a 16-bit code (6 bits of exponent, 10 of mantissa), decoded
here by its formula, and computed with in double precision (docs/model-choices.md).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from trustsim.population import gap_code, relaxation_rate, relaxation_steps, relaxed_code
from trustsim.rng import lane_uniform_array, uniform_array
from trustsim.scenario import CHANNELS, Scenario, SchedulePoint

State = dict[str, np.ndarray]


class Family(NamedTuple):
    """The households of a society (docs/model.md §14), as the reference reads them."""

    member_of: np.ndarray  # each agent's household
    start: np.ndarray  # household h holds agents start[h] … start[h + 1] − 1
    children: np.ndarray  # each household's children


# ---------------------------------------------------------------------------
# Helpers


def schedule_value(points: list[SchedulePoint], t: int) -> float:
    """Coverage of one schedule on day ``t`` (docs/model.md §8): 0 before the first point,
    linear between points, flat after the last; an empty schedule is 0 throughout."""
    if not points or t < points[0].day:
        return 0.0
    for a, b in itertools.pairwise(points):
        if a.day <= t < b.day:
            return a.coverage + (b.coverage - a.coverage) * (t - a.day) / (b.day - a.day)
    return points[-1].coverage


def relaxed_gap_code(code: int, gap: float | None, relax: float, t: int) -> int:
    """A deterrence or chill gap as stored (docs/model-choices.md): the 16-bit code of ``2**(-c/4096)``; a gap that
    changed today (``gap`` not None) goes to its nearest code, then every gap relaxes by the day's whole codes of
    ``-log2(1 - relax)·4096`` a day (``floor((t+1)·r) − floor(t·r)``)."""
    if gap is not None:
        code = int(gap_code(gap))
    return int(relaxed_code(code, relaxation_steps(relaxation_rate(relax), t)))


def coverage_today(scenario: Scenario, t: int) -> np.ndarray:
    """Coverage on day ``t`` as an array (channel, region), channels in docs/model.md §4 order."""
    out = np.zeros((len(CHANNELS), scenario.n_regions), dtype=np.float64)
    for c, name in enumerate(CHANNELS):
        channel = getattr(scenario.channels, name)
        for r, region in enumerate(scenario.regions):
            points = channel.region_schedules.get(region.name, channel.schedule)
            out[c, r] = schedule_value(points, t)
    return out


def friends_lists(
    n: int, src: np.ndarray, dst: np.ndarray, edge_active: np.ndarray, alive: np.ndarray
) -> list[list[int]]:
    """``friends(i)`` of docs/model.md §2 for every agent: ids of alive agents over active edges, ascending."""
    friends: list[list[int]] = [[] for _ in range(n)]
    for e in np.flatnonzero(edge_active):
        u, v = int(src[e]), int(dst[e])
        if alive[u] and alive[v]:
            friends[u].append(v)
            friends[v].append(u)
    for row in friends:
        row.sort()
    return friends


def family_lists(households: Family | None, n: int, alive: np.ndarray) -> list[list[int]]:
    """``family(i)`` of docs/model.md §14 for every agent: the other alive adults of its household, ascending."""
    if households is None:
        return [[] for _ in range(n)]
    out: list[list[int]] = []
    for i in range(n):
        h = households.member_of[i]
        lo, hi = int(households.start[h]), int(households.start[h + 1])
        out.append([j for j in range(lo, hi) if j != i and alive[j]])
    return out


def age_bands(scenario: Scenario, age: np.ndarray) -> np.ndarray:
    """Each agent's age band (docs/model.md §14): the last band whose min_age its age has reached."""
    if scenario.ages is None:
        return np.zeros(age.shape[0], dtype=np.int64)
    minimums = np.array([band.min_age for band in scenario.ages.age_bands])
    return np.maximum(np.searchsorted(minimums, age, side="right") - 1, 0)


def decoded_frailty(codes: np.ndarray) -> np.ndarray:
    """Frailties from their 16-bit codes: ``2**(e - 48) · (1 + m/1024)``, ``e`` the top 6 bits, ``m`` the low 10."""
    codes = codes.astype(np.int64)
    return np.ldexp(1.0 + (codes & 1023) / 1024.0, (codes >> 10) - 48)


def decoded_gap(codes: np.ndarray) -> np.ndarray:
    """Deterrence and chill gaps from their 16-bit codes: ``2**(-c/4096)``, and 0 for the code 65535."""
    codes = np.asarray(codes).astype(np.int64)
    return np.where(codes == 65535, 0.0, np.exp2(-codes / 4096.0))


def clamp(x: float, lo: float, hi: float) -> float:
    """``x`` clamped into ``[lo, hi]``."""
    return min(max(x, lo), hi)


# ---------------------------------------------------------------------------
# The day


def reference_day(
    scenario: Scenario,
    state: State,
    edge_active: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    t: int,
    records_before: int = 0,
    households: Family | None = None,
) -> tuple[State, np.ndarray, dict[str, float]]:
    """Simulate day ``t`` from a start-of-day state, literally as docs/model.md describes.

    ``state`` holds the population arrays (names of ``Population.arrays()``, every packed
    flag as a bool array of its own name; 2-D arrays are (N, B) in scenario behaviour
    order) and ``edge_active`` the edge mask over the edges ``src[e] < dst[e]``; both are
    copied, never changed. ``records_before`` is the
    number of observed instances on days before ``t`` (for ``stored_record_bytes``);
    ``households`` the society's households (§14) when the scenario has them.

    Returns the end-of-day state, the end-of-day edge mask and the metrics row of day
    ``t`` (column name → value).
    """
    s = {name: np.array(value, copy=True) for name, value in state.items()}
    active = np.array(edge_active, dtype=bool, copy=True)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)

    seed = scenario.run.seed
    n = s["score"].shape[0]
    ids = np.arange(n, dtype=np.int64)
    edge_ids = np.arange(src.shape[0], dtype=np.int64)
    behaviours = list(scenario.behaviours.items())
    n_b = len(behaviours)
    n_regions = scenario.n_regions

    def draw(stream: str, ks: np.ndarray = ids) -> np.ndarray:
        return uniform_array(seed, stream, t, ks)

    region = s["region"].astype(np.int64)
    alive = ~s["emigrated"]  # alive at the start of the day
    alive_start_count = int(alive.sum())
    score_start = s["score"].copy()
    cov = coverage_today(scenario, t)
    obs_cfg = scenario.observation
    adapt = scenario.adaptation

    weight = scenario.households.family_weight if scenario.households is not None else 0.0
    family = family_lists(households, n, alive)  # alive at the start of the day

    # ---------------------------------------------------------------- A. behaviour (§3)
    if scenario.ages is not None and t > 0 and t % 365 == 0:  # a year older (§14)
        s["age"][alive] += 1
    band = age_bands(scenario, s["age"])
    committed = np.zeros((n, n_b), dtype=bool)
    dissent_unchilled = 0.0
    dissent_p_unchilled: np.ndarray | None = None
    for b, (name, beh) in enumerate(behaviours):
        p = beh.base_rate * decoded_frailty(s["frailty"][b])
        if beh.age_multiplier is not None:
            p = p * np.array(beh.age_multiplier)[band]
        if beh.points < 0:
            p = p * (1.0 - decoded_gap(s["deterrence_gap"][b]))  # stored as the code of 1 − d
            p = np.where(s["advised"], p * adapt.adviser_effect, p)
        if beh.outspoken_multiplier is not None:
            p = np.where(s["outspoken"], p * beh.outspoken_multiplier, p)
        if name == "dissent":
            dissent_p_unchilled = np.minimum(p, 1.0)
            p = p * (1.0 - decoded_gap(s["chill_gap"]))  # stored as the code of 1 − chill
        p = np.minimum(p, 1.0)
        # behaviour b: lane b mod 4 of the block of slot b div 4 of stream beh (docs/model.md §9)
        committed[:, b] = alive & (lane_uniform_array(seed, "beh", t, ids, b // 4, b % 4) < p)
    if dissent_p_unchilled is not None:
        dissent_unchilled = float(np.sum(dissent_p_unchilled[alive]))

    # ---------------------------------------------------------------- B. observation (§4)
    observed = np.zeros((n, n_b), dtype=bool)
    correct = np.zeros((n, n_b), dtype=bool)  # attributed to the true actor
    misattributed = np.zeros((n, n_b), dtype=bool)  # by actor, before review
    target = np.full((n, n_b), -1, dtype=np.int64)  # the misattributed agent j
    members = [np.flatnonzero(alive & (region == r)) for r in range(n_regions)]  # sorted by id
    rank = np.full(n, -1, dtype=np.int64)
    for r in range(n_regions):
        rank[members[r]] = np.arange(members[r].shape[0])
    for b, (name, beh) in enumerate(behaviours):
        c = CHANNELS.index(beh.channel)
        seen = committed[:, b] & (draw(f"obs:{name}") < cov[c, region])
        if beh.channel == "payment":
            seen &= s["cashless"] & ~s["off_grid"]
        elif beh.channel == "online":
            seen &= ~s["off_grid"]
        observed[:, b] = seen
        if beh.channel != "camera":
            correct[:, b] = seen
            continue
        u = draw(f"fr:{name}")
        uj = draw(f"frj:{name}")
        fnm, fm = obs_cfg.false_non_match, obs_cfg.false_match
        correct[:, b] = seen & (u >= fnm + fm)
        for i in np.flatnonzero(seen & (u >= fnm) & (u < fnm + fm)):
            m = members[region[i]].shape[0]
            if m == 1:
                continue  # lost
            k = math.floor(uj[i] * (m - 1))
            j = members[region[i]][k if k < rank[i] else k + 1]
            misattributed[i, b] = True
            target[i, b] = j

    # Review of camera candidates, per region of the actor.
    camera_b = [b for b, (_, beh) in enumerate(behaviours) if beh.channel == "camera"]
    candidates = np.zeros(n_regions, dtype=np.int64)
    for b in camera_b:
        cand = correct[:, b] | misattributed[:, b]
        candidates += np.bincount(region[cand], minlength=n_regions)
    alive_per_region = np.array([members[r].shape[0] for r in range(n_regions)], dtype=np.float64)
    capacity = obs_cfg.review_per_capita * alive_per_region
    review_backlog = float(sum(max(0.0, float(candidates[r]) - capacity[r]) for r in range(n_regions)))
    review_p = np.array([min(1.0, capacity[r] / candidates[r]) if candidates[r] > 0 else 1.0 for r in range(n_regions)])
    caught = np.zeros((n, n_b), dtype=bool)
    for b in camera_b:
        name = behaviours[b][0]
        reviewed = draw(f"rev:{name}") < review_p[region]
        caught[:, b] = misattributed[:, b] & reviewed & (draw(f"cat:{name}") < obs_cfg.review_catch)
    stands = misattributed & ~caught

    # ---------------------------------------------------------------- C. score (§5)
    sc = scenario.score
    delta = np.zeros(n, dtype=np.float64)
    delta_w = np.zeros(n, dtype=np.float64)
    received = np.zeros((n, n_b), dtype=bool)  # points of b applied to the agent today
    for b, (_, beh) in enumerate(behaviours):
        delta[correct[:, b]] += beh.points
        received[:, b] |= correct[:, b]
    landed = np.zeros(n, dtype=np.float64)
    for i in range(n):  # misattributions that stand, by (actor id, behaviour)
        for b, (_, beh) in enumerate(behaviours):
            if stands[i, b]:
                j = target[i, b]
                landed[j] += beh.points
                if beh.points < 0:
                    delta_w[j] += beh.points
                received[j, b] = True
    delta += landed
    rho = 0.0 if sc.recovery_half_life_days is None else 1.0 - 2.0 ** (-1.0 / sc.recovery_half_life_days)
    kappa = sc.contagion
    friends = friends_lists(n, src, dst, active, alive)
    for i in np.flatnonzero(alive):
        total = 0.0
        for f in friends[i]:
            total += float(score_start[f])
        kin = 0.0
        for j in family[i]:
            kin += float(score_start[j])
        denominator = len(friends[i]) + weight * len(family[i])
        mean = (total + weight * kin) / denominator if denominator > 0 else float(score_start[i])
        x = float(score_start[i])
        goal = sc.off_grid_score if s["off_grid"][i] else sc.base_score
        s["score"][i] = clamp(x + delta[i] + rho * (goal - x) + kappa * (mean - x), sc.score_min, sc.score_max)
        s["wrongful"][i] = max(0.0, (1.0 - rho) * float(s["wrongful"][i]) - delta_w[i])
        s["wrongful_since_row"][i] = float(s["wrongful_since_row"][i]) - delta_w[i]  # for groups.parquet (§15)

    # ---------------------------------------------------------------- D. blacklist (§6)
    bl = scenario.blacklist
    entered = np.zeros(n, dtype=bool)
    entries_court = 0
    entries_score = 0
    exits = 0
    # 1. court
    for b, (name, beh) in enumerate(behaviours):
        if beh.escalation is None:
            continue
        judged = correct[:, b] & (draw(f"court:{name}") < beh.escalation)
        for i in np.flatnonzero(judged):
            s["score"][i] = clamp(float(s["score"][i]) - bl.court_points, sc.score_min, sc.score_max)
            if not s["blacklisted"][i]:
                entries_court += 1
                entered[i] = True
                s["listed_day"][i] = t
            s["blacklisted"][i] = True
            s["court_listed"][i] = True
            s["listed_wrongly"][i] = False
    # 2. score listing
    score64 = s["score"].astype(np.float64)  # the stored single-precision scores, compared as the rules do: in double
    for i in np.flatnonzero(alive & ~s["blacklisted"] & (score64 < bl.blacklist_score)):
        entries_score += 1
        entered[i] = True
        s["blacklisted"][i] = True
        s["listed_day"][i] = t
        s["listed_wrongly"][i] = float(s["score"][i]) + float(s["wrongful"][i]) >= bl.blacklist_score
    # 3. exit counter
    above = s["score"].astype(np.float64) >= bl.blacklist_exit_score
    s["days_above_exit"][alive & above] += 1
    s["days_above_exit"][alive & ~above] = 0
    # 4. exit
    u_exit = draw("exit")
    for i in np.flatnonzero(alive & s["blacklisted"] & (s["listed_day"] < t)):
        if s["court_listed"][i]:
            leaves = u_exit[i] < bl.court_exit_rate
        else:
            leaves = s["days_above_exit"][i] >= bl.blacklist_exit_days
        if leaves:
            exits += 1
            s["blacklisted"][i] = False
            s["court_listed"][i] = False
            s["listed_wrongly"][i] = False
            s["listed_day"][i] = -1
    # 5. tiers
    tier_of = np.full(n, len(scenario.tiers) - 1, dtype=np.int64)
    for k in range(len(scenario.tiers) - 2, -1, -1):  # highest tier whose bound is met wins
        tier_of[s["score"].astype(np.float64) >= scenario.tiers[k].min_score] = k
    # 6. sanctions, 7. wrongful sanctions
    sanction_active: dict[str, np.ndarray] = {}
    denials: dict[str, int] = {}
    wrongful_of: dict[str, np.ndarray] = {}
    any_active = np.zeros(n, dtype=bool)
    any_wrongful = np.zeros(n, dtype=bool)
    for name, sanction in scenario.sanctions.items():
        by_score = np.zeros(n, dtype=bool)
        wrong_score = np.zeros(n, dtype=bool)
        if sanction.applies_below is not None:
            by_score = s["score"].astype(np.float64) < sanction.applies_below
            wrong_score = sanction.applies_below <= s["score"].astype(np.float64) + s["wrongful"]
        by_list = s["blacklisted"] & sanction.applies_to_blacklisted
        act = alive & (by_score | by_list)
        wrongful = act & (~by_score | wrong_score) & (~by_list | s["listed_wrongly"])
        sanction_active[name] = act
        denied = act & (draw(f"att:{name}") < sanction.attempt_rate)
        denials[name] = int(np.sum(denied))
        s["denials_since_row"] += denied  # for groups.parquet (§15)
        wrongful_of[name] = wrongful
        any_active |= act
        any_wrongful |= wrongful
    s["ever_sanctioned"] |= any_active
    s["ever_wrongly_sanctioned"] |= any_wrongful

    # ---------------------------------------------------------------- E. adaptation (§7)
    # 1. deterrence
    for b, (_, beh) in enumerate(behaviours):
        if beh.points >= 0:
            continue
        codes = s["deterrence_gap"][b]  # the code of 1 − d
        for i in np.flatnonzero(alive):
            gap = None
            if received[i, b]:  # d ← max(d·(1 − step), floor)
                d = max((1.0 - float(decoded_gap(codes[i]))) * (1.0 - adapt.deterrence_step),
                        adapt.deterrence_floor)  # fmt: skip
                gap = 1.0 - d
            codes[i] = relaxed_gap_code(int(codes[i]), gap, adapt.deterrence_relax, t)  # d += relax·(1 − d)
    # 2. chilling
    dissent_b = [b for b, (name, _) in enumerate(behaviours) if name == "dissent"]
    signal = entered.copy()
    for b in dissent_b:
        signal |= received[:, b]
    for i in np.flatnonzero(alive):
        hits = sum(1 for j in friends[i] if signal[j]) + weight * sum(1 for j in family[i] if signal[j])
        denominator = len(friends[i]) + weight * len(family[i])
        f = hits / denominator if denominator > 0 else 0.0
        ch = (1.0 - float(decoded_gap(s["chill_gap"][i]))) * (1.0 - adapt.chill_step * f)
        gap = 1.0 - ch if f > 0 else None  # chill += relax·(1 − chill) below
        s["chill_gap"][i] = relaxed_gap_code(int(s["chill_gap"][i]), gap, adapt.chill_relax, t)
    # 3. unfriending (edges join alive agents only: emigrants' edges are cut)
    listed = s["blacklisted"]
    u_unf = draw("unf", edge_ids)
    for e in np.flatnonzero(active):
        if listed[src[e]] != listed[dst[e]] and u_unf[e] < adapt.unfriend_rate:
            active[e] = False
    # 4. opting out
    camera_cov = cov[CHANNELS.index("camera"), region]
    opt = alive & s["privacy_minded"] & ~s["off_grid"] & (camera_cov >= adapt.opt_out_coverage)
    s["off_grid"] |= opt & (draw("opt") < adapt.opt_out_rate)
    # 5. advisers
    adv = alive & ~s["advised"] & (s["score"].astype(np.float64) < adapt.adviser_below)
    adv &= s["income_decile"] >= adapt.adviser_min_decile
    s["advised"] |= adv & (draw("adv") < adapt.adviser_rate)
    # 6. emigration
    leaving = alive & (s["income_decile"] >= adapt.emigrate_min_decile) & any_active
    leaving &= draw("emi") < adapt.emigrate_rate
    if households is not None and scenario.households is not None and scenario.households.emigrate_with_household:
        gone = np.zeros(households.children.shape[0], dtype=bool)
        gone[households.member_of[leaving]] = True
        leaving = alive & gone[households.member_of]  # the household's other adults leave with it (§14)
    s["emigrated"] |= leaving
    active &= ~(leaving[src] | leaving[dst])

    # ---------------------------------------------------------------- metrics (§10)
    now = ~s["emigrated"]  # alive at the end of the day
    n_now = int(now.sum())
    scores = s["score"][now].astype(np.float64)  # stored in single precision; statistics in double
    row: dict[str, float] = {"day": t, "alive": n_now}
    if n_now:
        row["score_mean"] = float(np.mean(scores))
        for q in (10, 50, 90):
            row[f"score_p{q}"] = float(np.percentile(scores, q))
    else:
        row |= {"score_mean": math.nan, "score_p10": math.nan, "score_p50": math.nan, "score_p90": math.nan}
    for k, tier in enumerate(scenario.tiers):
        row[f"tier_{tier.name}"] = float(np.sum(now & (tier_of == k))) / n_now if n_now else math.nan
    row["blacklisted"] = int(np.sum(now & s["blacklisted"]))
    row["blacklist_entries_score"] = entries_score
    row["blacklist_entries_court"] = entries_court
    row["blacklist_exits"] = exits
    penalised = correct.sum(axis=0) + stands.sum(axis=0)
    for b, (name, _) in enumerate(behaviours):
        row[f"committed_{name}"] = int(committed[:, b].sum())
        row[f"observed_{name}"] = int(observed[:, b].sum())
        row[f"misattributed_{name}"] = int(misattributed[:, b].sum())
        row[f"caught_{name}"] = int(caught[:, b].sum())
        row[f"penalised_{name}"] = int(penalised[b])
    for name in scenario.sanctions:
        row[f"active_{name}"] = int(np.sum(now & sanction_active[name]))
        row[f"denials_{name}"] = denials[name]
        if scenario.sanctions[name].affects_children:  # §14
            barred = wrongly = 0
            for h in range(households.children.shape[0] if households is not None else 0):
                adults = range(int(households.start[h]), int(households.start[h + 1]))
                having = [j for j in adults if now[j] and sanction_active[name][j]]
                if having:
                    barred += int(households.children[h])
                    if all(wrongful_of[name][j] for j in having):
                        wrongly += int(households.children[h])
            row[f"children_affected_{name}"] = barred
            row[f"children_wrongly_affected_{name}"] = wrongly
    row["wrongly_sanctioned"] = int(np.sum(now & any_wrongful))
    row["ever_wrongly_sanctioned"] = int(np.sum(now & s["ever_wrongly_sanctioned"]))
    row["ever_sanctioned"] = int(np.sum(now & s["ever_sanctioned"]))
    names = [name for name, _ in behaviours]
    row["dissent_committed"] = int(committed[:, names.index("dissent")].sum()) if "dissent" in names else 0
    row["dissent_unchilled"] = dissent_unchilled
    if "imported_purchase" in names:
        imports = int(committed[:, names.index("imported_purchase")].sum())
        row["import_share"] = imports / (alive_start_count * scenario.accounting.purchases_per_day)
    else:
        row["import_share"] = math.nan
    degree = np.bincount(src[active], minlength=n) + np.bincount(dst[active], minlength=n)
    row["active_edges"] = int(active.sum())
    row["isolated"] = int(np.sum(now & (degree == 0)))
    for label, group in (("blacklisted", now & s["blacklisted"]), ("others", now & ~s["blacklisted"])):
        row[f"mean_degree_{label}"] = float(np.mean(degree[group])) if group.any() else math.nan
    row["off_grid"] = int(np.sum(now & s["off_grid"]))
    row["advised"] = int(np.sum(now & s["advised"]))
    row["emigrated"] = int(s["emigrated"].sum())
    row["review_backlog"] = review_backlog
    acc = scenario.accounting
    records = records_before + int(observed.sum())
    row["stored_record_bytes"] = float(records * acc.bytes_per_record)
    cameras = acc.cameras_per_capita * n
    row["stored_bytes"] = row["stored_record_bytes"] + cameras * acc.camera_bytes_per_day * min(
        t + 1, acc.footage_retention_days
    )
    if (t + 1) % scenario.run.breakdown_every == 0 or t == scenario.run.days - 1:
        # A groups.parquet row is written today (§15): the counters since the last row start again.
        s["denials_since_row"][:] = 0
        s["wrongful_since_row"][:] = 0
    return s, active, row
