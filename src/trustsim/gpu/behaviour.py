"""Phase A on the GPU — behaviour (MODEL.md §3): one thread per agent.

The probability is built with the CPU's operations in the CPU's order (a factor that
does not apply is exactly 1.0), so every draw compares the same two doubles.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    THREADS,
    add_block_counters,
    block_sum,
    blocks,
    clear_block_counters,
    sum_partials,
    upload_arrays,
)
from trustsim.gpu.state import DeviceDay, DeviceWorld, zero
from trustsim.mechanisms.behaviour import BehaviourPhase
from trustsim.rng import uniform
from trustsim.scalar import lesser
from trustsim.scenario import Scenario


class DeviceBehaviourPhase(BehaviourPhase):
    """Draws today's behaviour of every alive agent (parameters as :class:`BehaviourPhase`)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        upload_arrays(self)

    def step(self, world: DeviceWorld, day: DeviceDay) -> None:  # type: ignore[override]
        """Fill ``day.committed``; count commitments and unchilled dissent."""
        pop = world.population
        zero(day.committed_count)
        n = world.n_agents
        _commit[blocks(n), THREADS](
            world.seed, day.t, self.streams, self.base_rate, self.negative, self.outspoken_multiplier,
            self.dissent, self.adviser_effect,
            pop.emigrated, pop.frailty, pop.deterrence, pop.advised, pop.outspoken, pop.chill,
            day.committed, day.committed_count, day.partial,
        )  # fmt: skip
        sum_partials[1, THREADS](day.partial, day.sums, 0)


@cuda.jit
def _commit(
    seed: int, t: int, streams: Any, base_rate: Any, negative: Any, outspoken_multiplier: Any, dissent: int,
    adviser_effect: float, emigrated: Any, frailty: Any, deterrence: Any, advised: Any, outspoken: Any,
    chill: Any, committed: Any, counts: Any, partial: Any,
) -> None:  # fmt: skip
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    clear_block_counters(local, base_rate.shape[0])
    i = cuda.grid(1)
    unchilled = 0.0
    if i < emigrated.shape[0]:
        mask = np.uint64(0)
        if not emigrated[i]:
            for b in range(base_rate.shape[0]):
                adviser_factor = adviser_effect if negative[b] and advised[i] else 1.0
                outspoken_factor = outspoken_multiplier[b] if outspoken[i] else 1.0
                p = base_rate[b] * numba.float64(frailty[b, i]) * deterrence[b, i] * adviser_factor * outspoken_factor
                if b == dissent:
                    unchilled = lesser(p, 1.0)
                    p *= chill[i]
                if uniform(seed, streams[b], t, i, 0) < lesser(p, 1.0):
                    mask |= np.uint64(1) << np.uint64(b)
                    cuda.atomic.add(local, b, 1)
        committed[i] = mask
    add_block_counters(local, counts, base_rate.shape[0], 0)
    block_sum(unchilled, partial)
