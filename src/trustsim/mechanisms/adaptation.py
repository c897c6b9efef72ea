"""Phase E — adaptation (MODEL.md §7), on the state after phase D, items in order.

1. deterrence of each negative behaviour the agent got points for today, then relaxation;
2. chilling by the share of friends who got dissent points or entered the list today;
3. unfriending: an active edge with exactly one listed end is cut when ``U(unf, t, e) < rate``;
4. opting out (``U(opt, t, i)``); 5. hiring an adviser (``U(adv, t, i)``);
6. emigration (``U(emi, t, i)``): the emigrant's edges are cut.

Items 1, 2, 4, 5 and the emigration *decision* touch only the agent's own state, so
one parallel pass does them. For item 2 the few agents who got dissent points or
entered the list today (flagged ``TOUCHED`` by phase D) first tell their active
friends (a scatter), before item 3 cuts any edge, as the order requires. Item 3
visits only listed agents' edges. Deterrence and chill of emigrants are frozen: they
take no further part.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import LEAVING, SANCTIONED, TOUCHED, Day, flagged, has
from trustsim.network import cut_edge
from trustsim.rng import stream_id, uniform
from trustsim.scenario import CAMERA, Scenario
from trustsim.world import World


class AdaptationPhase:
    """People adapt: deterrence, chill, unfriending, opting out, advisers, emigration."""

    phase = "E"

    def __init__(self, scenario: Scenario) -> None:
        a = scenario.adaptation
        self.negative = np.array(scenario.negative, dtype=np.bool_)
        self.dissent = scenario.dissent_index
        self.rates = np.array([
            a.deterrence_step, a.deterrence_floor, a.deterrence_relax, a.chill_step, a.chill_relax,
            a.opt_out_coverage, a.opt_out_rate, a.adviser_below, a.adviser_rate, a.emigrate_rate,
        ])  # fmt: skip
        self.deciles = np.array([a.adviser_min_decile, a.emigrate_min_decile], dtype=np.int64)
        self.unfriend_rate = a.unfriend_rate
        self.streams = np.array([stream_id(name) for name in ("opt", "adv", "emi")], dtype=np.int64)
        self.unfriend_stream = stream_id("unf")

    def step(self, world: World, day: Day) -> None:
        """Run items 1–6; take emigrants out of the region index."""
        pop = world.population
        net = world.network
        touched = flagged(day.status, TOUCHED, day.flagged_count)
        _count_touched_friends(touched, net.offsets, net.neighbours, world.degree, day.touched_friends)
        _adapt(
            world.seed, day.t, self.negative, self.rates, self.deciles, self.streams,
            world.coverage[day.t, CAMERA], pop.emigrated, day.attributed, day.wrongly_received, day.status,
            day.touched_friends, world.degree,
            pop.region, pop.income_decile, pop.privacy_minded, pop.score,
            pop.deterrence, pop.chill, pop.off_grid, pop.advised,
        )  # fmt: skip
        listed = flagged(pop.blacklisted.view(np.uint8), 1, day.flagged_count)
        _unfriend(world.seed, day.t, self.unfriend_stream, self.unfriend_rate, listed, pop.blacklisted,
                  net.offsets, net.neighbours, net.edge_of_slot, world.degree)  # fmt: skip
        leaving = flagged(day.status, LEAVING, day.flagged_count)
        _emigrate(leaving, net.offsets, net.neighbours, net.edge_of_slot, world.degree, pop.emigrated)
        world.regions.remove(leaving, pop.region)


@nb.njit(cache=True)
def _count_touched_friends(touched, offsets, neighbours, degree, touched_friends):
    """For item 2: how many active friends of each agent got dissent points or entered the list today.

    ``touched_friends`` is all zero on entry; :func:`_adapt` zeroes what it reads.
    """
    for j in touched:
        for slot in range(offsets[j], offsets[j] + degree[j]):
            touched_friends[neighbours[slot]] += 1


@nb.njit(parallel=True, cache=True)
def _adapt(
    seed, t, negative, rates, deciles, streams, camera_coverage, emigrated, attributed, wrongly_received,
    status, touched_friends, degree, region, income_decile, privacy_minded, score, deterrence, chill,
    off_grid, advised,
):  # fmt: skip
    step, floor, relax, chill_step, chill_relax = rates[0], rates[1], rates[2], rates[3], rates[4]
    opt_coverage, opt_rate, adviser_below, adviser_rate = rates[5], rates[6], rates[7], rates[8]
    emigrate_rate = rates[9]
    for i in nb.prange(emigrated.shape[0]):
        if emigrated[i]:
            continue
        received = attributed[i] | wrongly_received[i]
        for b in range(negative.shape[0]):  # 1. deterrence
            if negative[b]:
                d = deterrence[b, i]
                if has(received, b):
                    d = max(d * (1.0 - step), floor)
                deterrence[b, i] = d + relax * (1.0 - d)
        share = 0.0  # 2. chilling
        if touched_friends[i] != 0:
            share = touched_friends[i] / degree[i]
            touched_friends[i] = 0
        chill_today = chill[i] * (1.0 - chill_step * share)
        chill[i] = chill_today + chill_relax * (1.0 - chill_today)
        # 4. opting out
        if privacy_minded[i] and not off_grid[i] and camera_coverage[region[i]] >= opt_coverage:
            if uniform(seed, streams[0], t, i, 0) < opt_rate:
                off_grid[i] = True
        # 5. advisers
        if not advised[i] and score[i] < adviser_below and income_decile[i] >= deciles[0]:
            if uniform(seed, streams[1], t, i, 0) < adviser_rate:
                advised[i] = True
        # 6. emigration decision (applied after unfriending)
        if (status[i] & SANCTIONED) and income_decile[i] >= deciles[1]:
            if uniform(seed, streams[2], t, i, 0) < emigrate_rate:
                status[i] |= LEAVING


@nb.njit(cache=True)
def _unfriend(seed, t, stream, rate, listed, blacklisted, offsets, neighbours, edge_of_slot, degree):
    """Item 3, visiting each edge with exactly one listed end once, from its listed end.

    The row is walked backwards because a cut moves the active slots after it up one.
    """
    if rate <= 0.0:
        return
    for u in listed:
        for slot in range(offsets[u] + degree[u] - 1, offsets[u] - 1, -1):
            if not blacklisted[neighbours[slot]] and uniform(seed, stream, t, edge_of_slot[slot], 0) < rate:
                cut_edge(u, slot, offsets, neighbours, edge_of_slot, degree)


@nb.njit(cache=True)
def _emigrate(leaving, offsets, neighbours, edge_of_slot, degree, emigrated):
    """Item 6: emigrants leave and every edge of theirs is cut."""
    for i in leaving:
        emigrated[i] = True
        while degree[i] > 0:
            cut_edge(i, offsets[i] + degree[i] - 1, offsets, neighbours, edge_of_slot, degree)
