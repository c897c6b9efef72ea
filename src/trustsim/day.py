"""What one day of the engine keeps between its phases: per-instance outcomes and event counts.

All arrays are allocated once per run and overwritten every day. Event counts are kept
per *chunk* of agents (rows) so that parallel kernels never share a counter: summing
the rows afterwards gives the same result whatever the number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 8192
"""Agents per chunk of the parallel kernels; fixed so that reductions are thread-count independent."""

# Outcome of one (agent, behaviour) instance, MODEL.md §4.
NOT_OBSERVED = 0
LOST = 1
ATTRIBUTED = 2
MISATTRIBUTED = 3
CAUGHT = 4


def n_chunks(n_items: int) -> int:
    """Number of chunks covering ``n_items`` agents or edges."""
    return (n_items + CHUNK - 1) // CHUNK


@dataclass
class Day:
    """Scratch state of the current day, shared by the phases A→E and the metrics."""

    t: int
    alive_start: np.ndarray  # bool (N,): alive at the start of the day
    score_start: np.ndarray  # float64 (N,): scores at the start of the day
    committed: np.ndarray  # bool (B, N)
    outcome: np.ndarray  # uint8 (B, N): NOT_OBSERVED ... CAUGHT
    target: np.ndarray  # int32 (B, N): the agent a misattributed instance was pinned on
    delta: np.ndarray  # float64 (N,): points applied today
    delta_wrongful: np.ndarray  # float64 (N,): the wrongful (negative) part of delta
    received: np.ndarray  # bool (B, N): received points of behaviour b today
    entered: np.ndarray  # bool (N,): entered the blacklist today
    sanctioned: np.ndarray  # bool (N,): at least one active sanction today
    wrongly_sanctioned: np.ndarray  # bool (N,): at least one wrongful active sanction today
    leaving: np.ndarray  # bool (N,): emigrates today
    touched_friends: np.ndarray  # int32 (N,): active friends who got dissent points or were listed today
    # Event counters, one row per chunk of agents (summed over rows by the metrics).
    committed_count: np.ndarray  # int64 (chunks, B)
    observed_count: np.ndarray  # int64 (chunks, B)
    misattributed_count: np.ndarray  # int64 (chunks, B)
    caught_count: np.ndarray  # int64 (chunks, B)
    penalised_count: np.ndarray  # int64 (chunks + 1, B): last row counts misattributions that stand
    denials_count: np.ndarray  # int64 (chunks, S)
    listing_count: np.ndarray  # int64 (chunks, 3): entries by score, entries by court, exits
    unchilled: np.ndarray  # float64 (chunks,): sum of the unchilled dissent probability
    candidates: np.ndarray  # int64 (chunks, R): camera review candidates per region
    alive_start_count: int = 0
    review_backlog: float = 0.0

    @classmethod
    def allocate(cls, n_agents: int, n_behaviours: int, n_regions: int, n_sanctions: int) -> Day:
        """Allocate the scratch arrays of a run."""
        chunks = n_chunks(n_agents)
        shape = (n_behaviours, n_agents)
        return cls(
            t=-1,
            alive_start=np.ones(n_agents, dtype=np.bool_),
            score_start=np.zeros(n_agents, dtype=np.float64),
            committed=np.zeros(shape, dtype=np.bool_),
            outcome=np.zeros(shape, dtype=np.uint8),
            target=np.full(shape, -1, dtype=np.int32),
            delta=np.zeros(n_agents, dtype=np.float64),
            delta_wrongful=np.zeros(n_agents, dtype=np.float64),
            received=np.zeros(shape, dtype=np.bool_),
            entered=np.zeros(n_agents, dtype=np.bool_),
            sanctioned=np.zeros(n_agents, dtype=np.bool_),
            wrongly_sanctioned=np.zeros(n_agents, dtype=np.bool_),
            leaving=np.zeros(n_agents, dtype=np.bool_),
            touched_friends=np.zeros(n_agents, dtype=np.int32),
            committed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            observed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            misattributed_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            caught_count=np.zeros((chunks, n_behaviours), dtype=np.int64),
            penalised_count=np.zeros((chunks + 1, n_behaviours), dtype=np.int64),
            denials_count=np.zeros((chunks, n_sanctions), dtype=np.int64),
            listing_count=np.zeros((chunks, 3), dtype=np.int64),
            unchilled=np.zeros(chunks, dtype=np.float64),
            candidates=np.zeros((chunks, n_regions), dtype=np.int64),
        )
