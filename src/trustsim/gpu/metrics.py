"""The daily metrics row on the GPU: the state reduced on the device, the row built by :class:`Metrics`.

Only counters come back to the host each day (a few kilobytes): the per-lane event
tallies, the state counts of :func:`trustsim.metrics.count_agent` (the CPU's rule), the
score sum and the histograms of the percentile search. The row is then built by the
same :class:`~trustsim.metrics.Metrics` code as on the CPU.

**Percentiles** are exact order statistics, found by a radix select on the scores'
order-preserving 64-bit keys (:func:`trustsim.quantiles.order_key`): the smallest and
largest alive keys give the bits every score shares; each pass then counts, for each
wanted rank, the keys that match what is known of it in the next 8 bits, until the
rank's key is known to the last bit. numpy's linear interpolation between the order
statistics is then done on the host, by the CPU's code.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.day import Day
from trustsim.errors import Problem, ScenarioError, Setting
from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    COUNTER_ROWS,
    THREADS,
    add_block_counters,
    block_sum,
    blocks,
    clear_block_counters,
    kernel,
    lane,
    sum_partials,
    to_device,
    zero,
)
from trustsim.gpu.state import DeviceWorld
from trustsim.metrics import (
    COUNT_ALIVE,
    PERCENTILES,
    Reduction,
    StateCounting,
    count_agent,
    count_household,
    state_count_columns,
)
from trustsim.quantiles import interpolate, key_bits, order_key, value_of_key

_DIGIT_BITS = 8
_DIGITS = 1 << _DIGIT_BITS
_CHILDREN_COUNTERS = BLOCK_COUNTERS // 2  # per sanction that affects children: barred, wrongly barred
_MAX_RANKS = 2 * len(PERCENTILES)  # the order statistics below and above each percentile


class DeviceReduction:
    """The GPU's :data:`trustsim.metrics.Reduce`: the state counted on the device, only counters copied back."""

    def __init__(self, scenario: Any, partial: Any) -> None:
        """``partial``: a device buffer of one float per block, for the ordered score sum."""
        require_countable(scenario)
        counting = StateCounting.from_scenario(scenario)
        self.counting = to_device(counting)
        self.counts = cuda.to_device(np.zeros((COUNTER_ROWS, counting.columns), dtype=np.int64))
        self.partial = partial
        self.score_sum = cuda.to_device(np.zeros(1, dtype=np.float64))
        self.children = cuda.to_device(np.zeros((COUNTER_ROWS, 2, counting.children_below.shape[0]), dtype=np.int64))

    def __call__(self, world: DeviceWorld, day: Day, counting: StateCounting) -> Reduction:
        """The day's reduction (``counting`` is the one this reduction was built with, on the device)."""
        pop = world.population
        zero(self.counts)
        _state_counts[blocks(world.n_agents), THREADS](self.counting, pop, day.outcomes.status, world.degree,
                                                       self.counts, self.partial)  # fmt: skip
        sum_partials[1, THREADS](self.partial, self.score_sum, 0)
        total = self.counts.copy_to_host().sum(axis=0)
        alive = int(total[COUNT_ALIVE])
        quantiles = device_percentiles(pop.score, pop.emigrated, alive, PERCENTILES)
        households = world.households
        zero(self.children)
        if self.children.shape[2] and world.host_households.n_households:
            n = world.host_households.n_households
            _children_counts[blocks(n), THREADS](self.counting, households, pop, self.children)
        children = self.children.copy_to_host().sum(axis=0)
        return Reduction(day.tallies.on_host(), total, float(self.score_sum.copy_to_host()[0]), quantiles, children)


def require_countable(scenario: Any) -> None:
    """Refuse a scenario whose state counts, or children counts, do not fit a block's shared counters
    (:data:`BLOCK_COUNTERS`)."""
    n_tiers = len(scenario.tiers)
    n_bounds = len({s.applies_below for s in scenario.sanctions.values() if s.applies_below is not None})
    if state_count_columns(n_tiers, n_bounds + 1) > BLOCK_COUNTERS:
        room = BLOCK_COUNTERS - state_count_columns(0, 1)
        raise ScenarioError([
            Problem(f"tiers, sanctions: the GPU backend counts tiers + 2 × distinct sanction score bounds up to "
                    f"{room} (this scenario: {n_tiers} + 2 × {n_bounds}); use {{0}}", (Setting("backend", "cpu"),))
        ])  # fmt: skip
    barring = sum(1 for s in scenario.sanctions.values() if s.affects_children)
    if barring > _CHILDREN_COUNTERS:
        raise ScenarioError([
            Problem(f"sanctions: the GPU backend counts the children of up to {_CHILDREN_COUNTERS} sanctions that "
                    f"affect children (this scenario: {barring}); use {{0}}", (Setting("backend", "cpu"),))
        ])  # fmt: skip


@kernel
def _state_counts(counting: Any, pop: Any, status: Any, degree: Any, counts: Any, partial: Any) -> None:
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    columns = counts.shape[1]
    clear_block_counters(local, columns)
    i = cuda.grid(1)
    s = 0.0
    if i < pop.score.shape[0] and not pop.emigrated[i]:
        s = np.float64(pop.score[i])
        count_agent(counting, i, pop, status, degree, local)
    add_block_counters(local, counts, columns, 0)
    block_sum(s, partial)


@kernel
def _children_counts(counting: Any, households: Any, pop: Any, counts: Any) -> None:
    n_barring = counting.children_below.shape[0]
    local = cuda.shared.array((2, _CHILDREN_COUNTERS), numba.int64)
    for k in range(cuda.threadIdx.x, n_barring, THREADS):
        local[0, k] = 0
        local[1, k] = 0
    cuda.syncthreads()
    h = cuda.grid(1)
    if h < households.children.shape[0]:
        count_household(counting, households, h, pop, local)
    cuda.syncthreads()
    row = lane()
    for k in range(cuda.threadIdx.x, n_barring, THREADS):
        for which in range(2):
            if local[which, k] != 0:
                cuda.atomic.add(counts, (row, which, k), local[which, k])


def device_percentiles(score: Any, emigrated: Any, n: int, q: tuple[float, ...]) -> list[float]:
    """``np.percentile(score[~emigrated], q)`` (linear method) of a device array; ``n`` alive agents."""
    if n == 0:
        return [math.nan] * len(q)
    virtual = [(n - 1) * (x / 100) for x in q]
    ranks = sorted({r for v in virtual for r in (math.floor(v), min(math.floor(v) + 1, n - 1))})
    bits, sign = key_bits(score)
    extremes = cuda.to_device(np.array([np.iinfo(np.uint64).max, 0], dtype=np.uint64))
    _key_extremes[blocks(score.shape[0]), THREADS](bits, sign, emigrated, extremes)
    low, high = (int(k) for k in extremes.copy_to_host())
    keys = []
    for first in range(0, len(ranks), _MAX_RANKS):  # the histogram kernel holds _MAX_RANKS ranks at a time
        keys += _select(bits, sign, emigrated, ranks[first : first + _MAX_RANKS], low, high)
    stats = {rank: value_of_key(np.uint64(key), score.dtype) for rank, key in zip(ranks, keys, strict=True)}
    return [interpolate(stats, v) for v in virtual]


def _select(bits: Any, sign: np.uint64, emigrated: Any, ranks: list[int], low: int, high: int) -> list[int]:
    """The keys of the given ranks among the alive agents' keys, which lie in ``[low, high]``."""
    differing = (low ^ high).bit_length()  # bits below this may differ; those above are shared
    prefixes = [low >> differing << differing if differing < 64 else 0 for _ in ranks]
    remaining = list(ranks)
    shift = max(0, math.ceil(differing / _DIGIT_BITS) * _DIGIT_BITS - _DIGIT_BITS)
    histogram = cuda.device_array((COUNTER_ROWS, len(ranks), _DIGITS), dtype=np.int64)
    while differing > 0:
        above = ((1 << 64) - 1) ^ ((1 << (shift + _DIGIT_BITS)) - 1) if shift + _DIGIT_BITS < 64 else 0
        zero(histogram)
        known = cuda.to_device(np.array([p & above for p in prefixes], dtype=np.uint64))
        _digit_histogram[blocks(bits.shape[0]), THREADS](bits, sign, emigrated, known, np.uint64(above), shift,
                                                          histogram)  # fmt: skip
        counts = histogram.copy_to_host().sum(axis=0)
        for k in range(len(ranks)):
            cumulative = np.cumsum(counts[k])
            digit = int(np.searchsorted(cumulative, remaining[k], side="right"))
            remaining[k] -= int(cumulative[digit - 1]) if digit > 0 else 0
            prefixes[k] |= digit << shift
        if shift == 0:
            break
        shift -= _DIGIT_BITS
    return prefixes


@cuda.jit
def _key_extremes(bits: Any, sign: Any, emigrated: Any, extremes: Any) -> None:
    i = cuda.grid(1)
    if i < bits.shape[0] and not emigrated[i]:
        key = order_key(np.uint64(bits[i]), sign)
        cuda.atomic.min(extremes, 0, key)
        cuda.atomic.max(extremes, 1, key)


@cuda.jit
def _digit_histogram(
    bits: Any, sign: Any, emigrated: Any, prefixes: Any, above: Any, shift: int, histogram: Any
) -> None:
    # Counted in shared memory per block, then one atomic per non-empty bin and block:
    # scores cluster (most agents share a few bins), so per-agent global atomics would queue.
    local = cuda.shared.array((_MAX_RANKS, _DIGITS), numba.int64)
    n_ranks = prefixes.shape[0]
    t = cuda.threadIdx.x
    for k in range(n_ranks):
        for d in range(t, _DIGITS, THREADS):
            local[k, d] = 0
    cuda.syncthreads()
    i = cuda.grid(1)
    if i < bits.shape[0] and not emigrated[i]:
        key = order_key(np.uint64(bits[i]), sign)
        digit = (key >> np.uint64(shift)) & np.uint64(_DIGITS - 1)
        for k in range(n_ranks):
            if key & above == prefixes[k]:
                cuda.atomic.add(local, (k, digit), 1)
    cuda.syncthreads()
    row = lane()
    for k in range(n_ranks):
        for d in range(t, _DIGITS, THREADS):
            if local[k, d] != 0:
                cuda.atomic.add(histogram, (row, k, d), local[k, d])
