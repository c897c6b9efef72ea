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
    #
    # The draws of 64 agents are collected as bits of one word held in a register and
    # only then stored. Storing every agent's outcome inside the loop made it up to 3x
    # slower on some runs: whenever the store buffer's addresses matched the rows being
    # loaded in their low 12 bits (4K aliasing), every load waited for an earlier store.
    n_behaviours, n = frailty.shape
    for c in nb.prange(counts.shape[0]):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        n_words = (hi - lo + 63) // 64
        # Local buffers cannot alias the inputs, which is what lets the loops vectorise.
        hits = np.empty((n_behaviours, n_words), dtype=np.uint64)
        ones = np.ones(hi - lo)
        advised_factor = np.empty(hi - lo)  # an adviser lowers negative behaviours only
        for i in range(lo, hi):
            advised_factor[i - lo] = adviser_effect if advised[i] else 1.0
        total = 0.0
        for b in range(n_behaviours):
            rate, stream, multiplier = base_rate[b], streams[b], outspoken_multiplier[b]
            factor = advised_factor if negative[b] else ones
            count = 0
            chilled = b == dissent
            frailty_b, deterrence_b = frailty[b], deterrence[b]
            if not chilled and multiplier == 1.0:
                for w in range(n_words):
                    first, last = lo + 64 * w, min(hi, lo + 64 * w + 64)
                    hits[b, w], drawn = _plain_word(
                        seed, stream, t, rate, first, last, lo, frailty_b, deterrence_b, factor, emigrated
                    )
                    count += drawn
            else:
                for w in range(n_words):
                    first, last = lo + 64 * w, min(hi, lo + 64 * w + 64)
                    hits[b, w], drawn = _full_word(
                        seed, stream, t, rate, multiplier, chilled, first, last, lo,
                        frailty_b, deterrence_b, factor, emigrated, outspoken, chill,
                    )  # fmt: skip
                    count += drawn
            if chilled:
                # A separate loop: a float sum inside the drawing loop would stop it vectorising.
                for i in range(lo, hi):
                    p = _unchilled_probability(
                        rate, frailty_b[i], deterrence_b[i], factor[i - lo], _pick(outspoken[i], multiplier, 1.0)
                    )
                    total += _pick(emigrated[i], 0.0, min(p, 1.0))
            counts[c, b] = count
        unchilled[c] = total
        _masks_from_hits(hits, lo, hi, committed)


@nb.njit(inline="always", cache=True)
def _plain_word(seed, stream, t, rate, first, last, lo, frailty, deterrence, factor, emigrated):
    # Agents first..last-1 for a behaviour without outspoken multiplier or chill: bit
    # i − first of the word is whether agent i commits it; also returns how many do.
    word = np.uint64(0)
    count = 0
    for i in range(first, last):
        p = rate * np.float64(frailty[i]) * deterrence[i] * factor[i - lo]
        hit = (not emigrated[i]) & (uniform(seed, stream, t, i, 0) < min(p, 1.0))
        word |= np.uint64(hit) << np.uint64(i - first)
        count += hit
    return word, count


@nb.njit(inline="always", cache=True)
def _full_word(
    seed, stream, t, rate, multiplier, chilled, first, last, lo,
    frailty, deterrence, factor, emigrated, outspoken, chill,
):  # fmt: skip
    # As _plain_word, with the outspoken multiplier and (for dissent) the chill.
    word = np.uint64(0)
    count = 0
    chill_applies = 1 if chilled else 0
    for i in range(first, last):
        outspoken_factor = _pick(outspoken[i], multiplier, 1.0)
        p = _unchilled_probability(rate, frailty[i], deterrence[i], factor[i - lo], outspoken_factor)
        p *= _pick(chill_applies, chill[i], 1.0)
        hit = (not emigrated[i]) & (uniform(seed, stream, t, i, 0) < min(p, 1.0))
        word |= np.uint64(hit) << np.uint64(i - first)
        count += hit
    return word, count


@nb.njit(inline="always", cache=True)
def _masks_from_hits(hits, lo, hi, committed):
    # Bit (i − lo) mod 64 of word (i − lo) // 64 of row b is whether agent i committed b.
    kind = committed.dtype.type
    masks = np.zeros(hi - lo, dtype=committed.dtype)
    for b in range(hits.shape[0]):
        row = hits[b]
        for j in range(hi - lo):
            masks[j] |= kind((row[j >> 6] >> np.uint64(j & 63)) & np.uint64(1)) << kind(b)
    committed[lo:hi] = masks
