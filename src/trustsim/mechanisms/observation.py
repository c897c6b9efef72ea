"""Phase B — observation, face recognition and human review (MODEL.md §4).

Draws, each with counter ``(i, t)``: ``obs:<b>`` (observed), ``fr:<b>`` (face
recognition outcome), ``frj:<b>`` (who a misattribution lands on), ``rev:<b>``
(reviewed) and ``cat:<b>`` (a reviewed misattribution caught). Draws whose
outcome is certain (coverage 0, review capacity above demand) are not taken;
since draws are stateless this changes nothing else.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import ATTRIBUTED, CAUGHT, CHUNK, LOST, MISATTRIBUTED, NOT_OBSERVED, Day
from trustsim.rng import stream_id, uniform
from trustsim.scenario import CAMERA, CHANNELS, ONLINE, PAYMENT, Scenario
from trustsim.world import World


class ObservationPhase:
    """Decides which of today's instances the system sees, and whom it pins them on."""

    phase = "B"

    def __init__(self, scenario: Scenario) -> None:
        names = list(scenario.behaviours)
        self.channel = np.array([CHANNELS.index(b.channel) for b in scenario.behaviours.values()], dtype=np.int64)
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
        """Fill ``day.outcome``/``day.target``, run the review, count instances."""
        pop = world.population
        index = world.regions
        _observe(
            world.seed, day.t, self.streams, self.channel, world.coverage[day.t],
            self.false_non_match, self.false_match,
            day.alive_start, pop.region, pop.cashless, pop.off_grid,
            index.members, index.start, index.rank,
            day.committed, day.outcome, day.target,
            day.observed_count, day.misattributed_count, day.candidates,
        )  # fmt: skip
        candidates = day.candidates.sum(axis=0)
        capacity = self.review_per_capita * index.alive_per_region()
        day.review_backlog = float(np.maximum(0.0, candidates - capacity).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            reviewed_share = np.where(candidates > 0, np.minimum(1.0, capacity / candidates), 1.0)
        _review(
            world.seed, day.t, self.streams, self.channel, reviewed_share, self.review_catch,
            day.alive_start, pop.region, day.outcome, day.caught_count,
        )  # fmt: skip


@nb.njit(parallel=True, cache=True)
def _observe(
    seed, t, streams, channel, coverage, false_non_match, false_match,
    alive, region, cashless, off_grid, members, start, rank,
    committed, outcome, target, observed_count, misattributed_count, candidates,
):  # fmt: skip
    n_behaviours, n = committed.shape
    for c in nb.prange(observed_count.shape[0]):
        observed_count[c, :] = 0
        misattributed_count[c, :] = 0
        candidates[c, :] = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            outcome[:, i] = NOT_OBSERVED
            if not alive[i]:
                continue
            r = region[i]
            for b in range(n_behaviours):
                ch = channel[b]
                if not committed[b, i]:
                    continue
                if ch == PAYMENT and (off_grid[i] or not cashless[i]):
                    continue
                if ch == ONLINE and off_grid[i]:
                    continue
                cover = coverage[ch, r]
                if cover <= 0.0 or uniform(seed, streams[b, 0], t, i, 0) >= cover:
                    continue
                observed_count[c, b] += 1
                if ch != CAMERA:
                    outcome[b, i] = ATTRIBUTED
                    continue
                u = uniform(seed, streams[b, 1], t, i, 0)
                m = start[r + 1] - start[r]
                if u < false_non_match or (u < false_non_match + false_match and m == 1):
                    outcome[b, i] = LOST
                elif u < false_non_match + false_match:
                    k = np.int64(uniform(seed, streams[b, 2], t, i, 0) * (m - 1))
                    if k >= rank[i]:
                        k += 1
                    target[b, i] = members[start[r] + k]
                    outcome[b, i] = MISATTRIBUTED
                    misattributed_count[c, b] += 1
                    candidates[c, r] += 1
                else:
                    outcome[b, i] = ATTRIBUTED
                    candidates[c, r] += 1


@nb.njit(parallel=True, cache=True)
def _review(seed, t, streams, channel, reviewed_share, catch, alive, region, outcome, caught_count):
    n_behaviours, n = outcome.shape
    for c in nb.prange(caught_count.shape[0]):
        caught_count[c, :] = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                continue
            share = reviewed_share[region[i]]
            for b in range(n_behaviours):
                # Reviewing a correct attribution changes nothing, so only misattributions draw.
                if channel[b] != CAMERA or outcome[b, i] != MISATTRIBUTED:
                    continue
                if share < 1.0 and uniform(seed, streams[b, 3], t, i, 0) >= share:
                    continue
                if uniform(seed, streams[b, 4], t, i, 0) < catch:
                    outcome[b, i] = CAUGHT
                    caught_count[c, b] += 1
