"""Phase D — court, blacklist, tiers and sanctions (MODEL.md §6).

Per alive agent, in this order on the scores after phase C:

1. court: each correctly attributed instance of a behaviour with ``escalation``
   goes to court when ``U(court:<b>, t, i) < escalation``; each judgment takes
   ``court_points`` (clamped) and lists the agent by court;
2. score listing below ``blacklist_score`` (``listed_wrongly`` when the
   counterfactual score ``score + wrongful`` would not have been listed);
3. the exit counter; 4. exits of agents listed on an earlier day (court-listed:
   ``U(exit, t, i) < court_exit_rate``; score-listed: enough days above exit);
5. tiers are a function of the score (see :func:`tier_index`);
6. sanctions: active by score and/or by listing; a denial when
   ``U(att:<s>, t, i) < attempt_rate``;
7. a sanction is wrongful when every condition that makes it active is wrongful.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import CHUNK, ENTERED, SANCTIONED, TOUCHED, WRONGLY_SANCTIONED, Day, has
from trustsim.rng import stream_id, uniform
from trustsim.scalar import greater, lesser
from trustsim.scenario import Scenario
from trustsim.world import World

ENTRIES_SCORE, ENTRIES_COURT, EXITS = 0, 1, 2


class SanctionsPhase:
    """Lists, delists and sanctions agents."""

    phase = "D"

    def __init__(self, scenario: Scenario) -> None:
        behaviours = scenario.behaviours
        self.escalation = np.array([b.escalation or 0.0 for b in behaviours.values()])
        self.court_streams = np.array([stream_id(f"court:{name}") for name in behaviours], dtype=np.int64)
        self.exit_stream = stream_id("exit")
        self.applies_below, self.applies_to_blacklisted = sanction_conditions(scenario)
        self.attempt_rate = np.array([s.attempt_rate for s in scenario.sanctions.values()], dtype=np.float64)
        self.attempt_streams = np.array([stream_id(f"att:{name}") for name in scenario.sanctions], dtype=np.int64)
        bl = scenario.blacklist
        self.listing = np.array([bl.blacklist_score, bl.blacklist_exit_score, bl.court_points, bl.court_exit_rate])
        self.exit_days = bl.blacklist_exit_days
        self.bounds = np.array([scenario.score.score_min, scenario.score.score_max])
        dissent = scenario.dissent_index
        self.dissent_bit = np.uint64(0) if dissent < 0 else np.uint64(1) << np.uint64(dissent)

    def step(self, world: World, day: Day) -> None:
        """Run items 1–7 of MODEL.md §6 for every alive agent."""
        pop = world.population
        _court_list_sanction(
            world.seed, day.t, self.escalation, self.court_streams, self.exit_stream,
            self.listing, self.exit_days, self.bounds,
            self.applies_below, self.applies_to_blacklisted, self.attempt_rate, self.attempt_streams,
            self.dissent_bit, pop.emigrated, day.attributed, day.wrongly_received, pop.score, pop.wrongful,
            pop.blacklisted, pop.court_listed, pop.listed_wrongly, pop.listed_day, pop.days_above_exit,
            pop.ever_sanctioned, pop.ever_wrongly_sanctioned, day.status, day.listing_count, day.denials_count,
        )  # fmt: skip


@nb.njit(parallel=True, cache=True)
def _court_list_sanction(
    seed, t, escalation, court_streams, exit_stream, listing, exit_days, bounds,
    applies_below, applies_to_blacklisted, attempt_rate, attempt_streams,
    dissent_bit, emigrated, attributed, wrongly_received, score, wrongful,
    blacklisted, court_listed, listed_wrongly, listed_day, days_above_exit,
    ever_sanctioned, ever_wrongly_sanctioned, status, listing_count, denials_count,
):  # fmt: skip
    n_sanctions = attempt_rate.shape[0]
    highest_bound = applies_below.max() if n_sanctions else -np.inf
    n = score.shape[0]
    for c in nb.prange(listing_count.shape[0]):
        # Counters are local while the chunk is scanned (stores into shared arrays would
        # make the compiler reload every input after each one).
        entries = np.zeros(3, dtype=np.int64)
        denials = np.zeros(n_sanctions, dtype=np.int64)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if emigrated[i]:
                status[i] = 0
                continue
            flags, s, listed, event = court_and_list(
                i, seed, t, escalation, court_streams, exit_stream, listing, exit_days, bounds, attributed[i],
                score, wrongful, blacklisted, court_listed, listed_wrongly, listed_day, days_above_exit,
            )  # fmt: skip
            if event >= 0:
                entries[event] += 1
            # 6–7. sanctions (none can be active above every score bound and off the list)
            if s < highest_bound or listed:
                for k in range(n_sanctions):
                    active, denied, wrong = sanction_outcome(
                        i, seed, t, s, wrongful[i], listed, listed_wrongly[i], applies_below[k],
                        applies_to_blacklisted[k], attempt_rate[k], attempt_streams[k],
                    )  # fmt: skip
                    flags |= active * SANCTIONED | wrong * WRONGLY_SANCTIONED
                    denials[k] += denied
                if flags & SANCTIONED:
                    ever_sanctioned[i] = True
                if flags & WRONGLY_SANCTIONED:
                    ever_wrongly_sanctioned[i] = True
            # Friends are chilled by a new listing or by dissent points (MODEL.md §7.2).
            if (flags & ENTERED) or ((attributed[i] | wrongly_received[i]) & dissent_bit) != 0:
                flags |= TOUCHED
            status[i] = flags
        listing_count[c, :] = entries
        denials_count[c, :] = denials


NO_EVENT = -1
"""What :func:`court_and_list` returns when an agent neither entered nor left the list."""


@nb.njit(inline="always", cache=True)
def court_and_list(
    i, seed, t, escalation, court_streams, exit_stream, listing, exit_days, bounds, attributed,
    score, wrongful, blacklisted, court_listed, listed_wrongly, listed_day, days_above_exit,
):  # fmt: skip
    """Items 1–4 of MODEL.md §6 for alive agent ``i`` (CPU and GPU kernels call it).

    Updates the agent's score and listing state and returns ``(flags, score, listed,
    event)``: its ``ENTERED`` flag, its score after court, whether it is listed now,
    and the day's event, ``ENTRIES_SCORE``, ``ENTRIES_COURT``, ``EXITS`` or
    :data:`NO_EVENT` (an agent listed today cannot leave the list today, so there is
    at most one).
    """
    blacklist_score, exit_score, court_points, court_exit_rate = listing[0], listing[1], listing[2], listing[3]
    flags = np.uint8(0)
    event = NO_EVENT
    s = score[i]
    listed = blacklisted[i]
    # 1. court
    if attributed != 0:
        for b in range(escalation.shape[0]):
            if escalation[b] > 0.0 and has(attributed, b):
                if uniform(seed, court_streams[b], t, i, 0) < escalation[b]:
                    s = lesser(greater(s - court_points, bounds[0]), bounds[1])
                    if not listed:
                        event = ENTRIES_COURT
                        listed_day[i] = t
                        flags |= ENTERED
                    listed = True
                    court_listed[i] = True
                    listed_wrongly[i] = False
        score[i] = s
    # 2. score listing
    if not listed and s < blacklist_score:
        listed = True
        listed_wrongly[i] = s + wrongful[i] >= blacklist_score
        listed_day[i] = t
        flags |= ENTERED
        event = ENTRIES_SCORE
    # 3. exit counter
    days_above_exit[i] = days_above_exit[i] + 1 if s >= exit_score else 0
    # 4. exit
    if listed and listed_day[i] < t:
        if court_listed[i]:
            leaves = uniform(seed, exit_stream, t, i, 0) < court_exit_rate
        else:
            leaves = days_above_exit[i] >= exit_days
        if leaves:
            listed = False
            court_listed[i] = False
            listed_wrongly[i] = False
            listed_day[i] = -1
            event = EXITS
    blacklisted[i] = listed
    return flags, s, listed, event


@nb.njit(inline="always", cache=True)
def sanction_outcome(
    i, seed, t, score, wrongful, listed, listed_wrongly, applies_below, applies_to_blacklisted, rate, stream
):  # fmt: skip
    """Items 6–7 for one sanction of agent ``i``: ``(active, denied, wrongful)``, each 0 or 1."""
    if not sanction_active(score, listed, applies_below, applies_to_blacklisted):
        return np.uint8(0), 0, np.uint8(0)
    denied = rate >= 1.0 or (rate > 0.0 and uniform(seed, stream, t, i, 0) < rate)
    wrong = wrongful_sanction(score, wrongful, listed_wrongly, listed, applies_below, applies_to_blacklisted)
    return np.uint8(1), 1 if denied else 0, np.uint8(1) if wrong else np.uint8(0)


@nb.njit(inline="always", cache=True)
def wrongful_sanction(score, wrongful, listed_wrongly, blacklisted, applies_below, applies_to_blacklisted):
    """Item 7: every condition that makes the (active) sanction active is wrongful."""
    by_score = score < applies_below
    by_list = applies_to_blacklisted and blacklisted
    wrong_score = (not by_score) or applies_below <= score + wrongful
    wrong_list = (not by_list) or listed_wrongly
    return wrong_score and wrong_list


def sanction_conditions(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Per sanction: the score it applies below (-inf: none) and whether listing activates it."""
    sanctions = list(scenario.sanctions.values())
    below = np.array([-np.inf if s.applies_below is None else s.applies_below for s in sanctions], dtype=np.float64)
    listed = np.array([s.applies_to_blacklisted for s in sanctions], dtype=np.bool_)
    return below, listed


def tier_bounds(scenario: Scenario) -> np.ndarray:
    """``min_score`` of every tier but the last, highest first (MODEL.md §6 item 5)."""
    return np.array([tier.min_score for tier in scenario.tiers[:-1]], dtype=np.float64)


@nb.njit(inline="always", cache=True)
def tier_index(score: float, bounds: np.ndarray) -> int:
    """The agent's tier: the first (highest) whose ``min_score ≤ score``; the last has no bound."""
    tier = 0
    while tier < bounds.shape[0] and score < bounds[tier]:
        tier += 1
    return tier


@nb.njit(inline="always", cache=True)
def sanction_active(score: float, blacklisted: bool, applies_below: float, applies_to_blacklisted: bool) -> bool:
    """Whether a sanction is active (MODEL.md §6 item 6)."""
    return score < applies_below or (applies_to_blacklisted and blacklisted)


@nb.njit(cache=True)
def tier_of(score: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """:func:`tier_index` of every score."""
    out = np.empty(score.shape[0], dtype=np.int8)
    for i in range(score.shape[0]):
        out[i] = tier_index(score[i], bounds)
    return out
