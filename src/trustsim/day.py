"""What one day of the engine keeps between its phases: per-agent outcomes and event counts.

All arrays are allocated once per run and overwritten every day. Per-agent outcomes
are *behaviour masks*: bit ``b`` of an agent's entry stands for behaviour ``b`` (an
unsigned integer type wide enough for the scenario's behaviours: one byte per agent
for up to 8 behaviours, 8 bytes for up to 64), where a ``(B, N)`` array of booleans
would take ``B`` bytes.

Event counts are kept per *chunk* of agents (rows) so that parallel kernels never
share a counter: summing the rows afterwards gives the same result whatever the
number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

CHUNK = 8192
"""Agents per chunk of the parallel kernels; fixed so that reductions are thread-count independent."""

MAX_BEHAVIOURS = 64
"""Behaviours per scenario: one bit each in a 64-bit behaviour mask."""

# Bits of Day.status: what happened to an agent today in phases D and E.
ENTERED = np.uint8(1)  # entered the blacklist today
SANCTIONED = np.uint8(2)  # at least one active sanction today
WRONGLY_SANCTIONED = np.uint8(4)  # at least one wrongful active sanction today
TOUCHED = np.uint8(8)  # got dissent points or entered the list today (chills friends, MODEL.md §7.2)
LEAVING = np.uint8(16)  # emigrates today (MODEL.md §7.6)


def n_chunks(n_items: int) -> int:
    """Number of chunks covering ``n_items`` agents or edges."""
    return (n_items + CHUNK - 1) // CHUNK


def mask_dtype(n_behaviours: int) -> type[np.unsignedinteger]:
    """The narrowest unsigned integer type with a bit for each behaviour."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n_behaviours <= np.iinfo(dtype).bits:
            return dtype
    raise ValueError(f"at most {MAX_BEHAVIOURS} behaviours (got {n_behaviours})")


@dataclass
class Day:
    """Scratch state of the current day, shared by the phases A→E and the metrics."""

    t: int
    committed: np.ndarray  # mask (N,): behaviours the agent committed today (A)
    attributed: np.ndarray  # mask (N,): own instances observed and attributed to the agent (B)
    misattributed: np.ndarray  # mask (N,): own camera instances pinned on somebody else (B)
    wrongly_received: np.ndarray  # mask (N,): behaviours whose misattributed points landed on the agent (B)
    landed_points: np.ndarray  # float64 (N,): points of misattributions that stand; zero outside phases B–C
    landed_wrongful: np.ndarray  # float64 (N,): their negative part (Δw); zero outside phases B–C
    score_next: np.ndarray  # float64 (N,): the other half of the score's double buffer (C)
    status: np.ndarray  # uint8 (N,): ENTERED | SANCTIONED | WRONGLY_SANCTIONED | TOUCHED | LEAVING
    touched_friends: np.ndarray  # int32 (N,): friends who chill the agent today; zero outside phase E
    # Event counters, one row per chunk of agents (summed over rows by the metrics).
    committed_count: np.ndarray  # int64 (chunks, B)
    observed_count: np.ndarray  # int64 (chunks, B)
    misattributed_count: np.ndarray  # int64 (chunks, B)
    caught_count: np.ndarray  # int64 (1, B): counted serially in review
    penalised_count: np.ndarray  # int64 (chunks + 1, B): last row counts misattributions that stand
    denials_count: np.ndarray  # int64 (chunks, S)
    listing_count: np.ndarray  # int64 (chunks, 3): entries by score, entries by court, exits
    flagged_count: np.ndarray  # int64 (chunks,): agents flagged by a phase (see :func:`flagged`)
    unchilled: np.ndarray  # float64 (chunks,): sum of the unchilled dissent probability
    candidates: np.ndarray  # int64 (chunks, R): camera review candidates per region
    alive_start_count: int = 0
    review_backlog: float = 0.0

    @classmethod
    def allocate(cls, n_agents: int, n_behaviours: int, n_regions: int, n_sanctions: int) -> Day:
        """Allocate the scratch arrays of a run."""
        chunks = n_chunks(n_agents)
        mask = mask_dtype(n_behaviours)
        return cls(
            t=-1,
            committed=np.zeros(n_agents, dtype=mask),
            attributed=np.zeros(n_agents, dtype=mask),
            misattributed=np.zeros(n_agents, dtype=mask),
            wrongly_received=np.zeros(n_agents, dtype=mask),
            landed_points=np.zeros(n_agents, dtype=np.float64),
            landed_wrongful=np.zeros(n_agents, dtype=np.float64),
            score_next=np.zeros(n_agents, dtype=np.float64),
            status=np.zeros(n_agents, dtype=np.uint8),
            touched_friends=np.zeros(n_agents, dtype=np.int32),
            committed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            observed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            misattributed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            caught_count=np.zeros((1, n_behaviours), dtype=np.int64),
            penalised_count=np.zeros((chunks + 1, n_behaviours), dtype=np.int64),
            denials_count=np.zeros((chunks, n_sanctions), dtype=np.int64),
            listing_count=np.zeros((chunks, 3), dtype=np.int64),
            flagged_count=np.zeros(chunks, dtype=np.int64),
            unchilled=np.zeros(chunks, dtype=np.float64),
            candidates=np.zeros((chunks, n_regions), dtype=np.int64),
        )


@nb.njit(inline="always", cache=True)
def has(mask: np.unsignedinteger, b: int) -> bool:
    """Whether bit ``b`` of a behaviour mask is set."""
    return (mask >> b) & 1 != 0


@nb.njit(parallel=True, cache=True)
def flagged(values: np.ndarray, bits: int, per_chunk: np.ndarray) -> np.ndarray:
    """Ids of the agents whose ``values & bits`` is non-zero, ascending (a parallel compaction)."""
    n = values.shape[0]
    chunks = per_chunk.shape[0]
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
