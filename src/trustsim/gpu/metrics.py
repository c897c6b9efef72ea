"""The daily metrics row on the GPU: the state reduced on the device, the row built by :class:`Metrics`.

Only counters come back to the host each day (a few kilobytes): the per-lane event
counts, the state counts in the layout of :func:`trustsim.metrics.state_count_columns`,
two floating-point sums and the histograms of the percentile search. The row is then
built by the same :class:`~trustsim.metrics.Metrics` code as on the CPU.

**Percentiles** are exact order statistics, found by a radix select on the scores'
order-preserving 64-bit keys (:func:`trustsim.quantiles.order_key`): the smallest and
largest alive keys give the bits every score shares; each pass then counts, for each
wanted rank, the keys that match what is known of it in the next 8 bits, until the
rank's key is known to the last bit. numpy's linear interpolation between the order
statistics is then done on the host, by the CPU's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.day import WRONGLY_SANCTIONED
from trustsim.errors import ScenarioError
from trustsim.gpu.common import (
    BLOCK_COUNTERS,
    LANES,
    THREADS,
    add_block_counters,
    block_sum,
    blocks,
    clear_block_counters,
    lane,
    shared,
    sum_partials,
)
from trustsim.gpu.state import DeviceDay, DeviceWorld, zero
from trustsim.mechanisms.sanctions import tier_index
from trustsim.metrics import (
    COUNT_ADVISED,
    COUNT_ALIVE,
    COUNT_DEGREE_LISTED,
    COUNT_DEGREE_OTHERS,
    COUNT_EVER,
    COUNT_EVER_WRONGLY,
    COUNT_FIXED,
    COUNT_ISOLATED,
    COUNT_LISTED,
    COUNT_OFF_GRID,
    COUNT_WRONGLY,
    PERCENTILES,
    Metrics,
    state_count_columns,
)
from trustsim.quantiles import interpolate, order_key, value_of_key

_tier_index = shared(tier_index)
_DIGIT_BITS = 8
_DIGITS = 1 << _DIGIT_BITS
_MAX_RANKS = 2 * len(PERCENTILES)  # the order statistics below and above each percentile


@dataclass
class _HostCounts:
    """The day's event counters copied to the host, as :meth:`Metrics._events` reads them."""

    committed_count: np.ndarray
    observed_count: np.ndarray
    misattributed_count: np.ndarray
    caught_count: np.ndarray
    penalised_count: np.ndarray
    denials_count: np.ndarray
    listing_count: np.ndarray
    unchilled: np.ndarray
    alive_start_count: int
    review_backlog: float


class DeviceMetrics(Metrics):
    """:class:`Metrics` fed by reductions on the device."""

    def __init__(self, scenario: Any, days: int) -> None:
        super().__init__(scenario, days)
        self.device_tier_bounds = cuda.to_device(self.tier_bounds)
        self.device_sanction_bounds = cuda.to_device(self.sanction_bounds)
        self.columns = state_count_columns(self.tier_bounds.shape[0] + 1, self.sanction_bounds.shape[0] + 1)
        require_countable(scenario)
        self.counts = cuda.to_device(np.zeros((LANES, self.columns + 1), dtype=np.int64))  # + active degree

    def _events(self, day: DeviceDay) -> dict[str, float]:  # type: ignore[override]
        host = _HostCounts(
            committed_count=day.committed_count.copy_to_host(),
            observed_count=day.observed_count.copy_to_host(),
            misattributed_count=day.misattributed_count.copy_to_host(),
            caught_count=day.caught_count.copy_to_host(),
            penalised_count=day.penalised_count.copy_to_host(),
            denials_count=day.denials_count.copy_to_host(),
            listing_count=day.listing_count.copy_to_host(),
            unchilled=day.sums[0:1].copy_to_host(),
            alive_start_count=day.alive_start_count,
            review_backlog=day.review_backlog,
        )
        return super()._events(host)  # type: ignore[arg-type]

    def _state(self, world: DeviceWorld, day: DeviceDay) -> dict[str, float]:  # type: ignore[override]
        pop = world.population
        zero(self.counts)
        n = world.n_agents
        _state_counts[blocks(n), THREADS](
            pop.emigrated, pop.score, pop.blacklisted, day.status, pop.ever_sanctioned, pop.ever_wrongly_sanctioned,
            pop.off_grid, pop.advised, world.degree, self.device_tier_bounds, self.device_sanction_bounds,
            self.counts, day.partial,
        )  # fmt: skip
        sum_partials[1, THREADS](day.partial, day.sums, 1)
        total = self.counts.copy_to_host().sum(axis=0)
        score_sum = float(day.sums[1:2].copy_to_host()[0])
        alive = int(total[COUNT_ALIVE])
        score_percentiles = device_percentiles(pop.score, pop.emigrated, alive, PERCENTILES)
        row = self.state_row(total[: self.columns], score_sum, score_percentiles, n)
        row["active_edges"] = int(total[self.columns]) // 2
        return row


def require_countable(scenario: Any) -> None:
    """Refuse a scenario whose state counts do not fit a block's shared counters (:data:`BLOCK_COUNTERS`)."""
    n_tiers = len(scenario.tiers)
    n_bounds = len({s.applies_below for s in scenario.sanctions.values() if s.applies_below is not None})
    columns = state_count_columns(n_tiers, n_bounds + 1) + 1
    if columns > BLOCK_COUNTERS:
        room = BLOCK_COUNTERS - state_count_columns(0, 1) - 1
        raise ScenarioError([
            f"tiers, sanctions: the GPU backend counts tiers + 2 × distinct sanction score bounds up to {room} "
            f"(this scenario: {n_tiers} + 2 × {n_bounds}); use --backend cpu"
        ])  # fmt: skip


@cuda.jit
def _state_counts(
    emigrated: Any, score: Any, blacklisted: Any, status: Any, ever_sanctioned: Any, ever_wrongly_sanctioned: Any,
    off_grid: Any, advised: Any, degree: Any, bounds: Any, sanction_bounds: Any, counts: Any, partial: Any,
) -> None:  # fmt: skip
    local = cuda.shared.array(BLOCK_COUNTERS, numba.int64)
    columns = counts.shape[1]  # the state counts, then the active degree
    clear_block_counters(local, columns)
    i = cuda.grid(1)
    s = 0.0
    if i < score.shape[0]:
        cuda.atomic.add(local, columns - 1, degree[i])
        if not emigrated[i]:
            s = score[i]
            n_tiers = bounds.shape[0] + 1
            n_positions = sanction_bounds.shape[0] + 1
            cuda.atomic.add(local, COUNT_ALIVE, 1)
            if blacklisted[i]:
                cuda.atomic.add(local, COUNT_LISTED, 1)
                cuda.atomic.add(local, COUNT_DEGREE_LISTED, degree[i])
            else:
                cuda.atomic.add(local, COUNT_DEGREE_OTHERS, degree[i])
            if status[i] & WRONGLY_SANCTIONED:
                cuda.atomic.add(local, COUNT_WRONGLY, 1)
            if ever_sanctioned[i]:
                cuda.atomic.add(local, COUNT_EVER, 1)
            if ever_wrongly_sanctioned[i]:
                cuda.atomic.add(local, COUNT_EVER_WRONGLY, 1)
            if off_grid[i]:
                cuda.atomic.add(local, COUNT_OFF_GRID, 1)
            if advised[i]:
                cuda.atomic.add(local, COUNT_ADVISED, 1)
            if degree[i] == 0:
                cuda.atomic.add(local, COUNT_ISOLATED, 1)
            cuda.atomic.add(local, COUNT_FIXED + _tier_index(s, bounds), 1)
            position = _tier_index(s, sanction_bounds)
            cuda.atomic.add(local, COUNT_FIXED + n_tiers + position, 1)
            if blacklisted[i]:
                cuda.atomic.add(local, COUNT_FIXED + n_tiers + n_positions + position, 1)
    add_block_counters(local, counts, columns, 0)
    block_sum(s, partial)


def device_percentiles(score: Any, emigrated: Any, n: int, q: tuple[float, ...]) -> list[float]:
    """``np.percentile(score[~emigrated], q)`` (linear method) of a device array; ``n`` alive agents."""
    if n == 0:
        return [math.nan] * len(q)
    virtual = [(n - 1) * (x / 100) for x in q]
    ranks = sorted({r for v in virtual for r in (math.floor(v), min(math.floor(v) + 1, n - 1))})
    bits = score.view(np.uint64)
    extremes = cuda.to_device(np.array([np.iinfo(np.uint64).max, 0], dtype=np.uint64))
    _key_extremes[blocks(score.shape[0]), THREADS](bits, emigrated, extremes)
    low, high = (int(k) for k in extremes.copy_to_host())
    keys = []
    for first in range(0, len(ranks), _MAX_RANKS):  # the histogram kernel holds _MAX_RANKS ranks at a time
        keys += _select(bits, emigrated, ranks[first : first + _MAX_RANKS], low, high)
    stats = {rank: value_of_key(np.uint64(key)) for rank, key in zip(ranks, keys, strict=True)}
    return [interpolate(stats, v) for v in virtual]


def _select(bits: Any, emigrated: Any, ranks: list[int], low: int, high: int) -> list[int]:
    """The keys of the given ranks among the alive agents' keys, which lie in ``[low, high]``."""
    differing = (low ^ high).bit_length()  # bits below this may differ; those above are shared
    prefixes = [low >> differing << differing if differing < 64 else 0 for _ in ranks]
    remaining = list(ranks)
    shift = max(0, math.ceil(differing / _DIGIT_BITS) * _DIGIT_BITS - _DIGIT_BITS)
    histogram = cuda.device_array((LANES, len(ranks), _DIGITS), dtype=np.int64)
    while differing > 0:
        above = ((1 << 64) - 1) ^ ((1 << (shift + _DIGIT_BITS)) - 1) if shift + _DIGIT_BITS < 64 else 0
        zero(histogram)
        known = cuda.to_device(np.array([p & above for p in prefixes], dtype=np.uint64))
        _digit_histogram[blocks(bits.shape[0]), THREADS](bits, emigrated, known, np.uint64(above), shift, histogram)
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
def _key_extremes(bits: Any, emigrated: Any, extremes: Any) -> None:
    i = cuda.grid(1)
    if i < bits.shape[0] and not emigrated[i]:
        key = order_key(bits[i])
        cuda.atomic.min(extremes, 0, key)
        cuda.atomic.max(extremes, 1, key)


@cuda.jit
def _digit_histogram(bits: Any, emigrated: Any, prefixes: Any, above: Any, shift: int, histogram: Any) -> None:
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
        key = order_key(bits[i])
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
