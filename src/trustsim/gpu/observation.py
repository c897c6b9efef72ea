"""Phase B on the GPU — observation, face recognition and review (docs/model.md §4), with the rules of
:mod:`trustsim.mechanisms.observation`.

One thread per agent sorts its instances (:func:`~trustsim.mechanisms.observation.observe_agent`).
The review needs the day's candidates per region first, so it is a second kernel, one
thread per actor of a misattribution (compacted in id order), that finds where each
misattribution that stands lands. The points are then landed by one thread in the
CPU's order (actor id, then behaviour): several misattributions may land on one agent,
and float addition in another order could give another sum. Misattributions are rare
(of the order of 1e-4 per agent and day), so that serial pass is short.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.day import Day
from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    THREADS,
    add_block_counters,
    blocks,
    clear_block_counters,
    flagged,
    kernel,
    lane,
    to_device,
    zero,
)
from trustsim.gpu.state import DeviceWorld
from trustsim.mechanisms.observation import ObservationParams, land, observe_agent, review_actor, review_shares
from trustsim.scenario import Scenario


class DeviceObservationPhase:
    """Decides which of today's instances the system sees, and whom it pins them on."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = ObservationParams.from_scenario(scenario)  # on the host, for the review's shares
        self.device_params = to_device(self.params)

    def step(self, world: DeviceWorld, day: Day) -> None:
        """Sort today's instances, run the review, and leave the points of misattributions that stand."""
        out, tallies, index = day.outcomes, day.tallies, world.regions
        for counter in (tallies.observed, tallies.misattributed, tallies.penalised, tallies.candidates,
                        tallies.caught):  # fmt: skip
            zero(counter)
        _observe[blocks(world.n_agents), THREADS](world.seed, day.t, self.device_params, world.coverage,
                                                  world.population, index, out, tallies)  # fmt: skip
        candidates = tallies.candidates.copy_to_host().sum(axis=0)
        shares, day.review_backlog = review_shares(self.params, candidates, world.alive_by_region())
        actors = flagged(out.misattributed, int(np.iinfo(out.misattributed.dtype).max))
        if actors.shape[0] == 0:
            return
        targets = cuda.device_array((actors.shape[0], len(world.scenario.behaviours)), dtype=np.int64)
        _review[blocks(actors.shape[0]), THREADS](world.seed, day.t, self.device_params, cuda.to_device(shares),
                                                  world.population.region, index, actors, out.misattributed,
                                                  targets, tallies.caught[0])  # fmt: skip
        _land[1, 1](self.device_params, targets, out, tallies.penalised[-1])


@kernel
def _observe(
    seed: int, t: int, params: Any, coverage: Any, pop: Any, index: Any, out: Any, tallies: Any
) -> None:
    # The block's tallies by behaviour: observed at 0, misattributed at B, attributed at 2B.
    n_behaviours = params.channel.shape[0]
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    clear_block_counters(local, 3 * n_behaviours)
    i = cuda.grid(1)
    if i < out.committed.shape[0]:
        own = np.uint64(0)
        wrong = np.uint64(0)
        instances = out.committed[i]  # emigrants commit nothing
        if instances != 0:
            own, wrong = observe_agent(
                params, seed, t, i, instances, coverage[t], pop, index, local[:n_behaviours],
                local[n_behaviours : 2 * n_behaviours], local[2 * n_behaviours : 3 * n_behaviours],
                tallies.candidates[lane()],
            )  # fmt: skip
        out.attributed[i] = own
        out.misattributed[i] = wrong
        out.wrongly_received[i] = 0  # filled by _land, after every thread of this kernel
    add_block_counters(local, tallies.observed, n_behaviours, 0)
    add_block_counters(local, tallies.misattributed, n_behaviours, n_behaviours)
    add_block_counters(local, tallies.penalised, n_behaviours, 2 * n_behaviours)


@kernel
def _review(
    seed: int, t: int, params: Any, reviewed_share: Any, region: Any, index: Any, actors: Any, misattributed: Any,
    targets: Any, caught: Any,
) -> None:  # fmt: skip
    k = cuda.grid(1)
    if k < actors.shape[0]:
        i = actors[k]
        r = region[i]
        review_actor(params, seed, t, i, r, reviewed_share[r], misattributed[i], index, targets[k], caught)


@kernel
def _land(params: Any, targets: Any, out: Any, stood: Any) -> None:
    # One thread: the CPU's order of addition (actor id, then behaviour).
    for k in range(targets.shape[0]):
        land(params, targets[k], out, stood)
