"""Phase E — adaptation (MODEL.md §7), on the state after phase D, items in order.

1. deterrence of each negative behaviour the agent got points for today, then relaxation;
2. chilling by the share of friends who got dissent points or entered the list today;
3. unfriending: an active edge with exactly one listed end is cut when ``U(unf, t, e) < rate``;
4. opting out (``U(opt, t, i)``); 5. hiring an adviser (``U(adv, t, i)``);
6. emigration (``U(emi, t, i)``): the emigrant's edges are cut.

Items 1, 2, 4, 5 and the emigration *decision* touch only the agent's own state
(item 2 reads friends' flags of today, not their state), so one parallel pass does
them; it reads the active edges before item 3 cuts any, as the order requires.
Deterrence and chill of emigrants are frozen: they take no further part.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import CHUNK, Day
from trustsim.rng import stream_id, uniform
from trustsim.scenario import CHANNELS, Scenario
from trustsim.world import RegionIndex, World

CAMERA = CHANNELS.index("camera")


class Adaptation:
    """People adapt: deterrence, chill, unfriending, opting out, advisers, emigration."""

    phase = "E"

    def __init__(self, scenario: Scenario) -> None:
        a = scenario.adaptation
        names = list(scenario.behaviours)
        self.negative = np.array([b.points < 0 for b in scenario.behaviours.values()], dtype=np.bool_)
        self.dissent = names.index("dissent") if "dissent" in names else -1
        self.rates = np.array([
            a.deterrence_step, a.deterrence_floor, a.deterrence_relax, a.chill_step, a.chill_relax,
            a.opt_out_coverage, a.opt_out_rate, a.adviser_below, a.adviser_rate, a.emigrate_rate,
        ])  # fmt: skip
        self.deciles = np.array([a.adviser_min_decile, a.emigrate_min_decile], dtype=np.int64)
        self.unfriend_rate = a.unfriend_rate
        self.streams = np.array([stream_id(name) for name in ("opt", "adv", "emi")], dtype=np.int64)
        self.unfriend_stream = stream_id("unf")

    def step(self, world: World, day: Day) -> None:
        """Run items 1–6; rebuild the region index when somebody emigrated."""
        pop = world.population
        net = world.network
        _adapt(
            world.seed, day.t, self.negative, self.dissent, self.rates, self.deciles, self.streams,
            world.coverage[day.t, CAMERA], day.alive_start, day.received, day.entered, day.sanctioned,
            net.offsets, net.neighbours, net.edge_of_slot, world.edge_active,
            pop.region, pop.income_decile, pop.privacy_minded, pop.score,
            pop.deterrence, pop.chill, pop.off_grid, pop.advised, day.leaving,
        )  # fmt: skip
        cut = _unfriend(world.seed, day.t, self.unfriend_stream, self.unfriend_rate,
                        net.src, net.dst, pop.blacklisted, world.edge_active)  # fmt: skip
        leaving = np.flatnonzero(day.leaving)
        cut += _emigrate(leaving, net.offsets, net.edge_of_slot, world.edge_active, pop.emigrated)
        world.active_edges -= cut
        day.edges_cut = cut
        if leaving.size:
            world.regions = RegionIndex.build(pop.region, world.alive, world.scenario.n_regions)


@nb.njit(parallel=True, cache=True)
def _adapt(
    seed, t, negative, dissent, rates, deciles, streams, camera_coverage, alive, received, entered,
    sanctioned, offsets, neighbours, edge_of_slot, edge_active,
    region, income_decile, privacy_minded, score, deterrence, chill, off_grid, advised, leaving,
):  # fmt: skip
    step, floor, relax, chill_step, chill_relax = rates[0], rates[1], rates[2], rates[3], rates[4]
    opt_coverage, opt_rate, adviser_below, adviser_rate, emigrate_rate = (
        rates[5],
        rates[6],
        rates[7],
        rates[8],
        rates[9],
    )
    for i in nb.prange(alive.shape[0]):
        leaving[i] = False
        if not alive[i]:
            continue
        for b in range(negative.shape[0]):  # 1. deterrence
            if negative[b]:
                d = deterrence[i, b]
                if received[i, b]:
                    d = max(d * (1.0 - step), floor)
                deterrence[i, b] = d + relax * (1.0 - d)
        touched = 0  # 2. chilling
        friends = 0
        for slot in range(offsets[i], offsets[i + 1]):
            if edge_active[edge_of_slot[slot]]:
                j = neighbours[slot]
                friends += 1
                if entered[j] or (dissent >= 0 and received[j, dissent]):
                    touched += 1
        share = touched / friends if friends > 0 else 0.0
        c = chill[i] * (1.0 - chill_step * share)
        chill[i] = c + chill_relax * (1.0 - c)
        # 4. opting out
        if privacy_minded[i] and not off_grid[i] and camera_coverage[region[i]] >= opt_coverage:
            if uniform(seed, streams[0], t, i, 0) < opt_rate:
                off_grid[i] = True
        # 5. advisers
        if not advised[i] and score[i] < adviser_below and income_decile[i] >= deciles[0]:
            if uniform(seed, streams[1], t, i, 0) < adviser_rate:
                advised[i] = True
        # 6. emigration decision (applied after unfriending)
        if sanctioned[i] and income_decile[i] >= deciles[1]:
            leaving[i] = uniform(seed, streams[2], t, i, 0) < emigrate_rate


@nb.njit(parallel=True, cache=True)
def _unfriend(seed, t, stream, rate, src, dst, blacklisted, edge_active):
    n_edges = src.shape[0]
    cut = np.zeros((n_edges + CHUNK - 1) // CHUNK, dtype=np.int64)
    if rate <= 0.0:
        return 0
    for c in nb.prange(cut.shape[0]):
        for e in range(c * CHUNK, min(n_edges, (c + 1) * CHUNK)):
            if edge_active[e] and blacklisted[src[e]] != blacklisted[dst[e]]:
                if uniform(seed, stream, t, e, 0) < rate:
                    edge_active[e] = False
                    cut[c] += 1
    return cut.sum()


@nb.njit(cache=True)
def _emigrate(leaving, offsets, edge_of_slot, edge_active, emigrated):
    cut = 0
    for i in leaving:
        emigrated[i] = True
        for slot in range(offsets[i], offsets[i + 1]):
            e = edge_of_slot[slot]
            if edge_active[e]:
                edge_active[e] = False
                cut += 1
    return cut
