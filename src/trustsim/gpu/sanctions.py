"""Phase D on the GPU — court, blacklist, tiers and sanctions (docs/model.md §6): one thread per agent,
calling :func:`~trustsim.mechanisms.sanctions.sanction_day`; only the counting differs from the CPU
(block counters instead of per-chunk rows)."""

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
    kernel,
    to_device,
    zero,
)
from trustsim.gpu.state import DeviceWorld
from trustsim.mechanisms.sanctions import NO_EVENT, SanctionsParams, listing_of, record_day, sanction_day
from trustsim.scalar import tally
from trustsim.scenario import Scenario

_EVENTS = 3
"""Listing events (entries by score, by court, exits): the first columns of the block's counters."""


class DeviceSanctionsPhase:
    """Lists, delists and sanctions agents."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = to_device(SanctionsParams.from_scenario(scenario))

    def step(self, world: DeviceWorld, day: Day) -> None:
        """Run items 1–7 for every alive agent."""
        zero(day.tallies.listing)
        zero(day.tallies.denials)
        _court_list_sanction[blocks(world.n_agents), THREADS](world.seed, day.t, self.params, world.population,
                                                              day.outcomes, day.tallies)  # fmt: skip


@kernel
def _court_list_sanction(seed: int, t: int, params: Any, pop: Any, out: Any, tallies: Any) -> None:
    n_sanctions = params.attempt_rate.shape[0]
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)  # listing events, then denials by sanction
    clear_block_counters(local, _EVENTS + n_sanctions)
    i = cuda.grid(1)
    if i < pop.score.shape[0]:
        if pop.emigrated[i]:
            out.status[i] = 0
        else:
            attributed = out.attributed[i]
            denials = local[_EVENTS : _EVENTS + n_sanctions]
            wrongful = np.float64(pop.wrongful[i])  # stored in single precision
            listing, flags, event, refused = sanction_day(params, seed, t, i, attributed | out.wrongly_received[i],
                                                          attributed, listing_of(pop, i), wrongful, denials)
            record_day(pop, i, listing, flags, event, refused)
            if event != NO_EVENT:
                tally(local, event, 1)
            out.status[i] = flags
    add_block_counters(local, tallies.listing, _EVENTS, 0)
    add_block_counters(local, tallies.denials, n_sanctions, _EVENTS)
