"""Exact percentiles of the alive agents' scores, without sorting or copying them all.

The result equals ``np.percentile(values[~excluded], q)`` (numpy's ``linear``
method, reproduced operation for operation). Scores lie in a known range
``[low, high]`` (the scenario's score bounds), so one parallel pass counts them in
equal-width bins, the bins that hold the wanted order statistics are found from the
cumulative counts, and a second pass collects only the scores of those bins, which
are then partitioned. The bin of a score is a monotone function of it, so order
statistics are preserved; counts are integers, so the result is the same for any
number of threads.

A bin can hold most agents (on the first days nearly everybody has exactly the base
score). Such a bin is not collected: a radix select on the bits of its values (as
order-preserving unsigned keys, 12 bits per pass, starting below the bits its
smallest and largest values share) narrows it down to few values or to one. Values
may be double or single precision (the scores are single since issue 19): a key has
their width, held in a 64-bit integer.

Day after day (:class:`ScorePercentiles`), the order statistics are usually in the bins
where they were the day before, or next to them: the histogram's pass then also collects
those bins' values, and a second pass is needed only for a rank that moved further. The
result is the same either way.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

BINS = 16384
_GROUPS = 16  # independent histograms, one per group of agents, summed afterwards
_SMALL = 1 << 18  # up to this many values, partitioning a copy is quicker than the parallel passes
_COLLECT = 1 << 20  # a bin with more values than this is narrowed by radix select
_GATHER_SHARE = 32  # bins that held more than 1/32 of the values are not collected in the next day's first pass
_DIGIT = 12  # bits per radix pass
_NONE = np.uint64((1 << 64) - 1)  # above every key


def key_bits(values: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """The raw bits of float ``values`` as unsigned integers of their width, and the position of the sign bit."""
    if values.dtype == np.float64:
        return values.view(np.uint64), np.uint64(63)
    if values.dtype == np.float32:
        return values.view(np.uint32), np.uint64(31)
    raise TypeError(f"percentiles of float32 or float64 values only, not {values.dtype}")


def percentiles(values: np.ndarray, excluded: np.ndarray, q: tuple[float, ...], low: float, high: float) -> list[float]:
    """``np.percentile(values[~excluded], q)`` (linear method) for ``q`` in percent.

    Every included value must lie in ``[low, high]``.
    """
    return ScorePercentiles(q, low, high)(values, excluded)


class ScorePercentiles:
    """:func:`percentiles` of one quantity day after day (the alive agents' scores), each day's found faster
    where the day before's were: its bins, and :data:`NEARBY` bins either side of each, are collected in the
    histogram's pass, unless they held more than 1/32 of the values (then a second pass collecting only
    today's bins is quicker)."""

    def __init__(self, q: tuple[float, ...], low: float, high: float) -> None:
        """``q`` in percent; every included value must lie in ``[low, high]``."""
        self.q, self.low, self.high = q, low, high
        self.scale = BINS / (high - low) if high > low else 0.0
        self.likely = np.zeros(BINS, dtype=np.bool_)  # none before the first day

    def __call__(self, values: np.ndarray, excluded: np.ndarray) -> list[float]:
        """``np.percentile(values[~excluded], q)`` (linear method)."""
        q = self.q
        if values.shape[0] <= _SMALL:
            return _by_partition(values[~excluded], q)
        histograms, likely_values = _histogram(values, excluded, self.low, self.scale, self.likely)
        counts = histograms.sum(axis=0, dtype=np.int64)
        n = int(counts.sum())
        if n == 0:
            return [math.nan] * len(q)
        virtual = [(n - 1) * (x / 100) for x in q]
        ranks = sorted({r for v in virtual for r in (math.floor(v), min(math.floor(v) + 1, n - 1))})
        cumulative = np.cumsum(counts)
        bins = np.searchsorted(cumulative, np.array(ranks), side="right")
        before = np.concatenate(([0], cumulative))  # values in bins below each bin
        stats: dict[int, float] = {}
        small = [(r, int(b)) for r, b in zip(ranks, bins, strict=True) if counts[b] <= _COLLECT]
        at_hand = [(r, b) for r, b in small if self.likely[b]]
        stats |= _ranked(likely_values, counts, self.likely, before, at_hand)
        elsewhere = [(r, b) for r, b in small if not self.likely[b]]
        if elsewhere:
            bits, sign = key_bits(values)
            wanted = np.zeros(BINS, dtype=np.bool_)
            wanted[[b for _, b in elsewhere]] = True
            collected = _collect(values, bits, sign, excluded, self.low, self.scale, wanted, np.uint64(0), _NONE)
            stats |= _ranked(collected, counts, wanted, before, elsewhere)
        for b in sorted({int(b) for b in bins if counts[b] > _COLLECT}):
            crowded = [r for r, rb in zip(ranks, bins, strict=True) if rb == b]
            within = [r - int(before[b]) for r in crowded]
            stats |= dict(zip(crowded, _select_in_bin(values, excluded, self.low, self.scale, b, within), strict=True))
        self.likely[:] = False
        for _, b in small:
            self.likely[max(b - NEARBY, 0) : b + NEARBY + 1] = True
        if counts[self.likely].sum() > n // _GATHER_SHARE:  # that many are quicker collected by themselves
            self.likely[:] = False
        return [interpolate(stats, v) for v in virtual]


NEARBY = 1
"""Bins either side of yesterday's that :class:`ScorePercentiles` collects (the median moves about one bin a
day in ``china_scs``)."""


def _ranked(
    collected: np.ndarray, counts: np.ndarray, wanted: np.ndarray, before: np.ndarray, items: list[tuple[int, int]]
) -> dict[int, float]:
    """The order statistic of each ``(rank, bin)`` of ``items`` from ``collected``, every value of the ``wanted``
    bins (``before[b]``: how many values are in the bins below ``b``); ``collected`` is reordered."""
    if not items:
        return {}
    kept = np.where(wanted, counts, 0)
    kept_before = np.cumsum(kept) - kept  # collected values in wanted bins below each bin
    positions = [int(r - before[b] + kept_before[b]) for r, b in items]
    collected.partition(positions)
    return {r: float(collected[p]) for (r, _), p in zip(items, positions, strict=True)}


def _by_partition(work: np.ndarray, q: tuple[float, ...]) -> list[float]:
    """Percentiles of ``work`` (which it reorders) by partial partitions, highest rank first.

    The array is partitioned at the highest rank, then only the part below it at the
    next rank, and so on; the value just above a rank is the minimum of the part above.
    """
    n = work.shape[0]
    if n == 0:
        return [math.nan] * len(q)
    virtual = [(n - 1) * (x / 100) for x in q]
    stats: dict[int, float] = {}
    end = n
    for rank in sorted({math.floor(v) for v in virtual}, reverse=True):
        part = work[:end]
        part.partition(rank)
        stats[rank] = float(part[rank])
        stats[rank + 1] = float(work[rank + 1 :].min()) if rank + 1 < n else stats[rank]
        end = rank
    return [interpolate(stats, v) for v in virtual]


def interpolate(stats: dict[int, float], virtual: float) -> float:
    """numpy's ``linear`` percentile between the order statistics around ``virtual``, operation for operation."""
    below = math.floor(virtual)
    a, c, t = stats[below], stats.get(below + 1, stats[below]), virtual - below
    difference = c - a
    return c - difference * (1 - t) if t >= 0.5 else a + difference * t


@nb.njit(inline="always", cache=True)
def _bin(value: float, low: float, scale: float) -> int:
    return min(max(np.int64((value - low) * scale), 0), BINS - 1)


@nb.njit(parallel=True, cache=True)
def _histogram(
    values: np.ndarray, excluded: np.ndarray, low: float, scale: float, likely: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the included values by bin (one row per group), and the included values in ``likely`` bins in
    id order (as :func:`_collect` gathers them)."""
    n = values.shape[0]
    counts = np.zeros((_GROUPS, BINS), dtype=np.int32)
    step = (n + _GROUPS - 1) // _GROUPS
    found = np.zeros(_GROUPS, dtype=np.int64)
    gathering = likely.any()
    buffer = np.empty(n if gathering else 0, dtype=values.dtype)  # as in _collect: a stretch per group
    for g in nb.prange(_GROUPS):
        local = np.zeros(BINS, dtype=np.int32)
        k = g * step
        for i in range(g * step, min(n, (g + 1) * step)):
            if not excluded[i]:
                b = _bin(values[i], low, scale)
                local[b] += 1
                if gathering and likely[b]:
                    buffer[k] = values[i]
                    k += 1
        counts[g] = local
        found[g] = k - g * step
    return counts, _packed(buffer, found, step)


@nb.njit(inline="always", cache=True)
def _packed(buffer: np.ndarray, found: np.ndarray, step: int) -> np.ndarray:
    # The first found[g] entries of each group's stretch of buffer, together.
    out = np.empty(found.sum(), dtype=buffer.dtype)
    k = 0
    for g in range(found.shape[0]):
        out[k : k + found[g]] = buffer[g * step : g * step + found[g]]
        k += found[g]
    return out


@nb.njit(parallel=True, cache=True)
def _collect(
    values: np.ndarray, bits: np.ndarray, sign: np.uint64, excluded: np.ndarray, low: float, scale: float,
    wanted: np.ndarray, lowest: np.uint64, highest: np.uint64,
) -> np.ndarray:  # fmt: skip
    """The included values in a wanted bin whose keys lie in ``[lowest, highest]``, in id order."""
    n = values.shape[0]
    step = (n + _GROUPS - 1) // _GROUPS
    found = np.zeros(_GROUPS, dtype=np.int64)
    # One pass: each group fills its own stretch of a buffer as long as the input (the
    # operating system only backs the pages that are written), then the stretches are
    # packed together.
    buffer = np.empty(n, dtype=values.dtype)
    for g in nb.prange(_GROUPS):
        k = g * step
        for i in range(g * step, min(n, (g + 1) * step)):
            key = order_key(np.uint64(bits[i]), sign)
            if (not excluded[i]) and wanted[_bin(values[i], low, scale)] and lowest <= key and key <= highest:
                buffer[k] = values[i]
                k += 1
        found[g] = k - g * step
    return _packed(buffer, found, step)


def _select_in_bin(
    values: np.ndarray, excluded: np.ndarray, low: float, scale: float, b: int, ks: list[int]
) -> list[float]:
    """The ``k``-th smallest included values of bin ``b`` (0-based) for each ``k``, by radix select.

    Each pass histograms the next bits of the keys in one key range, with the smallest
    and largest key of every digit, so a range whose keys are all equal (an atom such
    as the base score) is recognised at once. Ranks that share a range share its passes.
    """
    bits, sign = key_bits(values)
    this_bin = np.zeros(BINS, dtype=np.bool_)
    this_bin[b] = True
    found: dict[int, float] = {}
    lowest, highest = _key_range(bits, sign, values, excluded, low, scale, b)  # numba returns them as Python ints
    todo = [(np.uint64(lowest), np.uint64(highest), list(enumerate(ks)))]
    while todo:
        lowest, highest, items = todo.pop()
        if lowest == highest:
            found |= {index: value_of_key(lowest, values.dtype) for index, _ in items}
            continue
        shift = max(0, int(lowest ^ highest).bit_length() - _DIGIT)
        counts, mins, maxs = _digit_histogram(bits, sign, excluded, lowest, highest, shift)
        cumulative = np.cumsum(counts)
        by_digit: dict[int, list[tuple[int, int]]] = {}
        for index, k in items:
            digit = int(np.searchsorted(cumulative, k, side="right"))
            by_digit.setdefault(digit, []).append((index, k - int(cumulative[digit] - counts[digit])))
        for digit, sub in by_digit.items():
            if counts[digit] <= _COLLECT and mins[digit] != maxs[digit]:
                keys = _collect(values, bits, sign, excluded, low, scale, this_bin, mins[digit], maxs[digit])
                keys.partition([k for _, k in sub])
                found |= {index: float(keys[k]) for index, k in sub}
            else:
                todo.append((mins[digit], maxs[digit], sub))
    return [found[index] for index in range(len(ks))]


def value_of_key(key: np.uint64, dtype: np.dtype) -> float:
    """The float of ``dtype`` (double or single) whose order-preserving key is ``key`` (:func:`order_key` inverted)."""
    width = np.dtype(dtype).itemsize * 8
    sign, every = 1 << (width - 1), (1 << width) - 1
    raw = int(key) ^ sign if int(key) & sign else int(key) ^ every
    unsigned = np.uint64 if width == 64 else np.uint32
    return float(np.array([raw], dtype=unsigned).view(dtype)[0])


@nb.njit(inline="always", cache=True)
def order_key(bits: np.uint64, sign: np.uint64) -> np.uint64:
    """Order-preserving map of a float's bits (its sign bit at position ``sign``: 63 for a double, 31 for a
    single) to an unsigned integer: negative numbers have every bit flipped, the others only the sign bit."""
    top = np.uint64(1) << sign
    return bits ^ (((bits >> sign) * (top - np.uint64(1))) | top)


@nb.njit(parallel=True, cache=True)
def _key_range(
    bits: np.ndarray, sign: np.uint64, values: np.ndarray, excluded: np.ndarray, low: float, scale: float, b: int
) -> tuple[np.uint64, np.uint64]:
    n = values.shape[0]
    step = (n + _GROUPS - 1) // _GROUPS
    top = np.uint64((1 << 64) - 1)
    lows = np.full(_GROUPS, top)
    highs = np.zeros(_GROUPS, dtype=np.uint64)
    for g in nb.prange(_GROUPS):
        lo, hi = top, np.uint64(0)
        for i in range(g * step, min(n, (g + 1) * step)):
            inside = (not excluded[i]) and _bin(values[i], low, scale) == b
            key = order_key(np.uint64(bits[i]), sign)
            lo = min(lo, key if inside else top)
            hi = max(hi, key if inside else np.uint64(0))
        lows[g], highs[g] = lo, hi
    return lows.min(), highs.max()


@nb.njit(parallel=True, cache=True)
def _digit_histogram(
    bits: np.ndarray, sign: np.uint64, excluded: np.ndarray, lowest: np.uint64, highest: np.uint64, shift: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Keys between the smallest and largest key of a bin belong to that bin (the bin is
    # a monotone function of the value), so a key range stands for "in bin b".
    n = bits.shape[0]
    step = (n + _GROUPS - 1) // _GROUPS
    size = 1 << _DIGIT
    counts = np.zeros((_GROUPS, size), dtype=np.int64)
    mins = np.zeros((_GROUPS, size), dtype=np.uint64)
    maxs = np.zeros((_GROUPS, size), dtype=np.uint64)
    mask = np.uint64(size - 1)
    for g in nb.prange(_GROUPS):
        count = np.zeros(size, dtype=np.int64)
        smallest = np.full(size, np.uint64((1 << 64) - 1))
        largest = np.zeros(size, dtype=np.uint64)
        # Runs of one digit (an atom: many equal scores) are tallied in registers and
        # written once, instead of one dependent update of the same counter per value.
        current, run, run_low, run_high = -1, 0, np.uint64((1 << 64) - 1), np.uint64(0)
        for i in range(g * step, min(n, (g + 1) * step)):
            key = order_key(np.uint64(bits[i]), sign)
            if (not excluded[i]) and lowest <= key and key <= highest:
                digit = np.int64((key >> np.uint64(shift)) & mask)
                if digit != current:
                    if current >= 0:
                        count[current] += run
                        smallest[current] = min(smallest[current], run_low)
                        largest[current] = max(largest[current], run_high)
                    current, run, run_low, run_high = digit, 0, key, key
                run += 1
                run_low = min(run_low, key)
                run_high = max(run_high, key)
        if current >= 0:
            count[current] += run
            smallest[current] = min(smallest[current], run_low)
            largest[current] = max(largest[current], run_high)
        counts[g], mins[g], maxs[g] = count, smallest, largest
    total = counts.sum(axis=0)
    low_keys = mins[0].copy()
    high_keys = maxs[0].copy()
    for g in range(1, _GROUPS):
        for d in range(size):
            low_keys[d] = min(low_keys[d], mins[g, d])
            high_keys[d] = max(high_keys[d], maxs[g, d])
    return total, low_keys, high_keys
