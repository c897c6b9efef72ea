"""Phase D on the GPU — court, blacklist, tiers and sanctions (MODEL.md §6): one thread per agent.

The per-agent rule is the CPU's own code: :func:`~trustsim.mechanisms.sanctions.court_and_list`
(items 1–4) and :func:`~trustsim.mechanisms.sanctions.sanction_outcome` (items 6–7),
compiled for the device; only the counting differs (atomics instead of per-chunk rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from trustsim.day import ENTERED, SANCTIONED, TOUCHED, WRONGLY_SANCTIONED
from trustsim.gpu.common import THREADS, blocks, lane, shared, upload_arrays
from trustsim.gpu.state import DeviceDay, DeviceWorld, zero
from trustsim.mechanisms.sanctions import SanctionsPhase, court_and_list, sanction_outcome
from trustsim.scenario import Scenario


class DeviceSanctionsPhase(SanctionsPhase):
    """Lists, delists and sanctions agents (parameters as :class:`SanctionsPhase`)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.highest_bound = float(self.applies_below.max()) if self.applies_below.size else -np.inf
        upload_arrays(self)

    def step(self, world: DeviceWorld, day: DeviceDay) -> None:  # type: ignore[override]
        """Run items 1–7 of MODEL.md §6 for every alive agent."""
        pop = world.population
        zero(day.listing_count)
        zero(day.denials_count)
        _court_list_sanction[blocks(world.n_agents), THREADS](
            world.seed, day.t, self.escalation, self.court_streams, self.exit_stream, self.listing, self.exit_days,
            self.bounds, self.highest_bound, self.applies_below, self.applies_to_blacklisted, self.attempt_rate,
            self.attempt_streams, self.dissent_bit, pop.emigrated, day.attributed, day.wrongly_received, pop.score,
            pop.wrongful, pop.blacklisted, pop.court_listed, pop.listed_wrongly, pop.listed_day, pop.days_above_exit,
            pop.ever_sanctioned, pop.ever_wrongly_sanctioned, day.status, day.listing_count, day.denials_count,
        )  # fmt: skip


_court_and_list = shared(court_and_list)
_sanction_outcome = shared(sanction_outcome)


@cuda.jit
def _court_list_sanction(
    seed: int, t: int, escalation: Any, court_streams: Any, exit_stream: int, listing: Any, exit_days: int,
    bounds: Any, highest_bound: float, applies_below: Any, applies_to_blacklisted: Any, attempt_rate: Any,
    attempt_streams: Any, dissent_bit: Any, emigrated: Any, attributed: Any, wrongly_received: Any, score: Any,
    wrongful: Any, blacklisted: Any, court_listed: Any, listed_wrongly: Any, listed_day: Any, days_above_exit: Any,
    ever_sanctioned: Any, ever_wrongly_sanctioned: Any, status: Any, listing_count: Any, denials_count: Any,
) -> None:  # fmt: skip
    # The CPU kernel's body for one agent, with its two shared functions.
    i = cuda.grid(1)
    if i >= score.shape[0]:
        return
    if emigrated[i]:
        status[i] = 0
        return
    row = lane()
    flags, s, listed, event = _court_and_list(
        i, seed, t, escalation, court_streams, exit_stream, listing, exit_days, bounds, attributed[i],
        score, wrongful, blacklisted, court_listed, listed_wrongly, listed_day, days_above_exit,
    )  # fmt: skip
    if event >= 0:
        cuda.atomic.add(listing_count, (row, event), 1)
    if s < highest_bound or listed:
        for k in range(attempt_rate.shape[0]):
            active, denied, wrong = _sanction_outcome(
                i, seed, t, s, wrongful[i], listed, listed_wrongly[i], applies_below[k],
                applies_to_blacklisted[k], attempt_rate[k], attempt_streams[k],
            )  # fmt: skip
            flags |= active * SANCTIONED | wrong * WRONGLY_SANCTIONED
            if denied:
                cuda.atomic.add(denials_count, (row, k), 1)
        if flags & SANCTIONED:
            ever_sanctioned[i] = True
        if flags & WRONGLY_SANCTIONED:
            ever_wrongly_sanctioned[i] = True
    if (flags & ENTERED) or ((attributed[i] | wrongly_received[i]) & dissent_bit) != 0:
        flags |= TOUCHED
    status[i] = flags
