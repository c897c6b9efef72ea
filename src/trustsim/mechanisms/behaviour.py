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
        self.adviser_effect = scenario.adaptation.adviser_effect

    def step(self, world: World, day: Day) -> None:
        """Fill ``day.committed`` and count commitments and unchilled dissent."""
        pop = world.population
        _commit(
            world.seed, day.t, self.streams, self.base_rate, self.negative, self.outspoken_multiplier,
            self.dissent, self.adviser_effect,
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
    return rate * np.float64(frailty) * deterrence * adviser_factor * outspoken_factor


@nb.njit(parallel=True, cache=True)
def _commit(
    seed, t, streams, base_rate, negative, outspoken_multiplier, dissent, adviser_effect,
    emigrated, frailty, deterrence, advised, outspoken, chill,
    committed, counts, unchilled,
):  # fmt: skip
    # Behaviour-major loops over one chunk whose per-agent choices are selects, not
    # branches, so that LLVM vectorises the Philox rounds across agents; the chunk's inputs stay in cache
    # between behaviours. Emigrants draw too and are masked out. Factors that do not
    # apply are 1.0, and multiplying by 1.0 is exact, so a behaviour without outspoken
    # multiplier or chill skips them and still computes MODEL.md §3's p bit for bit.
    n_behaviours, n = frailty.shape
    for c in nb.prange(counts.shape[0]):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        # Local buffers cannot alias the inputs, which is what lets the loops vectorise.
        masks = np.zeros(hi - lo, dtype=np.uint64)
        ones = np.ones(hi - lo)
        advised_factor = np.empty(hi - lo)  # an adviser lowers negative behaviours only
        for i in range(lo, hi):
            advised_factor[i - lo] = adviser_effect if advised[i] else 1.0
        total = 0.0
        for b in range(n_behaviours):
            rate, stream, multiplier = base_rate[b], streams[b], outspoken_multiplier[b]
            shift = np.uint64(b)
            factor = advised_factor if negative[b] else ones
            count = 0
            if b != dissent and multiplier == 1.0:
                for i in range(lo, hi):
                    p = rate * np.float64(frailty[b, i]) * deterrence[b, i] * factor[i - lo]
                    hit = (not emigrated[i]) & (uniform(seed, stream, t, i, 0) < min(p, 1.0))
                    masks[i - lo] |= np.uint64(hit) << shift
                    count += hit
            else:
                chilled = 1 if b == dissent else 0
                for i in range(lo, hi):
                    p = _unchilled_probability(
                        rate, frailty[b, i], deterrence[b, i], factor[i - lo], _pick(outspoken[i], multiplier, 1.0)
                    )
                    if chilled:
                        total += _pick(emigrated[i], 0.0, min(p, 1.0))
                    p *= _pick(chilled, chill[i], 1.0)
                    hit = (not emigrated[i]) & (uniform(seed, stream, t, i, 0) < min(p, 1.0))
                    masks[i - lo] |= np.uint64(hit) << shift
                    count += hit
            counts[c, b] = count
        unchilled[c] = total
        for i in range(lo, hi):
            committed[i] = masks[i - lo]
