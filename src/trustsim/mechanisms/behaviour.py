"""Phase A — behaviour (docs/model.md §3).

Every alive agent may commit each behaviour once a day, when ``U < p`` with ``p`` its
base rate times frailty, its age band's factor (§14), deterrence and adviser effect
(negative behaviours), outspoken multiplier and chill (dissent), capped at 1. ``U`` for
the behaviour in position ``b`` of the scenario is lane ``b mod 4`` of the Philox block
``(i, t, b div 4)`` of stream ``beh`` (docs/model.md §9): one block serves four
behaviours. With ages, everybody in the country is a year older from days 365, 730 … on.

The rule is :func:`unchilled_probability`, :func:`probability` and :func:`commits`
(and :func:`dissent_unchilled` for the metric of the chilling effect); the CPU driver
below and the GPU kernel (:mod:`trustsim.gpu.behaviour`) both call it. The CPU driver
first rules out the words at or above :func:`could_commit`'s ceiling, which ``p`` never
exceeds, so it computes ``p`` for few agents and commits exactly the same ones.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.day import CHUNK, Day, lowest_bit
from trustsim.households import YEAR, advance_ages, age_band, band_minimums
from trustsim.population import ADVISED, OUTSPOKEN, Population, frailty_of, gap_of, is_set
from trustsim.rng import LANES, block_words, lane_uniform, stream_id
from trustsim.scalar import lesser, pick
from trustsim.scenario import Scenario
from trustsim.world import World


class BehaviourParams(NamedTuple):
    """Phase A's parameters, one entry per behaviour in scenario order."""

    stream: int  # id of the stream beh (behaviour b: lane b mod 4 of the block of slot b div 4)
    blocks: int  # Philox blocks an agent's day takes: one per four behaviours
    base_rate: np.ndarray  # float64: daily probability before the factors
    negative: np.ndarray  # bool: points below 0, so deterred and lowered by an adviser
    outspoken_multiplier: np.ndarray  # float64: 1 for a behaviour without one
    dissent: int  # the behaviour subject to chill, or -1
    adviser_effect: float
    age_multiplier: np.ndarray  # float64 (B, bands): the factor of each age band (1 without one)
    age_factor: np.ndarray  # bool (B,): whether the behaviour has an age multiplier
    band_minimums: np.ndarray  # int64 (bands,): each age band's min_age (one band from 0 without ages)
    aged: bool  # whether agents have ages, which advance every 365 days
    ceiling: np.ndarray  # float64 (B, 3): the factors of ``p`` that may exceed 1, at their largest (could_commit)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> BehaviourParams:
        """The parameters of ``scenario``."""
        behaviours = scenario.behaviours
        return cls(
            stream=stream_id("beh"),
            blocks=-(-len(behaviours) // LANES),
            base_rate=np.array([b.base_rate for b in behaviours.values()], dtype=np.float64),
            negative=np.array(scenario.negative, dtype=np.bool_),
            outspoken_multiplier=np.array(
                [1.0 if b.outspoken_multiplier is None else b.outspoken_multiplier for b in behaviours.values()]
            ),
            dissent=scenario.dissent_index,
            adviser_effect=float(scenario.adaptation.adviser_effect),
            age_multiplier=age_multipliers(scenario),
            age_factor=np.array([b.age_multiplier is not None for b in behaviours.values()], dtype=np.bool_),
            band_minimums=band_minimums(scenario),
            aged=scenario.ages is not None,
            ceiling=ceilings(scenario),
        )


def ceilings(scenario: Scenario) -> np.ndarray:
    """Per behaviour, the largest age factor, adviser factor and outspoken factor ``p`` can take, each at least 1
    (row ``b``: the factors of :func:`unchilled_probability` in its order; see :func:`could_commit`)."""
    adviser = max(float(scenario.adaptation.adviser_effect), 1.0)
    rows = []
    for b, behaviour in enumerate(scenario.behaviours.values()):
        age = max(behaviour.age_multiplier) if behaviour.age_multiplier is not None else 1.0
        outspoken = behaviour.outspoken_multiplier if behaviour.outspoken_multiplier is not None else 1.0
        rows.append([max(age, 1.0), adviser if scenario.negative[b] else 1.0, max(outspoken, 1.0)])
    return np.array(rows, dtype=np.float64).reshape(len(scenario.behaviours), 3)


def age_multipliers(scenario: Scenario) -> np.ndarray:
    """Each behaviour's factor per age band (docs/model.md §14): its ``age_multiplier``, or 1 in every band."""
    bands = band_minimums(scenario).shape[0]
    return np.array(
        [b.age_multiplier if b.age_multiplier is not None else [1.0] * bands for b in scenario.behaviours.values()],
        dtype=np.float64,
    ).reshape(len(scenario.behaviours), bands)


# ---------------------------------------------------------------------------------- the rule


@nb.njit(inline="always", cache=True)
def unchilled_probability(
    params: BehaviourParams, b: int, frailty: float, band: int, deterrence_gap: np.uint16, advised: bool,
    outspoken: bool,
) -> float:  # fmt: skip
    """``p`` of behaviour ``b`` before chill and before the cap at 1 (docs/model.md §3); ``band``: the agent's age
    band (:func:`trustsim.households.age_band`), for the age factor of §14; ``deterrence_gap``: the code of 1 − its
    deterrence of ``b`` (:func:`trustsim.population.gap_of`), read for a negative behaviour only."""
    negative = params.negative[b]
    p = params.base_rate[b] * np.float64(frailty)
    if params.age_factor[b]:  # a factor of 1 changes nothing: the loops without one skip it
        p *= params.age_multiplier[b, band]
    if negative:  # the same for every agent of a loop over one behaviour: the loop is split, not branched
        p *= 1.0 - gap_of(deterrence_gap)
    p *= pick(negative & advised, params.adviser_effect, 1.0)
    p *= pick(outspoken, params.outspoken_multiplier[b], 1.0)
    return p


@nb.njit(inline="always", cache=True)
def could_commit(params: BehaviourParams, b: int, frailty: float, word: np.uint32) -> bool:
    """False only if the agent surely does not commit behaviour ``b`` today, whatever its other attributes.

    ``p`` is ``base_rate · frailty`` times factors in a fixed order; the ceiling takes the
    same products with every factor at its largest, or 1 for the factors that never
    exceed it (1 − deterrence, chill, the cap). Rounded products are monotone, so ``p``
    never exceeds the ceiling, bit for bit, and a word at or above the ceiling cannot
    commit: the drivers compute ``p`` only for the few words below it.
    """
    ceiling = params.base_rate[b] * np.float64(frailty)
    for f in range(3):
        ceiling *= params.ceiling[b, f]
    return lane_uniform(word) < ceiling


@nb.njit(inline="always", cache=True)
def chill_of(chill_gap: np.uint16) -> float:
    """The agent's chill from the stored code of its ``1 − chill`` (see ``adaptation.chilled_gap``)."""
    return 1.0 - gap_of(chill_gap)


@nb.njit(inline="always", cache=True)
def probability(params: BehaviourParams, b: int, unchilled: float, chill: float) -> float:
    """``p`` of behaviour ``b``: the unchilled probability, times chill for dissent, capped at 1."""
    return lesser(unchilled * pick(b == params.dissent, chill, 1.0), 1.0)


@nb.njit(inline="always", cache=True)
def dissent_unchilled(params: BehaviourParams, b: int, unchilled: float) -> float:
    """Behaviour ``b``'s part of ``dissent_unchilled`` (docs/model.md §10): for dissent, its probability at chill 1."""
    return probability(params, b, unchilled, 1.0) if b == params.dissent else 0.0


@nb.njit(inline="always", cache=True)
def plain(params: BehaviourParams, b: int) -> bool:
    """Whether behaviour ``b``'s ``p`` depends on the agent only through frailty, deterrence and advice: not
    dissent, no outspoken multiplier, no age factor (the drawing loops then skip the other arrays)."""
    return b != params.dissent and params.outspoken_multiplier[b] == 1.0 and not params.age_factor[b]


@nb.njit(inline="always", cache=True)
def draws(params: BehaviourParams, seed: int, t: int, i: int, block: int) -> tuple[np.uint32, np.uint32, np.uint32,
                                                                                   np.uint32]:  # fmt: skip
    """Agent ``i``'s words for behaviours ``4·block`` … ``4·block + 3`` on day ``t`` (one Philox block)."""
    return block_words(seed, params.stream, t, i, block)


@nb.njit(inline="always", cache=True)
def commits(word: np.uint32, p: float) -> bool:
    """Whether the agent commits a behaviour whose word today (from :func:`draws`) is ``word``, with
    probability ``p``."""
    return lane_uniform(word) < p


# ---------------------------------------------------------------------------------- the CPU driver


class BehaviourPhase:
    """Draws today's behaviour of every alive agent."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = BehaviourParams.from_scenario(scenario)

    def step(self, world: World, day: Day) -> None:
        """Ages advance (days 365, 730 …); fill ``outcomes.committed``; tally commitments and unchilled dissent."""
        if birthday(self.params, day.t):
            advance_ages(world.population.age, world.population.emigrated)
        _commit(world.seed, day.t, self.params, world.population, day.outcomes.committed,
                day.tallies.committed, day.tallies.unchilled)  # fmt: skip


def birthday(params: BehaviourParams, t: int) -> bool:
    """Whether day ``t`` starts a new year of age (day 365, 730 …), before anybody acts on it."""
    return params.aged and t > 0 and t % YEAR == 0


@nb.njit(parallel=True, cache=True)
def _commit(
    seed: int, t: int, params: BehaviourParams, pop: Population, committed: np.ndarray, counts: np.ndarray,
    unchilled: np.ndarray,
) -> None:  # fmt: skip
    # First the chunk's Philox blocks, one per agent and four behaviours, their words kept in
    # a local buffer (a loop of nothing but Philox rounds, which LLVM vectorises across
    # agents); then behaviour-major loops. Each first marks, 64 agents at a time, the
    # words below the behaviour's ceiling (could_commit: a vectorised loop of selects
    # that reads only frailty), then computes p for those few (a few percent of the
    # words at china_scs's rates), which cut phase A by a quarter. Emigrants draw too and
    # are masked out. A behaviour with no outspoken multiplier, age factor or chill
    # takes a loop that does not read those arrays: it passes the rule False and 1.0,
    # factors that are exactly 1.0, so p is the same bit for bit.
    #
    # The draws of 64 agents are collected as bits of one word held in a register and
    # only then stored. Storing every agent's outcome inside the loop made it up to 3x
    # slower on some runs: whenever the store buffer's addresses matched the rows being
    # loaded in their low 12 bits (4K aliasing), every load waited for an earlier store.
    emigrated, adapted, traits, chill_gap, age = pop.emigrated, pop.adapted, pop.traits, pop.chill_gap, pop.age
    n_behaviours, n = pop.frailty.shape
    for c in nb.prange(counts.shape[0]):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        n_words = (hi - lo + 63) // 64
        # Local buffers cannot alias the inputs, which is what lets the loops vectorise.
        words = np.empty((params.blocks, LANES, hi - lo), dtype=np.uint32)
        for block in range(params.blocks):
            _draw_blocks(seed, t, params, block, lo, hi, words[block])
        hits = np.empty((n_behaviours, n_words), dtype=np.uint64)
        # The agents' age bands, once a chunk (all 0 without ages): reading ages in the drawing
        # loops stopped them vectorising.
        bands = np.zeros(hi - lo, dtype=np.int64)
        if params.aged:
            for i in range(lo, hi):
                bands[i - lo] = age_band(params.band_minimums, age[i])
        total = 0.0
        for b in range(n_behaviours):
            frailty, gap, drawn_words = pop.frailty[b], pop.deterrence_gap[b], words[b // LANES, b % LANES]
            count = 0
            if plain(params, b):
                for w in range(n_words):
                    first, last = lo + 64 * w, min(hi, lo + 64 * w + 64)
                    hits[b, w], drawn = _plain_word(params, b, first, last, drawn_words[first - lo :], frailty,
                                                    gap, adapted, emigrated)  # fmt: skip
                    count += drawn
            else:
                for w in range(n_words):
                    first, last = lo + 64 * w, min(hi, lo + 64 * w + 64)
                    hits[b, w], drawn = _full_word(params, b, first, last, drawn_words[first - lo :], frailty,
                                                   bands[first - lo :], gap, adapted, emigrated, traits,
                                                   chill_gap)  # fmt: skip
                    count += drawn
            if b == params.dissent:  # a float sum inside the drawing loop would stop it vectorising
                total += _unchilled_sum(params, b, frailty[lo:hi], bands, gap[lo:hi], adapted[lo:hi],
                                        traits[lo:hi], emigrated[lo:hi])  # fmt: skip
            counts[c, b] = count
        unchilled[c] = total
        _masks_from_hits(hits, lo, hi, committed)


@nb.njit(inline="always", cache=True)
def _unchilled_sum(params, b, frailty, bands, gap, adapted, traits, emigrated):
    # The chunk's unchilled probability of dissent b, summed over its alive agents in id order
    # (every array a slice of the chunk's agents, as in _candidates).
    total = 0.0
    for j in range(frailty.shape[0]):
        p = unchilled_probability(params, b, frailty_of(frailty[j]), bands[j], gap[j], is_set(adapted[j], ADVISED),
                                  is_set(traits[j], OUTSPOKEN))  # fmt: skip
        total += pick(emigrated[j], 0.0, dissent_unchilled(params, b, p))
    return total


@nb.njit(inline="always", cache=True)
def _draw_blocks(seed, t, params, block, lo, hi, words):
    # Row j of words, column i − lo: agent i's word for behaviour LANES·block + j today.
    for j in range(hi - lo):
        w0, w1, w2, w3 = draws(params, seed, t, lo + j, block)
        words[0, j], words[1, j], words[2, j], words[3, j] = w0, w1, w2, w3


@nb.njit(inline="always", cache=True)
def _candidates(params, b, first, last, words, frailty, emigrated):
    # Bit i − first: whether alive agent i could commit behaviour b (words[i − first]: its word for b).
    # The loop indexes slices that start at first: indices that are provably not negative need
    # no wrap-around (an index lo + j, lo an argument, made this loop 2.7x slower).
    word = np.uint64(0)
    frailty, emigrated = frailty[first:last], emigrated[first:last]
    for j in range(last - first):
        hit = (not emigrated[j]) & could_commit(params, b, frailty_of(frailty[j]), words[j])
        word |= np.uint64(hit) << np.uint64(j)
    return word


@nb.njit(inline="always", cache=True)
def _plain_word(params, b, first, last, words, frailty, gap, adapted, emigrated):
    # Agents first..last-1 for a behaviour without outspoken multiplier, age factor or chill
    # (words[i − first]: agent i's word for it): bit i − first of the word is whether agent i
    # commits it; also returns how many do. p is computed only for the candidates.
    candidates = _candidates(params, b, first, last, words, frailty, emigrated)
    word = np.uint64(0)
    count = 0
    while candidates:
        j = lowest_bit(candidates)
        candidates &= candidates - np.uint64(1)
        i = first + j
        advised = is_set(adapted[i], ADVISED)
        unchilled = unchilled_probability(params, b, frailty_of(frailty[i]), 0, gap[i], advised, False)
        if commits(words[j], probability(params, b, unchilled, 1.0)):
            word |= np.uint64(1) << np.uint64(j)
            count += 1
    return word, count


@nb.njit(inline="always", cache=True)
def _full_word(params, b, first, last, words, frailty, bands, gap, adapted, emigrated, traits, chill_gap):
    # As _plain_word, with the outspoken multiplier, the age factor (bands[i - first]: agent i's
    # age band) and (for dissent) the chill.
    candidates = _candidates(params, b, first, last, words, frailty, emigrated)
    word = np.uint64(0)
    count = 0
    while candidates:
        j = lowest_bit(candidates)
        candidates &= candidates - np.uint64(1)
        i = first + j
        unchilled = unchilled_probability(params, b, frailty_of(frailty[i]), bands[j], gap[i],
                                          is_set(adapted[i], ADVISED), is_set(traits[i], OUTSPOKEN))  # fmt: skip
        if commits(words[j], probability(params, b, unchilled, chill_of(chill_gap[i]))):
            word |= np.uint64(1) << np.uint64(j)
            count += 1
    return word, count


@nb.njit(inline="always", cache=True)
def _masks_from_hits(hits: np.ndarray, lo: int, hi: int, committed: np.ndarray) -> None:
    # Bit (i − lo) mod 64 of word (i − lo) // 64 of row b is whether agent i committed b.
    kind = committed.dtype.type
    masks = np.zeros(hi - lo, dtype=committed.dtype)
    for b in range(hits.shape[0]):
        row = hits[b]
        for j in range(hi - lo):
            masks[j] |= kind((row[j >> 6] >> np.uint64(j & 63)) & np.uint64(1)) << kind(b)
    committed[lo:hi] = masks
