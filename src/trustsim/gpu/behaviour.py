"""Phase A on the GPU — behaviour (docs/model.md §3): one thread per agent, calling the rule of
:mod:`trustsim.mechanisms.behaviour`."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.day import Day, bit
from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    THREADS,
    add_block_counters,
    block_sum,
    blocks,
    clear_block_counters,
    kernel,
    sum_partials,
    to_device,
    zero,
)
from trustsim.gpu.state import DeviceWorld
from trustsim.households import age_band
from trustsim.mechanisms.behaviour import (
    BehaviourParams,
    birthday,
    chill_of,
    commits,
    dissent_unchilled,
    draws,
    probability,
    unchilled_probability,
)
from trustsim.population import ADVISED, OUTSPOKEN, frailty_of, is_set
from trustsim.rng import LANES
from trustsim.scalar import tally
from trustsim.scenario import Scenario


class DeviceBehaviourPhase:
    """Draws today's behaviour of every alive agent."""

    def __init__(self, scenario: Scenario, partial: Any) -> None:
        """``partial``: a device buffer of one float per block, for the ordered sum of the unchilled dissent."""
        self.params = to_device(BehaviourParams.from_scenario(scenario))
        self.partial = partial

    def step(self, world: DeviceWorld, day: Day) -> None:
        """Ages advance (days 365, 730 …); fill ``outcomes.committed``; tally commitments and unchilled dissent."""
        if birthday(self.params, day.t):
            _advance_ages[blocks(world.n_agents), THREADS](world.population.age, world.population.emigrated)
        tallies = day.tallies
        zero(tallies.committed)
        zero(tallies.unchilled)
        _commit[blocks(world.n_agents), THREADS](world.seed, day.t, self.params, world.population,
                                                 day.outcomes.committed, tallies.committed, self.partial)  # fmt: skip
        sum_partials[1, THREADS](self.partial, tallies.unchilled, 0)


@kernel
def _commit(seed: int, t: int, params: Any, pop: Any, committed: Any, counts: Any, partial: Any) -> None:
    n_behaviours = params.base_rate.shape[0]
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    clear_block_counters(local, n_behaviours)
    i = cuda.grid(1)
    unchilled = 0.0
    if i < committed.shape[0]:
        mask = np.uint64(0)
        if not pop.emigrated[i]:
            band = age_band(params.band_minimums, pop.age[i]) if params.aged else 0  # no ages: none held
            for block in range(params.blocks):
                words = draws(params, seed, t, i, block)
                for lane in range(LANES):
                    b = LANES * block + lane
                    if b < n_behaviours:
                        frailty, gap = frailty_of(pop.frailty[b, i]), pop.deterrence_gap[b, i]
                        p = unchilled_probability(params, b, frailty, band, gap, is_set(pop.adapted[i], ADVISED),
                                                  is_set(pop.traits[i], OUTSPOKEN))  # fmt: skip
                        unchilled += dissent_unchilled(params, b, p)
                        if commits(words[lane], probability(params, b, p, chill_of(pop.chill_gap[i]))):
                            mask |= bit(b)
                            tally(local, b, 1)
        committed[i] = mask
    add_block_counters(local, counts, n_behaviours, 0)
    block_sum(unchilled, partial)


@kernel
def _advance_ages(age: Any, emigrated: Any) -> None:
    i = cuda.grid(1)
    if i < age.shape[0] and not emigrated[i]:
        age[i] += 1
