"""Phase B on the GPU — observation, face recognition and review (MODEL.md §4).

One thread per agent sorts its instances with the CPU's own rule
(:func:`~trustsim.mechanisms.observation.sighting`). The review needs the
day's candidates per region first, so it is a second kernel over the actors of
misattributions (compacted in id order); it finds where each misattribution that
stands lands. The points are then added by one thread in the CPU's order (actor id,
then behaviour): several misattributions may land on one agent, and float addition
in another order could give another sum. Misattributions are rare (of the order of
1e-4 per agent and day), so that serial pass is short.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.day import has
from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    THREADS,
    add_block_counters,
    blocks,
    clear_block_counters,
    flagged,
    lane,
    shared,
    upload_arrays,
)
from trustsim.gpu.state import DeviceDay, DeviceWorld, zero
from trustsim.mechanisms.observation import LOST, MISATTRIBUTED, UNSEEN, ObservationPhase, sighting
from trustsim.rng import uniform
from trustsim.scenario import CAMERA, Scenario
from trustsim.world import alive_at_rank, alive_rank

_alive_rank = shared(alive_rank)
_alive_at_rank = shared(alive_at_rank)


class DeviceObservationPhase(ObservationPhase):
    """Decides which of today's instances the system sees, and whom it pins them on."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        upload_arrays(self)

    def step(self, world: DeviceWorld, day: DeviceDay) -> None:  # type: ignore[override]
        """Sort today's instances, run the review, and leave the points of misattributions that stand."""
        pop, index, n = world.population, world.regions, world.n_agents
        for counter in (day.observed_count, day.misattributed_count, day.penalised_count, day.candidates):
            zero(counter)
        zero(day.caught_count)
        _observe[blocks(n), THREADS](
            world.seed, day.t, self.streams, self.channel, world.coverage, self.false_non_match, self.false_match,
            pop.region, pop.cashless, pop.off_grid, index.alive, day.committed, day.attributed,
            day.misattributed, day.wrongly_received, day.observed_count, day.misattributed_count,
            day.penalised_count, day.candidates,
        )  # fmt: skip
        candidates = day.candidates.copy_to_host().sum(axis=0)
        capacity = self.review_per_capita * world.alive_by_region()
        day.review_backlog = float(np.maximum(0.0, candidates - capacity).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            reviewed_share = np.where(candidates > 0, np.minimum(1.0, capacity / candidates), 1.0)
        actors = flagged(day.misattributed, int(np.iinfo(day.misattributed.dtype).max))
        if actors.shape[0] == 0:
            return
        targets = cuda.device_array((actors.shape[0], len(world.scenario.behaviours)), dtype=np.int64)
        _review[blocks(actors.shape[0]), THREADS](
            world.seed, day.t, self.streams, cuda.to_device(reviewed_share), self.review_catch, pop.region,
            index.members, index.start, index.position, index.tree, index.alive, actors, day.misattributed,
            targets, day.caught_count,
        )  # fmt: skip
        _land[1, 1](
            self.points, targets, day.landed_points, day.landed_wrongful, day.wrongly_received,
            day.penalised_count[-1],
        )  # fmt: skip


@cuda.jit
def _observe(
    seed: int, t: int, streams: Any, channel: Any, coverage: Any, false_non_match: float, false_match: float,
    region: Any, cashless: Any, off_grid: Any, alive: Any, committed: Any, attributed: Any, misattributed: Any,
    wrongly_received: Any, observed_count: Any, misattributed_count: Any, penalised_count: Any, candidates: Any,
) -> None:  # fmt: skip
    # The block's counts by behaviour: observed at 0, misattributed at B, penalised at 2B.
    n_behaviours = channel.shape[0]
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    clear_block_counters(local, 3 * n_behaviours)
    i = cuda.grid(1)
    if i < committed.shape[0]:
        own = np.uint64(0)
        wrong = np.uint64(0)
        instances = committed[i]  # emigrants commit nothing
        if instances != 0:
            r = region[i]
            for b in range(n_behaviours):
                if not has(instances, b):
                    continue
                ch = channel[b]
                outcome = sighting(
                    seed, t, i, streams[b, 0], streams[b, 1], ch, coverage[t, ch, r], cashless[i], off_grid[i],
                    false_non_match, false_match, alive[r],
                )  # fmt: skip
                if outcome == UNSEEN:
                    continue
                cuda.atomic.add(local, b, 1)
                if outcome == LOST:
                    continue
                if ch == CAMERA:
                    cuda.atomic.add(candidates, (lane(), r), 1)
                bit = np.uint64(1) << np.uint64(b)
                if outcome == MISATTRIBUTED:
                    wrong |= bit
                    cuda.atomic.add(local, n_behaviours + b, 1)
                else:
                    own |= bit
                    cuda.atomic.add(local, 2 * n_behaviours + b, 1)
        attributed[i] = own
        misattributed[i] = wrong
        wrongly_received[i] = 0  # filled by _land, after every thread of this kernel
    add_block_counters(local, observed_count, n_behaviours, 0)
    add_block_counters(local, misattributed_count, n_behaviours, n_behaviours)
    add_block_counters(local, penalised_count, n_behaviours, 2 * n_behaviours)


@cuda.jit
def _review(
    seed: int, t: int, streams: Any, reviewed_share: Any, catch: float, region: Any, members: Any, start: Any,
    position: Any, tree: Any, alive: Any, actors: Any, misattributed: Any, targets: Any, caught: Any,
) -> None:  # fmt: skip
    k = cuda.grid(1)
    if k >= actors.shape[0]:
        return
    i = actors[k]
    r = region[i]
    share = reviewed_share[r]
    for b in range(targets.shape[1]):
        targets[k, b] = -1
        if not has(misattributed[i], b):
            continue
        reviewed = share >= 1.0 or uniform(seed, streams[b, 3], t, i, 0) < share
        if reviewed and uniform(seed, streams[b, 4], t, i, 0) < catch:
            cuda.atomic.add(caught, (0, b), 1)
            continue
        # The agent of rank k among the region's others (MODEL.md §4), as the CPU's _pinned_on.
        rank = np.int64(uniform(seed, streams[b, 2], t, i, 0) * (alive[r] - 1))
        if rank >= _alive_rank(i, r, start, position, tree):
            rank += 1
        targets[k, b] = _alive_at_rank(rank, r, members, start, tree)


@cuda.jit
def _land(
    points: Any, targets: Any, landed_points: Any, landed_wrongful: Any, wrongly_received: Any, penalised: Any
) -> None:
    # One thread: the CPU's order of addition (actor id, then behaviour).
    for k in range(targets.shape[0]):
        for b in range(targets.shape[1]):
            j = targets[k, b]
            if j < 0:
                continue
            landed_points[j] += points[b]
            if points[b] < 0.0:
                landed_wrongful[j] += points[b]
            wrongly_received[j] |= np.uint64(1) << np.uint64(b)
            penalised[b] += 1
