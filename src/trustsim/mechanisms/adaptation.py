"""Phase E — adaptation (docs/model.md §7), on the state after phase D, items in order.

1. deterrence of each negative behaviour the agent got points for today, then relaxation;
2. chilling by the share of friends who got dissent points or entered the list today;
3. unfriending: an active edge with exactly one listed end is cut when ``U(unf, t, e) < rate``;
4. opting out (``U(opt, t, i)``); 5. hiring an adviser (``U(adv, t, i)``);
6. emigration (``U(emi, t, i)``): the emigrant's edges are cut.

Items 1, 2, 4, 5 and the emigration *decision* touch only the agent's own state: the
rule :func:`adapt` does them for one agent. :func:`unfriends` decides item 3 for one
edge. On the CPU, the few agents who got dissent points or entered the list today
(flagged ``TOUCHED`` by phase D) first tell their active friends (a scatter into the day's
landed-points buffer, free in phase E), before item 3 cuts any edge, as the order
requires; item 3 visits only listed agents' edges, their cuts decided by the threads and
made in one. Items 4-6 mark, 64 agents at a time, the few agents whose draws they need.
Deterrence and chill of emigrants are frozen: they take no further part.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.day import LEAVING, SANCTIONED, TOUCHED, Day, Outcomes, chunk_function, flagged, has, lowest_bit
from trustsim.households import Households, family_of
from trustsim.network import Links, cut_at, edge_index, friend_at, row_length, row_start
from trustsim.population import (
    ADVISED,
    OFF_GRID,
    PRIVACY_MINDED,
    Population,
    gap_code,
    gap_of,
    is_set,
    relaxation_rate,
    relaxation_steps,
    relaxed_code,
)
from trustsim.prefetch import prefetch
from trustsim.rng import stream_id, uniform
from trustsim.scalar import greater, lesser, pick, product
from trustsim.scenario import CAMERA, Scenario
from trustsim.world import World


class AdaptationParams(NamedTuple):
    """Phase E's parameters."""

    negative: np.ndarray  # bool per behaviour: points below 0, so deterred
    deterrence_step: float
    deterrence_floor: float
    deterrence_relax: float
    deterrence_rate: float  # codes of relaxation a day (population.relaxation_rate)
    chill_step: float
    chill_relax: float
    chill_rate: float
    unfriend_rate: float
    opt_out_coverage: float
    opt_out_rate: float
    adviser_below: float
    adviser_min_decile: int
    adviser_rate: float
    emigrate_min_decile: int
    emigrate_rate: float
    family_weight: float  # a family member's weight against a friend's in chilling (docs/model.md §14)
    emigrate_with_household: bool  # the household's other adults leave with an emigrant
    unfriend_stream: int  # unf
    opt_out_stream: int  # opt
    adviser_stream: int  # adv
    emigrate_stream: int  # emi

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> AdaptationParams:
        """The parameters of ``scenario``."""
        a, households = scenario.adaptation, scenario.households
        return cls(
            negative=np.array(scenario.negative, dtype=np.bool_),
            deterrence_step=float(a.deterrence_step),
            deterrence_floor=float(a.deterrence_floor),
            deterrence_relax=float(a.deterrence_relax),
            deterrence_rate=relaxation_rate(float(a.deterrence_relax)),
            chill_step=float(a.chill_step),
            chill_relax=float(a.chill_relax),
            chill_rate=relaxation_rate(float(a.chill_relax)),
            unfriend_rate=float(a.unfriend_rate),
            opt_out_coverage=float(a.opt_out_coverage),
            opt_out_rate=float(a.opt_out_rate),
            adviser_below=float(a.adviser_below),
            adviser_min_decile=int(a.adviser_min_decile),
            adviser_rate=float(a.adviser_rate),
            emigrate_min_decile=int(a.emigrate_min_decile),
            emigrate_rate=float(a.emigrate_rate),
            family_weight=float(households.family_weight) if households is not None else 0.0,
            emigrate_with_household=households is not None and households.emigrate_with_household,
            unfriend_stream=stream_id("unf"),
            opt_out_stream=stream_id("opt"),
            adviser_stream=stream_id("adv"),
            emigrate_stream=stream_id("emi"),
        )


# ---------------------------------------------------------------------------------- the rules


@nb.njit(inline="always", cache=True)
def family_touched(households: Households, i: int, status: np.ndarray, emigrated: np.ndarray) -> tuple[int, int]:
    """How many of agent ``i``'s family (its household's other alive adults) got dissent points or entered the
    list today, and how many family it has (docs/model.md §14); none without households."""
    lo, hi = family_of(households, i)
    touched = 0
    count = 0
    for j in range(lo, hi):
        if j != i and not emigrated[j]:
            touched += (status[j] & TOUCHED) != 0
            count += 1
    return touched, count


@nb.njit(inline="always", cache=True)
def friends_share(touched: int, degree: int) -> float:
    """``touched / degree``, the share of friends who chill an agent without family; 0 when none does (an agent
    without friends included). Written without a branch, so the loops calling it vectorise: ``touched ≠ 0``
    means ``degree ≥ touched ≥ 1``."""
    return np.float64(touched) / np.float64(greater(degree, 1))


@nb.njit(inline="always", cache=True)
def chilling_share(
    params: AdaptationParams, touched: int, degree: int, family: tuple[int, int]
) -> float:
    """``f(i)`` of item 2: the share of friends who chill the agent; with family (docs/model.md §14), the weighted
    share ``(touched friends + w·touched family) / (friends + w·family)``, 0 when the denominator is."""
    family_hit, family_count = family
    if family_count == 0:
        return friends_share(touched, degree)
    weight = params.family_weight
    denominator = degree + product(weight, np.float64(family_count))
    if denominator == 0.0:
        return 0.0
    return (touched + product(weight, np.float64(family_hit))) / denominator


@nb.njit(inline="always", cache=True)
def adapt(
    params: AdaptationParams, seed: int, t: int, i: int, received: np.unsignedinteger, share: float,
    camera_coverage: float, pop: Population, status: np.ndarray,
) -> None:  # fmt: skip
    """Items 1, 2, 4, 5 and the emigration decision of item 6 for alive agent ``i``.

    ``received``: the behaviours whose points reached the agent today (rightly or
    wrongly); ``share``: its :func:`chilling_share` today; ``camera_coverage``: its region's
    camera coverage today. An emigrant-to-be is flagged ``LEAVING`` in ``status``; it
    leaves after item 3.
    """
    steps = relaxation_steps(params.deterrence_rate, t)
    for b in range(params.negative.shape[0]):  # 1. deterrence, kept as the code of its gap to 1 (deterred_gap)
        if params.negative[b]:
            pop.deterrence_gap[b, i] = deterred_gap(params, pop.deterrence_gap[b, i], has(received, b), steps)
    steps = relaxation_steps(params.chill_rate, t)
    pop.chill_gap[i] = chilled_gap(params, pop.chill_gap[i], share, steps)  # 2. chilling, likewise
    decide(params, seed, t, i, camera_coverage, pop, status)


@nb.njit(inline="always", cache=True)
def decide(
    params: AdaptationParams, seed: int, t: int, i: int, camera_coverage: float, pop: Population, status: np.ndarray
) -> None:
    """Items 4, 5 and the emigration decision of item 6 for alive agent ``i`` (see :func:`adapt`): the ones that
    draw, for the few agents they apply to."""
    # 4. opting out
    if may_opt_out(params, is_set(pop.traits[i], PRIVACY_MINDED), is_set(pop.adapted[i], OFF_GRID), camera_coverage):
        if uniform(seed, params.opt_out_stream, t, i, 0) < params.opt_out_rate:
            pop.adapted[i] |= OFF_GRID
    # 5. advisers
    if may_hire_adviser(params, is_set(pop.adapted[i], ADVISED), pop.score[i], pop.income_decile[i]):
        if uniform(seed, params.adviser_stream, t, i, 0) < params.adviser_rate:
            pop.adapted[i] |= ADVISED
    # 6. emigration decision (applied after unfriending)
    if may_emigrate(params, status[i], pop.income_decile[i]):
        if uniform(seed, params.emigrate_stream, t, i, 0) < params.emigrate_rate:
            status[i] |= LEAVING


@nb.njit(inline="always", cache=True)
def may_opt_out(params: AdaptationParams, privacy_minded: bool, off_grid: bool, camera_coverage: float) -> bool:
    """Item 4's condition: a privacy-minded agent still on the grid, in a region watched by at least
    ``opt_out_coverage`` of cameras, draws whether it opts out today. (Written with ``&``, not ``and``, in these
    conditions: no branch, so the CPU driver's loops that mark the agents they hold for vectorise.)"""
    return privacy_minded & (not off_grid) & (camera_coverage >= params.opt_out_coverage)


@nb.njit(inline="always", cache=True)
def may_hire_adviser(params: AdaptationParams, advised: bool, score: np.float32, income_decile: int) -> bool:
    """Item 5's condition: an unadvised agent scoring below ``adviser_below`` (its single-precision score compared
    in double) with an income decile of at least ``adviser_min_decile`` draws whether it hires an adviser."""
    poor = np.float64(score) < params.adviser_below
    return (not advised) & poor & (income_decile >= params.adviser_min_decile)


@nb.njit(inline="always", cache=True)
def may_emigrate(params: AdaptationParams, status: np.uint8, income_decile: int) -> bool:
    """Item 6's condition: an agent sanctioned today with an income decile of at least ``emigrate_min_decile``
    draws whether it emigrates."""
    return ((status & SANCTIONED) != 0) & (income_decile >= params.emigrate_min_decile)


@nb.njit(inline="always", cache=True)
def leaves_with_household(params: AdaptationParams, households: Households, i: int, status: np.ndarray) -> bool:
    """Item 6, leaving together (docs/model.md §14): whether an adult of agent ``i``'s household emigrates today."""
    if not params.emigrate_with_household:
        return False
    lo, hi = family_of(households, i)
    for j in range(lo, hi):  # noqa: SIM110 (numba compiles no generator expression on the GPU)
        if status[j] & LEAVING:
            return True
    return False


@nb.njit(inline="always", cache=True)
def deterred_gap(params: AdaptationParams, code: np.uint16, received: bool, steps: int) -> np.uint16:
    """Tomorrow's code of ``1 − d`` of a negative behaviour from today's (docs/model.md §7.1).

    ``d ← max(d·(1 − step), floor)`` when the agent received points for it, then
    ``d ← d + relax·(1 − d)``, which is ``gap ← gap·(1 − relax)``. The gap is kept as a
    16-bit code of its logarithm (:func:`trustsim.population.gap_of`): relaxing is adding
    ``steps`` codes (:func:`trustsim.population.relaxation_steps`), exact and the same every
    day for everybody, and only a day with points rounds, to the nearest code
    (docs/model-choices.md).
    """
    if received:
        gap = 1.0 - greater(product(1.0 - gap_of(code), 1.0 - params.deterrence_step), params.deterrence_floor)
        code = gap_code(gap)
    return relaxed_code(code, steps)


@nb.njit(inline="always", cache=True)
def chilled_gap(params: AdaptationParams, code: np.uint16, share: float, steps: int) -> np.uint16:
    """Tomorrow's code of ``1 − chill`` from today's and the share ``f`` of friends who signalled (§7.2).

    ``chill ← chill·(1 − chill_step·f)``, then ``chill ← chill + chill_relax·(1 − chill)``,
    which is ``gap ← gap·(1 − chill_relax)``: kept as a code for the reason given in
    :func:`deterred_gap`; a day with no signal only relaxes.
    """
    if share > 0.0:
        chill = product(1.0 - gap_of(code), 1.0 - product(params.chill_step, share))
        code = gap_code(1.0 - chill)
    return relaxed_code(code, steps)


@nb.njit(inline="always", cache=True)
def unfriends(params: AdaptationParams, seed: int, t: int, edge: int) -> bool:
    """Item 3: whether the active edge ``edge``, with exactly one listed end, is cut today."""
    return uniform(seed, params.unfriend_stream, t, edge, 0) < params.unfriend_rate


# ---------------------------------------------------------------------------------- the CPU driver


class AdaptationPhase:
    """People adapt: deterrence, chill, unfriending, opting out, advisers, emigration."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = AdaptationParams.from_scenario(scenario)

    def step(self, world: World, day: Day) -> None:
        """Run items 1–6; take emigrants out of the region index."""
        pop, net, out = world.population, world.network, day.outcomes
        # The landed points' buffer is zero outside phases B-C: its 4 bytes an agent hold, as
        # int32, each agent's count of touched friends, which _adapt zeroes again once read.
        touched_friends = out.landed_points.view(np.int32)
        _count_touched_friends(flagged(out.status, TOUCHED), net.links, touched_friends)
        _adapt(world.seed, day.t, self.params, world.coverage[day.t, CAMERA], pop, out, touched_friends,
               world.degree, world.households)  # fmt: skip
        if self.params.unfriend_rate > 0.0:
            listed = flagged(pop.blacklisted.view(np.uint8), 1)
            _unfriend(world.seed, day.t, self.params, listed, pop.blacklisted, net.links, world.degree)
        leaving = flagged(out.status, LEAVING)
        if self.params.emigrate_with_household and leaving.shape[0]:
            _leave_together(self.params, leaving, world.households, pop.emigrated, out.status)
            leaving = flagged(out.status, LEAVING)
        _emigrate(leaving, net.links, world.degree, pop.emigrated)
        world.regions.remove(leaving, pop.region)


@nb.njit(cache=True)
def _count_touched_friends(touched: np.ndarray, links: Links, touched_friends: np.ndarray) -> None:
    """For item 2: how many active friends of each agent got dissent points or entered the list today (a
    scatter from the few ``touched`` agents). ``touched_friends`` is all zero on entry; :func:`_adapt` zeroes
    what it reads."""
    for j in touched:
        for q in range(row_length(links, j)):
            v, live = friend_at(links, j, q)
            touched_friends[v] += live


@nb.njit(cache=True)
def _leave_together(
    params: AdaptationParams, drawn: np.ndarray, households: Households, emigrated: np.ndarray, status: np.ndarray
) -> None:
    """Item 6, leaving together: after every emigration draw, the other alive adults of an emigrant's household."""
    for i in drawn:
        lo, hi = family_of(households, i)
        for j in range(lo, hi):
            if not emigrated[j] and leaves_with_household(params, households, j, status):
                status[j] |= LEAVING


@nb.njit(parallel=True, cache=True)
def _adapt(
    seed: int, t: int, params: AdaptationParams, camera_coverage: np.ndarray, pop: Population, out: Outcomes,
    touched_friends: np.ndarray, degree: np.ndarray, households: Households,
) -> None:  # fmt: skip
    # Nothing is summed here, so the spans may be smaller than a chunk: the threads share
    # the agents more evenly.
    n = pop.emigrated.shape[0]
    for s in nb.prange((n + _SPAN - 1) // _SPAN):
        lo, hi = s * _SPAN, min(n, (s + 1) * _SPAN)
        _adapt_span(np.uint64(lo), np.uint64(hi), seed, t, params, camera_coverage, pop, out,
                    touched_friends[lo:hi], degree, households)  # fmt: skip


_SPAN = 1024
"""Agents adapted by one call of the chunk function."""


@chunk_function
def _adapt_span(
    lo: np.uint64, hi: np.uint64, seed: int, t: int, params: AdaptationParams, camera_coverage: np.ndarray,
    pop: Population, out: Outcomes, touched_friends: np.ndarray, degree: np.ndarray, households: Households,
) -> None:  # fmt: skip
    # The rule adapt, item by item over the span, each item a loop of its own. Items 1 and
    # (without households) 2 take two loops: one relaxes every gap that only relaxes today
    # (no branch: an emigrant's, or one that is recomputed next, is written back
    # unchanged), which vectorises; the second recomputes the few that got points or a
    # signal. Only the agents items 4-6 apply to reach their draws. The same arithmetic in
    # the same order as adapt, so the same values.
    emigrated = pop.emigrated
    steps = relaxation_steps(params.deterrence_rate, t)
    n_behaviours = params.negative.shape[0]
    for b in range(n_behaviours):  # 1. deterrence
        if params.negative[b]:
            gaps = pop.deterrence_gap[b]
            for i in range(lo, hi):
                stays = emigrated[i] | has(out.attributed[i] | out.wrongly_received[i], b)
                gaps[i] = pick(stays, gaps[i], relaxed_code(gaps[i], steps))
    for i in range(lo, hi):  # one pass over the span for the few with points today
        received = out.attributed[i] | out.wrongly_received[i]
        if received != 0 and not emigrated[i]:
            for b in range(n_behaviours):
                if params.negative[b] and has(received, b):
                    pop.deterrence_gap[b, i] = deterred_gap(params, pop.deterrence_gap[b, i], True, steps)
    chill_gap = pop.chill_gap
    steps = relaxation_steps(params.chill_rate, t)
    if households.member_of.shape[0] != 0:  # 2. chilling
        for i in range(lo, hi):
            family = family_touched(households, i, out.status, emigrated)
            share = chilling_share(params, touched_friends[i - lo], degree[i], family)
            chill_gap[i] = pick(emigrated[i], chill_gap[i], chilled_gap(params, chill_gap[i], share, steps))
    else:  # a share above 0 is a touched friend
        for i in range(lo, hi):
            stays = emigrated[i] | (touched_friends[i - lo] != 0)
            chill_gap[i] = pick(stays, chill_gap[i], relaxed_code(chill_gap[i], steps))
        for i in range(lo, hi):
            if touched_friends[i - lo] != 0 and not emigrated[i]:
                share = friends_share(touched_friends[i - lo], degree[i])
                chill_gap[i] = chilled_gap(params, chill_gap[i], share, steps)
    for i in range(lo, hi):
        touched_friends[i - lo] = 0  # the landed points' buffer again
    for first in range(lo, hi, np.uint64(64)):  # 4-6: the few agents they apply to, found 64 at a time
        last = lesser(hi, first + np.uint64(64))
        deciding = _deciding(params, first, last, camera_coverage, pop, out.status)
        while deciding:
            i = first + np.uint64(lowest_bit(deciding))
            deciding &= deciding - np.uint64(1)
            decide(params, seed, t, i, camera_coverage[pop.region[i]], pop, out.status)


@nb.njit(inline="always", cache=True)
def _deciding(params, first, last, camera_coverage, pop, status):
    # Bit i − first: whether one of items 4-6 draws for alive agent i today (decide's conditions,
    # as selects, so that the loop vectorises).
    word = np.uint64(0)
    for i in range(first, last):
        coverage = camera_coverage[pop.region[i]]
        adapted = pop.adapted[i]
        opts = may_opt_out(params, is_set(pop.traits[i], PRIVACY_MINDED), is_set(adapted, OFF_GRID), coverage)
        hires = may_hire_adviser(params, is_set(adapted, ADVISED), pop.score[i], pop.income_decile[i])
        leaves = may_emigrate(params, status[i], pop.income_decile[i])
        word |= np.uint64((not pop.emigrated[i]) & (opts | hires | leaves)) << np.uint64(i - first)
    return word


def _unfriend(
    seed: int, t: int, params: AdaptationParams, listed: np.ndarray, blacklisted: np.ndarray, links: Links,
    degree: np.ndarray,
) -> None:  # fmt: skip
    """Item 3, visiting each edge with exactly one listed end once, from its listed end.

    The draws (and each edge's index) are the work, and each edge's fate depends only on
    the state before item 3, so the threads decide them, one flag per position of the
    listed agents' rows; the cuts, which lower shared degrees and lattice words, then
    follow in one thread.
    """
    starts = _row_starts_of(links, listed)
    cut = np.zeros(starts[-1], dtype=np.bool_)
    _decide_cuts(seed, t, params, listed, blacklisted, links, starts, cut)
    _cut_decided(listed, links, starts, cut, degree)


@nb.njit(cache=True)
def _row_starts_of(links: Links, agents: np.ndarray) -> np.ndarray:
    """Where each of ``agents``' rows starts in a flat array of their rows' positions (and, last, its length)."""
    starts = np.zeros(agents.shape[0] + 1, dtype=np.int64)
    for k in range(agents.shape[0]):
        starts[k + 1] = starts[k] + row_length(links, agents[k])
    return starts


@nb.njit(parallel=True, cache=True)
def _decide_cuts(
    seed: int, t: int, params: AdaptationParams, listed: np.ndarray, blacklisted: np.ndarray, links: Links,
    starts: np.ndarray, cut: np.ndarray,
) -> None:  # fmt: skip
    for c in nb.prange((listed.shape[0] + _LISTED_SPAN - 1) // _LISTED_SPAN):
        lo, hi = c * _LISTED_SPAN, min(listed.shape[0], (c + 1) * _LISTED_SPAN)
        _decide_span(lo, hi, seed, t, params, listed, blacklisted, links, starts, cut)


_LISTED_SPAN = 64
"""Listed agents whose edges one call of :func:`_decide_span` decides."""


@chunk_function
def _decide_span(
    lo: int, hi: int, seed: int, t: int, params: AdaptationParams, listed: np.ndarray, blacklisted: np.ndarray,
    links: Links, starts: np.ndarray, cut: np.ndarray,
) -> None:  # fmt: skip
    for k in range(lo, hi):
        if k + _AHEAD < listed.shape[0]:  # the next agents' rows are far apart: ask for them early
            _prefetch_row(links, blacklisted, listed[k + _AHEAD])
        u = listed[k]
        for q in range(row_length(links, u)):
            v, live = friend_at(links, u, q)
            if live and not blacklisted[v]:
                cut[starts[k] + q] = unfriends(params, seed, t, edge_index(links, lesser(u, v), greater(u, v)))


_AHEAD = 2
"""Listed agents ahead whose rows :func:`_decide_span` asks the memory for."""


@nb.njit(inline="always", cache=True)
def _prefetch_row(links: Links, blacklisted: np.ndarray, u: int) -> None:
    """Ask for what deciding agent ``u``'s edges reads first: its ring word, list flags, row start and first edge."""
    if links.ring.shape[0] != 0:
        prefetch(links.ring, u)
    prefetch(blacklisted, u)
    prefetch(links.offsets, u)
    prefetch(links.edge_start, u)
    prefetch(links.neighbours, row_start(links, u))


@nb.njit(cache=True)
def _cut_decided(listed: np.ndarray, links: Links, starts: np.ndarray, cut: np.ndarray, degree: np.ndarray) -> None:
    for k in range(listed.shape[0]):
        for q in range(starts[k + 1] - starts[k]):
            if cut[starts[k] + q]:
                cut_at(links, listed[k], q, degree)


@nb.njit(cache=True)
def _emigrate(leaving: np.ndarray, links: Links, degree: np.ndarray, emigrated: np.ndarray) -> None:
    """Item 6: emigrants leave and every edge of theirs is cut."""
    for i in leaving:
        emigrated[i] = True
        for q in range(row_length(links, i)):
            if friend_at(links, i, q)[1]:
                cut_at(links, i, q, degree)
