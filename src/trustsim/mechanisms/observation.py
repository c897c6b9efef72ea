"""Phase B — observation, face recognition and human review (MODEL.md §4).

Draws, each with counter ``(i, t)``: ``obs:<b>`` (observed), ``fr:<b>`` (face
recognition outcome), ``frj:<b>`` (who a misattribution lands on), ``rev:<b>``
(reviewed) and ``cat:<b>`` (a reviewed misattribution caught). Draws whose
outcome is certain (coverage 0, review capacity above demand) are not taken;
since draws are stateless this changes nothing else.

One parallel pass visits the agents who committed anything today and sorts their
instances into attributed (to the actor), misattributed, lost or unseen; it counts
the review candidates of each region. The review then runs serially over the few
misattributions, in order of actor id and behaviour: those that stand leave their
points on the agent they landed on (``day.landed_points``, summed in that order).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import CHUNK, Day, flagged, has
from trustsim.rng import stream_id, uniform
from trustsim.scenario import CAMERA, CHANNELS, ONLINE, PAYMENT, Scenario
from trustsim.world import World, alive_at_rank, alive_rank


class ObservationPhase:
    """Decides which of today's instances the system sees, and whom it pins them on."""

    phase = "B"

    def __init__(self, scenario: Scenario) -> None:
        names = list(scenario.behaviours)
        self.channel = np.array([CHANNELS.index(b.channel) for b in scenario.behaviours.values()], dtype=np.int64)
        self.points = np.array([b.points for b in scenario.behaviours.values()], dtype=np.float64)
        self.streams = np.array(
            [[stream_id(f"{kind}:{name}") for kind in ("obs", "fr", "frj", "rev", "cat")] for name in names],
            dtype=np.int64,
        )
        obs = scenario.observation
        self.false_match = obs.false_match
        self.false_non_match = obs.false_non_match
        self.review_per_capita = obs.review_per_capita
        self.review_catch = obs.review_catch

    def step(self, world: World, day: Day) -> None:
        """Sort today's instances, run the review, and leave the points of misattributions that stand."""
        pop = world.population
        index = world.regions
        _observe(
            world.seed, day.t, self.streams, self.channel, world.coverage[day.t],
            self.false_non_match, self.false_match,
            pop.region, pop.cashless, pop.off_grid, index.members, index.start, index.position, index.tree,
            index.alive, day.committed, day.attributed, day.misattributed, day.wrongly_received,
            day.observed_count, day.misattributed_count, day.penalised_count, day.candidates,
        )  # fmt: skip
        candidates = day.candidates.sum(axis=0)
        capacity = self.review_per_capita * index.alive
        day.review_backlog = float(np.maximum(0.0, candidates - capacity).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            reviewed_share = np.where(candidates > 0, np.minimum(1.0, capacity / candidates), 1.0)
        actors = flagged(day.misattributed, np.iinfo(day.misattributed.dtype).max, day.flagged_count)
        _review(
            world.seed, day.t, self.streams, self.points, reviewed_share, self.review_catch,
            pop.region, index.members, index.start, index.position, index.tree, index.alive,
            actors, day.misattributed, day.wrongly_received, day.landed_points, day.landed_wrongful,
            day.caught_count[0], day.penalised_count[-1],
        )  # fmt: skip


@nb.njit(inline="always", cache=True)
def _pinned_on(seed, stream, t, i, r, members, start, position, tree, alive):
    """The agent a misattribution of ``i`` lands on: rank ``k`` among the region's others (MODEL.md §4)."""
    k = np.int64(uniform(seed, stream, t, i, 0) * (alive[r] - 1))
    if k >= alive_rank(i, r, start, position, tree):
        k += 1
    return alive_at_rank(k, r, members, start, tree)


@nb.njit(parallel=True, cache=True)
def _observe(
    seed, t, streams, channel, coverage, false_non_match, false_match,
    region, cashless, off_grid, members, start, position, tree, alive,
    committed, attributed, misattributed, wrongly_received,
    observed_count, misattributed_count, penalised_count, candidates,
):  # fmt: skip
    n_behaviours = channel.shape[0]
    n = committed.shape[0]
    for c in nb.prange(observed_count.shape[0]):
        observed_count[c, :] = 0
        misattributed_count[c, :] = 0
        penalised_count[c, :] = 0
        candidates[c, :] = 0
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        attributed[lo:hi] = 0
        misattributed[lo:hi] = 0
        wrongly_received[lo:hi] = 0
        for i in range(lo, hi):
            instances = committed[i]  # emigrants commit nothing
            if instances == 0:
                continue
            r = region[i]
            for b in range(n_behaviours):
                if not has(instances, b):
                    continue
                ch = channel[b]
                outcome = sighting(
                    seed, t, i, streams[b, 0], streams[b, 1], ch, coverage[ch, r], cashless[i], off_grid[i],
                    false_non_match, false_match, alive[r],
                )  # fmt: skip
                if outcome == UNSEEN:
                    continue
                observed_count[c, b] += 1
                if outcome == LOST:
                    continue
                if ch == CAMERA:
                    candidates[c, r] += 1
                bit = np.uint64(1) << np.uint64(b)
                if outcome == MISATTRIBUTED:
                    misattributed[i] |= bit
                    misattributed_count[c, b] += 1
                else:
                    attributed[i] |= bit
                    penalised_count[c, b] += 1


UNSEEN, ATTRIBUTED, MISATTRIBUTED, LOST = 0, 1, 2, 3
"""What becomes of an instance (:func:`sighting`)."""


@nb.njit(inline="always", cache=True)
def sighting(
    seed, t, i, observe_stream, recognise_stream, channel, coverage, cashless, off_grid, false_non_match, false_match,
    alive_in_region,
):  # fmt: skip
    """What becomes of agent ``i``'s instance on ``channel`` (MODEL.md §4; CPU and GPU kernels call it).

    ``UNSEEN``, or seen and then ``ATTRIBUTED`` to ``i``, ``MISATTRIBUTED`` to somebody
    else (camera) or ``LOST`` (camera: not recognised, or nobody else in the region).
    Draws ``obs:<b>`` and, on camera, ``fr:<b>``.
    """
    if channel == PAYMENT and (off_grid or not cashless):
        return UNSEEN
    if channel == ONLINE and off_grid:
        return UNSEEN
    if coverage <= 0.0 or uniform(seed, observe_stream, t, i, 0) >= coverage:
        return UNSEEN
    if channel != CAMERA:
        return ATTRIBUTED
    u = uniform(seed, recognise_stream, t, i, 0)
    if u < false_non_match or (u < false_non_match + false_match and alive_in_region == 1):
        return LOST
    return MISATTRIBUTED if u < false_non_match + false_match else ATTRIBUTED


@nb.njit(cache=True)
def _review(
    seed, t, streams, points, reviewed_share, catch, region, members, start, position, tree, alive,
    actors, misattributed, wrongly_received, landed_points, landed_wrongful, caught, penalised,
):  # fmt: skip
    caught[:] = 0
    penalised[:] = 0
    for i in actors:
        r = region[i]
        share = reviewed_share[r]
        for b in range(points.shape[0]):
            if not has(misattributed[i], b):
                continue
            reviewed = share >= 1.0 or uniform(seed, streams[b, 3], t, i, 0) < share
            if reviewed and uniform(seed, streams[b, 4], t, i, 0) < catch:
                caught[b] += 1
                continue
            j = _pinned_on(seed, streams[b, 2], t, i, r, members, start, position, tree, alive)
            landed_points[j] += points[b]
            if points[b] < 0.0:
                landed_wrongful[j] += points[b]
            wrongly_received[j] |= np.uint64(1) << np.uint64(b)
            penalised[b] += 1
