"""What one day of the engine keeps between its phases: per-agent outcomes and event tallies.

All arrays are allocated once per run and overwritten every day, with the same layout on
both backends (the GPU allocates them on the device). Per-agent outcomes are *behaviour
masks*: bit ``b`` of an agent's entry stands for behaviour ``b`` (an unsigned integer
type wide enough for the scenario's behaviours: one byte per agent for up to 8
behaviours, 8 bytes for up to 64), where a ``(B, N)`` array of booleans would take ``B``
bytes.

Event tallies have one row per *chunk* of agents on the CPU (per lane on the GPU), so
that parallel kernels never share a counter: summing the rows afterwards gives the same
result whatever the number of threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numba as nb
import numpy as np

CHUNK = 8192
"""Agents per chunk of the parallel kernels; fixed so that reductions are thread-count independent."""

MAX_BEHAVIOURS = 64
"""Behaviours per scenario: one bit each in a 64-bit behaviour mask."""

# Bits of Outcomes.status: what happened to an agent today in phases D and E.
ENTERED = np.uint8(1)  # entered the blacklist today
SANCTIONED = np.uint8(2)  # at least one active sanction today
WRONGLY_SANCTIONED = np.uint8(4)  # at least one wrongful active sanction today
TOUCHED = np.uint8(8)  # got dissent points or entered the list today (chills friends, docs/model.md §7.2)
LEAVING = np.uint8(16)  # emigrates today (docs/model.md §7.6)
JUDGED = np.uint8(32)  # judged by a court today (docs/model.md §6.1)

ENTRIES_SCORE, ENTRIES_COURT, EXITS = 0, 1, 2
"""Columns of :attr:`Tallies.listing`: entries to the list by score and by court, and exits."""


def chunk_function(function: Callable[..., Any]) -> Any:
    """Compile a CPU driver's per-chunk function: ``numba.njit``, cached, without reference counting.

    A CPU driver is a parallel loop over chunks of agents (``numba.prange``) that calls a
    function like this for each chunk; that function loops over the chunk's agents and
    calls the model's rules. Two things make it a function of its own:

    * numba's parallel loops lose writes made through a named tuple's arrays in their
      body (numba issue 7135), and the rules write the agents' state through records;
    * numba counts references to every array a record carries each time a record is
      handed to an inlined rule whose body branches, atomic operations that made the
      phases several times slower. The arrays belong to the caller, which keeps them
      alive, and the function allocates nothing, so it is compiled without reference
      counting (numba's ``_nrt=False``, as numba compiles its own hot helpers).

    Its loop over agents runs over :func:`agents_of`, unsigned indices.
    """
    return nb.njit(cache=True, _nrt=False)(function)


@nb.njit(inline="always", cache=True)
def agents_of(c: int, n: int) -> tuple[np.uint64, np.uint64]:
    """The ids ``lo ≤ i < hi`` of chunk ``c`` of ``n`` agents, as unsigned integers.

    A loop over an unsigned range indexes arrays without numba's check for negative
    indices (which wrap around from the end) at every access: a fifth of a phase's time.
    """
    return np.uint64(c * CHUNK), np.uint64(min(n, (c + 1) * CHUNK))


@nb.njit(inline="always", cache=True)
def lowest_bit(word: np.uint64) -> int:
    """The position of the lowest set bit of a nonzero 64-bit ``word`` (a de Bruijn multiplication): the drivers
    mark the few agents a rule applies to as bits of a word, 64 agents at a time, then visit them."""
    low = word & (~word + np.uint64(1))
    return _DE_BRUIJN[(low * np.uint64(_DE_BRUIJN_WORD)) >> np.uint64(58)]


_DE_BRUIJN_WORD = 0x03F79D71B4CB0A89
_DE_BRUIJN = np.zeros(64, dtype=np.int64)  # _DE_BRUIJN[top 6 bits of 2**k · the word] = k
for _bit in range(64):
    _DE_BRUIJN[((1 << _bit) * _DE_BRUIJN_WORD % 2**64) >> 58] = _bit


def n_chunks(n_items: int) -> int:
    """Number of chunks covering ``n_items`` agents or edges."""
    return (n_items + CHUNK - 1) // CHUNK


def mask_dtype(n_behaviours: int) -> type[np.unsignedinteger]:
    """The narrowest unsigned integer type with a bit for each behaviour."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n_behaviours <= np.iinfo(dtype).bits:
            return dtype
    raise ValueError(f"at most {MAX_BEHAVIOURS} behaviours (got {n_behaviours})")


class Outcomes(NamedTuple):
    """What happened to each agent today (one entry per agent), shared by phases A→E and the metrics."""

    committed: Any  # mask: behaviours the agent committed today (A)
    attributed: Any  # mask: own instances observed and attributed to the agent (B)
    misattributed: Any  # mask: own camera instances pinned on somebody else (B)
    wrongly_received: Any  # mask: behaviours whose misattributed points landed on the agent (B)
    landed_points: Any  # float32: points of misattributions that stand; zero outside phases B–C
    landed_wrongful: Any  # float32: their negative part (Δw); zero outside phases B–C
    status: Any  # uint8: ENTERED | JUDGED | SANCTIONED | WRONGLY_SANCTIONED | TOUCHED | LEAVING (D, E)


class Tallies(NamedTuple):
    """The day's event counts, one row per chunk of agents (CPU) or lane (GPU); the metrics sum the rows."""

    committed: Any  # int64 (rows, B)
    observed: Any  # int64 (rows, B)
    misattributed: Any  # int64 (rows, B)
    caught: Any  # int64 (1, B): counted in review, which runs in one fixed order
    penalised: Any  # int64 (rows + 1, B): the last row counts misattributions that stand
    denials: Any  # int64 (rows, S)
    listing: Any  # int64 (rows, 3): ENTRIES_SCORE, ENTRIES_COURT, EXITS
    candidates: Any  # int64 (rows, R): camera review candidates per region
    unchilled: Any  # float64 (rows,): the unchilled dissent probability, summed in a fixed order

    def on_host(self) -> Tallies:
        """The tallies as numpy arrays (a GPU run's are copied from the device)."""
        return Tallies(*(np.asarray(a) if isinstance(a, np.ndarray) else a.copy_to_host() for a in self))


Allocate = Callable[[tuple[int, ...] | int, Any], Any]
"""Makes a zeroed array of a shape and dtype: ``numpy.zeros``, or its device counterpart on the GPU."""


@dataclass
class Day:
    """Scratch state of the current day, shared by the phases A→E and the metrics."""

    t: int
    outcomes: Outcomes
    tallies: Tallies
    score_next: Any  # float32 (N,): the other half of the score's double buffer (C)
    alive_start_count: int = 0
    review_backlog: float = 0.0

    @classmethod
    def allocate(
        cls, n_agents: int, n_behaviours: int, n_regions: int, n_sanctions: int, rows: int, zeros: Allocate = np.zeros
    ) -> Day:
        """Allocate the scratch arrays of a run: ``rows`` rows of tallies, arrays made by ``zeros``."""
        mask = mask_dtype(n_behaviours)
        outcomes = Outcomes(
            committed=zeros(n_agents, mask),
            attributed=zeros(n_agents, mask),
            misattributed=zeros(n_agents, mask),
            wrongly_received=zeros(n_agents, mask),
            landed_points=zeros(n_agents, np.float32),  # as the score they go into
            landed_wrongful=zeros(n_agents, np.float32),
            status=zeros(n_agents, np.uint8),
        )
        tallies = Tallies(
            committed=zeros((rows, n_behaviours), np.int64),
            observed=zeros((rows, n_behaviours), np.int64),
            misattributed=zeros((rows, n_behaviours), np.int64),
            caught=zeros((1, n_behaviours), np.int64),
            penalised=zeros((rows + 1, n_behaviours), np.int64),
            denials=zeros((rows, n_sanctions), np.int64),
            listing=zeros((rows, 3), np.int64),
            candidates=zeros((rows, n_regions), np.int64),
            unchilled=zeros(rows, np.float64),
        )
        return cls(t=-1, outcomes=outcomes, tallies=tallies, score_next=zeros(n_agents, np.float32))


def scratch_bytes_per_agent(n_behaviours: int) -> int:
    """Bytes per agent of the day's per-agent arrays (:class:`Outcomes` and the score's second buffer)."""
    one = Day.allocate(1, n_behaviours, 1, 0, rows=1)
    return sum(values.nbytes for values in one.outcomes) + one.score_next.nbytes


@nb.njit(inline="always", cache=True)
def has(mask: np.unsignedinteger, b: int) -> bool:
    """Whether bit ``b`` of a behaviour mask is set."""
    return (mask >> b) & 1 != 0


@nb.njit(inline="always", cache=True)
def bit(b: int) -> np.uint64:
    """The behaviour mask with only bit ``b`` set."""
    return np.uint64(1) << np.uint64(b)


def flagged(values: np.ndarray, bits: int) -> np.ndarray:
    """Ids of the agents whose ``values & bits`` is non-zero, ascending.

    The flags these lists are made from are sparse (today's touched, listed or leaving
    agents), so one thread reads a byte array eight entries a word and looks into the
    few words that hold a flag; the parallel compaction of wider arrays takes two passes.
    """
    if values.dtype.itemsize != 1 or not values.flags.c_contiguous:
        return _flagged_wide(values, bits)
    whole = values.shape[0] // 8 * 8
    return _flagged_bytes(values.view(np.uint8), values[:whole].view(np.uint64), np.uint8(bits))


@nb.njit(cache=True)
def _flagged_bytes(values: np.ndarray, words: np.ndarray, bits: np.uint8) -> np.ndarray:
    pattern = np.uint64(bits) * np.uint64(0x0101010101010101)
    count = 0
    for w in range(words.shape[0]):
        if words[w] & pattern:
            for i in range(8 * w, 8 * w + 8):
                count += (values[i] & bits) != 0
    for i in range(8 * words.shape[0], values.shape[0]):
        count += (values[i] & bits) != 0
    out = np.empty(count, dtype=np.int64)
    k = 0
    for w in range(words.shape[0]):
        if words[w] & pattern:
            for i in range(8 * w, 8 * w + 8):
                if values[i] & bits:
                    out[k] = i
                    k += 1
    for i in range(8 * words.shape[0], values.shape[0]):
        if values[i] & bits:
            out[k] = i
            k += 1
    return out


@nb.njit(parallel=True, cache=True)
def _flagged_wide(values: np.ndarray, bits: int) -> np.ndarray:
    # A parallel compaction: count per chunk, then each chunk writes its ids after the earlier chunks'.
    n = values.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    per_chunk = np.zeros(chunks, dtype=np.int64)
    for c in nb.prange(chunks):
        count = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            count += (values[i] & bits) != 0
        per_chunk[c] = count
    start = np.zeros(chunks + 1, dtype=np.int64)
    for c in range(chunks):
        start[c + 1] = start[c] + per_chunk[c]
    out = np.empty(start[chunks], dtype=np.int64)
    for c in nb.prange(chunks):
        k = start[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if (values[i] & bits) != 0:
                out[k] = i
                k += 1
    return out
