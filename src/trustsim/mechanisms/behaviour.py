"""Phase A — behaviour (MODEL.md §3).

Every alive agent may commit each behaviour once a day, when
``U(beh:<b>, t, i) < p`` with ``p`` its base rate times frailty, deterrence,
adviser effect, outspoken multiplier and chill, capped at 1.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import CHUNK, Day
from trustsim.rng import stream_id, uniform
from trustsim.scenario import Scenario
from trustsim.world import World


class BehaviourPhase:
    """Draws today's behaviour of every alive agent."""

    phase = "A"

    def __init__(self, scenario: Scenario) -> None:
        behaviours = list(scenario.behaviours.values())
        names = list(scenario.behaviours)
        self.streams = np.array([stream_id(f"beh:{name}") for name in names], dtype=np.int64)
        self.base_rate = np.array([b.base_rate for b in behaviours])
        self.negative = np.array(scenario.negative, dtype=np.bool_)
        self.outspoken_multiplier = np.array(
            [1.0 if b.outspoken_multiplier is None else b.outspoken_multiplier for b in behaviours]
        )
        self.dissent = scenario.dissent_index
        # An adviser lowers negative behaviours only.
        self.adviser_factor = np.where(self.negative, scenario.adaptation.adviser_effect, 1.0)

    def step(self, world: World, day: Day) -> None:
        """Fill ``day.committed`` and count commitments and unchilled dissent."""
        pop = world.population
        _commit(
            world.seed, day.t, self.streams, self.base_rate, self.outspoken_multiplier, self.dissent,
            self.adviser_factor,
            pop.emigrated, pop.frailty, pop.deterrence, pop.advised, pop.outspoken, pop.chill,
            day.committed, day.committed_count, day.unchilled,
        )  # fmt: skip


@nb.njit(inline="always", cache=True)
def _pick(flag, when_true, when_false):
    # flag·a + (1 − flag)·b is exact for flag in {0, 1}, and unlike a select it vectorises.
    return flag * when_true + (1 - flag) * when_false


@nb.njit(inline="always", cache=True)
def _unchilled_probability(rate, frailty, deterrence, adviser_factor, outspoken_factor):
    # A factor that does not apply is exactly 1.0, so this equals MODEL.md §3's steps.
    # Deterrence of a non-negative behaviour is always 1.
    return rate * np.float64(frailty) * np.float64(deterrence) * adviser_factor * outspoken_factor


@nb.njit(parallel=True, cache=True)
def _commit(
    seed, t, streams, base_rate, outspoken_multiplier, dissent, adviser_effect,
    emigrated, frailty, deterrence, advised, outspoken, chill,
    committed, counts, unchilled,
):  # fmt: skip
    # Behaviour-major loops over one chunk with no branch on agent data, so that LLVM
    # vectorises the Philox rounds across agents; the chunk's flags stay in cache
    # between behaviours. Emigrants draw too and are masked out.
    n_behaviours, n = frailty.shape
    for c in nb.prange(counts.shape[0]):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        # The chunk's masks are built in a fresh local buffer: stores into it cannot alias
        # the inputs, which is what lets the draw loop vectorise.
        masks = np.zeros(hi - lo, dtype=np.uint64)
        for b in range(n_behaviours):
            rate, stream, multiplier, adviser = base_rate[b], streams[b], outspoken_multiplier[b], adviser_effect[b]
            chilled = 1 if b == dissent else 0
            shift = np.uint64(b)
            count = 0
            for i in range(lo, hi):
                p = _unchilled_probability(
                    rate, frailty[b, i], deterrence[b, i], _pick(advised[i], adviser, 1.0),
                    _pick(outspoken[i], multiplier, 1.0),
                )  # fmt: skip
                p *= _pick(chilled, chill[i], 1.0)
                hit = (not emigrated[i]) & (uniform(seed, stream, t, i, 0) < min(p, 1.0))
                masks[i - lo] |= np.uint64(hit) << shift
                count += hit
            counts[c, b] = count
        for i in range(lo, hi):
            committed[i] = masks[i - lo]
        total = 0.0
        if dissent >= 0:
            b = dissent
            for i in range(lo, hi):
                if not emigrated[i]:
                    p = _unchilled_probability(
                        base_rate[b], frailty[b, i], deterrence[b, i], adviser_effect[b] if advised[i] else 1.0,
                        outspoken_multiplier[b] if outspoken[i] else 1.0,
                    )  # fmt: skip
                    total += min(p, 1.0)
        unchilled[c] = total
