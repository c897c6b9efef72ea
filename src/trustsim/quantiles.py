"""Exact percentiles of the alive agents' scores, without sorting or copying them all.

The result equals ``np.percentile(values[~excluded], q)`` (numpy's ``linear``
method, reproduced operation for operation). Scores lie in a known range
``[low, high]`` (the scenario's score bounds), so one parallel pass counts them in
equal-width bins, the bins that hold the wanted order statistics are found from the
cumulative counts, and a second pass collects only the scores of those bins, which
are then partitioned. The bin of a score is a monotone function of it, so order
statistics are preserved; counts are integers, so the result is the same for any
number of threads.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

BINS = 16384
_GROUPS = 16  # independent histograms, one per group of agents, summed afterwards


def percentiles(values: np.ndarray, excluded: np.ndarray, q: tuple[float, ...], low: float, high: float) -> list[float]:
    """``np.percentile(values[~excluded], q)`` (linear method) for ``q`` in percent.

    Every included value must lie in ``[low, high]``.
    """
    scale = BINS / (high - low) if high > low else 0.0
    counts = _histogram(values, excluded, low, scale).sum(axis=0, dtype=np.int64)
    n = int(counts.sum())
    if n == 0:
        return [math.nan] * len(q)
    virtual = [(n - 1) * (x / 100) for x in q]
    ranks = sorted({r for v in virtual for r in (math.floor(v), min(math.floor(v) + 1, n - 1))})
    cumulative = np.cumsum(counts)
    bins = np.searchsorted(cumulative, np.array(ranks), side="right")
    wanted = np.zeros(BINS, dtype=np.bool_)
    wanted[bins] = True
    collected = _collect(values, excluded, low, scale, wanted)
    # Position of a rank among the collected values: ranks below its bin are not collected.
    before = np.concatenate(([0], cumulative))  # values in bins below each bin
    kept_before = np.cumsum(np.where(wanted, counts, 0)) - np.where(wanted, counts, 0)
    positions = [int(r - before[b] + kept_before[b]) for r, b in zip(ranks, bins, strict=True)]
    collected.partition(positions)
    stats = {r: float(collected[p]) for r, p in zip(ranks, positions, strict=True)}
    result = []
    for v in virtual:
        below = math.floor(v)
        a, c, t = stats[below], stats[min(below + 1, n - 1)], v - below
        difference = c - a
        result.append(c - difference * (1 - t) if t >= 0.5 else a + difference * t)
    return result


@nb.njit(inline="always", cache=True)
def _bin(value: float, low: float, scale: float) -> int:
    return min(max(np.int64((value - low) * scale), 0), BINS - 1)


@nb.njit(parallel=True, cache=True)
def _histogram(values: np.ndarray, excluded: np.ndarray, low: float, scale: float) -> np.ndarray:
    n = values.shape[0]
    counts = np.zeros((_GROUPS, BINS), dtype=np.int32)
    step = (n + _GROUPS - 1) // _GROUPS
    for g in nb.prange(_GROUPS):
        local = np.zeros(BINS, dtype=np.int32)
        for i in range(g * step, min(n, (g + 1) * step)):
            if not excluded[i]:
                local[_bin(values[i], low, scale)] += 1
        counts[g] = local
    return counts


@nb.njit(parallel=True, cache=True)
def _collect(values: np.ndarray, excluded: np.ndarray, low: float, scale: float, wanted: np.ndarray) -> np.ndarray:
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
            if (not excluded[i]) and wanted[_bin(values[i], low, scale)]:
                buffer[k] = values[i]
                k += 1
        found[g] = k - g * step
    out = np.empty(found.sum(), dtype=values.dtype)
    k = 0
    for g in range(_GROUPS):
        out[k : k + found[g]] = buffer[g * step : g * step + found[g]]
        k += found[g]
    return out
