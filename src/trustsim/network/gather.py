"""Reductions over every agent's friends, in row order: the lattice window, then the CSR rows.

Phase C sums the friends' start-of-day scores this way, walking an agent's row in the
order of :mod:`trustsim.network.graph` (its lattice positions ``i-half … i-1``,
``i+1 … i+half``, then its CSR slots in id order), so the sum is the same on either
backend, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from trustsim.network.graph import Links, around, friend_of, is_active, row_start
from trustsim.scalar import pick


@nb.njit(inline="always", cache=True)
def gather_friends(
    lo: int, hi: int, links: Links, values: np.ndarray, out: np.ndarray, term: Callable, terms: np.ndarray
) -> None:
    """``out[i - lo]`` for agents ``lo … hi-1``: the sum of ``term(values[v], live)`` over agent ``i``'s row
    positions ``v`` in row order, ``live`` (an int32, 1 or 0) whether the edge there is active.

    Every position is read, live or not, and ``term`` weighs it without a branch. Away
    from the ring's ends the lattice window is contiguous: each distance is one loop over
    the agents that vectorises. Its indices are unsigned, so that numba adds no wrap-around
    of negative indices (which kept these loops from vectorising: 5 ms a day at 1M agents
    against 1.3), and the live bit is an int32, which AVX2 converts to a double (it has no
    such conversion from 64 bits). The CSR slots follow, a row at a time (a flat loop over
    the block's slots that prefetched 128 ahead was slower, measured, on the small world's
    one slot an agent and on scale-free and block-model networks of ten). ``terms`` is scratch
    of :func:`terms_needed` entries.
    """
    half, ring, neighbours = links.half, links.ring, links.neighbours
    n = values.shape[0]
    first, width = np.uint64(lo), np.uint64(hi - lo)
    for k in range(width):
        out[k] = 0
    if lo >= half and hi + half <= n:
        for j in range(half, 0, -1):
            behind, bit = np.uint64(lo - j), np.uint16(j - 1)
            for k in range(width):
                out[k] += term(values[behind + k], np.int32((ring[behind + k] >> bit) & np.uint16(1)))
        for j in range(1, half + 1):
            ahead, bit = np.uint64(lo + j), np.uint16(j - 1)
            for k in range(width):
                out[k] += term(values[ahead + k], np.int32((ring[first + k] >> bit) & np.uint16(1)))
    else:  # a block at an end of the ring
        for j in range(half, 0, -1):
            for i in range(lo, hi):
                v = around(i - j, n)
                out[i - lo] += term(values[v], np.int32((ring[v] >> (j - 1)) & 1))
        for j in range(1, half + 1):
            for i in range(lo, hi):
                out[i - lo] += term(values[around(i + j, n)], np.int32((ring[i] >> (j - 1)) & 1))
    # The CSR slots: first every slot's term, in one flat loop whose loads are independent;
    # then each row's terms added to its sum in order, the first SHORT_ROW of them as selects
    # (adding 0.0 to a sum that is never -0.0 leaves it unchanged, bit for bit): a loop over
    # each row's length mispredicted a branch a row, and most rows are short.
    start = row_start(links, first)
    for slot in range(start, row_start(links, np.uint64(hi))):
        entry = neighbours[slot]  # a cut slot holds its friend's id with the sign bit set
        terms[slot - start] = term(values[friend_of(entry)], np.int32(is_active(entry)))
    for i in range(first, np.uint64(hi)):
        row, end = row_start(links, i) - start, row_start(links, i + np.uint64(1)) - start
        total = out[i - first]
        for j in range(SHORT_ROW):  # terms has SHORT_ROW entries beyond the last row's end
            total += pick(row + j < end, terms[row + j], 0.0)
        for slot in range(row + SHORT_ROW, end):
            total += terms[slot]
        out[i - first] = total


SHORT_ROW = 4
"""CSR slots of a row that :func:`gather_friends` adds without a branch."""


@nb.njit(inline="always", cache=True)
def terms_needed(links: Links, lo: int, hi: int) -> int:
    """The length of the scratch ``terms`` that :func:`gather_friends` needs for agents ``lo … hi-1``."""
    return row_start(links, hi) - row_start(links, lo) + SHORT_ROW
