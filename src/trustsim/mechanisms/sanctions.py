"""Phase D — court, blacklist, tiers and sanctions (docs/model.md §6).

Per alive agent, in this order on the scores after phase C:

1. court: each correctly attributed instance of a behaviour with ``escalation``
   goes to court when ``U(court:<b>, t, i) < escalation``; each judgment takes
   ``court_points`` (clamped) and lists the agent by court;
2. score listing below ``blacklist_score`` (``listed_wrongly`` when the
   counterfactual score ``score + wrongful`` would not have been listed);
3. the exit counter; 4. exits of agents listed on an earlier day (court-listed:
   ``U(exit, t, i) < court_exit_rate``; score-listed: enough days above exit);
5. tiers are a function of the score (:func:`tier_index`);
6. sanctions: active by score and/or by listing; a denial when
   ``U(att:<s>, t, i) < attempt_rate``;
7. a sanction is wrongful when every condition that makes it active is wrongful.

The rules are scalar functions of one agent's values: :func:`court_and_list` (items
1–4, on a :class:`Listing`), :func:`sanction_outcome` (items 6–7 for one sanction) and
:func:`sanction_day` (all of it for one agent); :func:`listing_of` and
:func:`record_day` read and write the state around them. The CPU driver below, the GPU
kernel (:mod:`trustsim.gpu.sanctions`), the trace and the report's record table all
call them. The CPU driver first settles the quiet agents (off the list, no court case, no
dissent points, a score above every threshold: only their exit counter moves) with a loop
that vectorises, and runs the rule for the others.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.day import (
    ENTERED,
    ENTRIES_COURT,
    ENTRIES_SCORE,
    EXITS,
    JUDGED,
    SANCTIONED,
    TOUCHED,
    WRONGLY_SANCTIONED,
    Day,
    Outcomes,
    Tallies,
    agents_of,
    chunk_function,
    has,
    lowest_bit,
)
from trustsim.population import (
    COURT_LISTED,
    EVER_SANCTIONED,
    EVER_WRONGLY_SANCTIONED,
    LISTED_WRONGLY,
    Population,
    is_set,
    with_flag,
)
from trustsim.rng import stream_id, uniform
from trustsim.scalar import greater, lesser, pick, tally
from trustsim.scenario import Scenario
from trustsim.world import World

NO_EVENT = -1
"""What :func:`court_and_list` returns when an agent neither entered nor left the list."""


class SanctionsParams(NamedTuple):
    """Phase D's parameters: per behaviour (court), per sanction, and the list's thresholds."""

    escalation: np.ndarray  # float64 per behaviour: 0 for none
    court_stream: np.ndarray  # int64 per behaviour: court:<b>
    exit_stream: int  # exit
    blacklist_score: float
    exit_score: float  # blacklist_exit_score
    exit_days: int  # blacklist_exit_days
    court_points: float
    court_exit_rate: float
    score_min: float
    score_max: float
    applies_below: np.ndarray  # float64 per sanction: -inf for none
    applies_to_blacklisted: np.ndarray  # bool per sanction
    attempt_rate: np.ndarray  # float64 per sanction
    attempt_stream: np.ndarray  # int64 per sanction: att:<s>
    highest_bound: float  # the highest applies_below (-inf for none): above it, off the list, none is active
    dissent_bit: np.uint64  # behaviour mask of dissent (0 without): its points chill friends
    court_bits: np.uint64  # behaviour mask of the behaviours with escalation (they may go to court)
    quiet_from: float  # at or above this score, off the list, no court and no dissent points, nothing happens

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> SanctionsParams:
        """The parameters of ``scenario``."""
        behaviours, sanctions, bl = scenario.behaviours, scenario.sanctions, scenario.blacklist
        below, listed = sanction_conditions(scenario)
        dissent = scenario.dissent_index
        court = [b for b, behaviour in enumerate(behaviours.values()) if behaviour.escalation]
        highest_bound = float(below.max()) if below.size else -np.inf
        return cls(
            escalation=np.array([b.escalation or 0.0 for b in behaviours.values()], dtype=np.float64),
            court_stream=np.array([stream_id(f"court:{name}") for name in behaviours], dtype=np.int64),
            exit_stream=stream_id("exit"),
            blacklist_score=float(bl.blacklist_score),
            exit_score=float(bl.blacklist_exit_score),
            exit_days=int(bl.blacklist_exit_days),
            court_points=float(bl.court_points),
            court_exit_rate=float(bl.court_exit_rate),
            score_min=float(scenario.score.score_min),
            score_max=float(scenario.score.score_max),
            applies_below=below,
            applies_to_blacklisted=listed,
            attempt_rate=np.array([s.attempt_rate for s in sanctions.values()], dtype=np.float64),
            attempt_stream=np.array([stream_id(f"att:{name}") for name in sanctions], dtype=np.int64),
            highest_bound=highest_bound,
            dissent_bit=np.uint64(0) if dissent < 0 else np.uint64(1) << np.uint64(dissent),
            court_bits=np.uint64(sum(1 << b for b in court)),
            quiet_from=max(highest_bound, float(bl.blacklist_score)),
        )


def sanction_conditions(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Per sanction: the score it applies below (-inf: none) and whether listing activates it."""
    sanctions = list(scenario.sanctions.values())
    below = np.array([-np.inf if s.applies_below is None else s.applies_below for s in sanctions], dtype=np.float64)
    listed = np.array([s.applies_to_blacklisted for s in sanctions], dtype=np.bool_)
    return below, listed


def tier_bounds(scenario: Scenario) -> np.ndarray:
    """``min_score`` of every tier but the last, highest first (docs/model.md §6 item 5)."""
    return np.array([tier.min_score for tier in scenario.tiers[:-1]], dtype=np.float64)


# ---------------------------------------------------------------------------------- the rules


class Listing(NamedTuple):
    """One agent's standing with the list: what items 1–4 read and update."""

    score: float
    blacklisted: bool
    court_listed: bool
    listed_wrongly: bool
    listed_day: int  # day of (first) listing; -1 when not listed
    days_above_exit: int


@nb.njit(inline="always", cache=True)
def stored_score(score: float) -> float:
    """``score`` rounded as the state stores it (single precision, :data:`trustsim.population.STATE`), in double.

    A score the court lowers is rounded at once, so the list's rules read the value the
    state will hold, as they do for a score phase C wrote.
    """
    return np.float64(np.float32(score))


@nb.njit(inline="always", cache=True)
def listing_of(pop: Population, i: int) -> Listing:
    """Agent ``i``'s :class:`Listing`, read from the state.

    An agent off the list is never court-listed or wrongly listed and has no listing day
    (exits clear all three), so only a listed agent's are read: most agents are not listed.
    """
    above = np.int64(pop.days_above_exit[i])
    score = np.float64(pop.score[i])  # stored in single precision; the rules compute in double
    if pop.blacklisted[i]:
        record = pop.record[i]
        court, wrongly = is_set(record, COURT_LISTED), is_set(record, LISTED_WRONGLY)
        return Listing(score, True, court, wrongly, np.int64(pop.listed_day[i]), above)
    return Listing(score, False, False, False, np.int64(-1), above)


@nb.njit(inline="always", cache=True)
def record_day(pop: Population, i: int, listing: Listing, flags: np.uint8, event: int, denials: int) -> None:
    """Write agent ``i``'s day into the state: its new listing, whether it was ever (wrongly) sanctioned, and
    its ``denials`` today for the groups' next row (docs/model.md §15).

    A listing changes only with a judgment or an event (entry, exit): most agents' does
    not on a given day, and storing every field anyway cost phase D a third more time.
    """
    if event != NO_EVENT or flags & JUDGED:
        pop.score[i] = listing.score
        pop.blacklisted[i] = listing.blacklisted
        court = with_flag(pop.record[i], COURT_LISTED, listing.court_listed)
        pop.record[i] = with_flag(court, LISTED_WRONGLY, listing.listed_wrongly)
        pop.listed_day[i] = listing.listed_day
    pop.days_above_exit[i] = listing.days_above_exit
    if flags & SANCTIONED:
        pop.record[i] |= EVER_SANCTIONED
    if flags & WRONGLY_SANCTIONED:
        pop.record[i] |= EVER_WRONGLY_SANCTIONED
    if denials:
        pop.denials_since_row[i] += denials


@nb.njit(inline="always", cache=True)
def court_and_list(
    params: SanctionsParams, seed: int, t: int, i: int, attributed: np.unsignedinteger, listing: Listing,
    wrongful: float,
) -> tuple[Listing, np.uint8, int]:  # fmt: skip
    """Items 1–4 for alive agent ``i`` on day ``t``, from its ``listing`` after phase C and its ``wrongful`` part.

    Returns its new listing, its ``ENTERED`` and ``JUDGED`` flags, and the day's event,
    ``ENTRIES_SCORE``, ``ENTRIES_COURT``, ``EXITS`` or :data:`NO_EVENT` (an agent listed
    today cannot leave the list today, so there is at most one).
    """
    flags = np.uint8(0)
    event = NO_EVENT
    s, listed, court, wrongly, day = (listing.score, listing.blacklisted, listing.court_listed,
                                      listing.listed_wrongly, listing.listed_day)  # fmt: skip
    # 1. court
    if attributed != 0:
        for b in range(params.escalation.shape[0]):
            if params.escalation[b] > 0.0 and has(attributed, b):
                if uniform(seed, params.court_stream[b], t, i, 0) < params.escalation[b]:
                    flags |= JUDGED
                    s = stored_score(lesser(greater(s - params.court_points, params.score_min), params.score_max))
                    if not listed:
                        event = ENTRIES_COURT
                        day = t
                        flags |= ENTERED
                    listed = True
                    court = True
                    wrongly = False
    # 2. score listing
    if not listed and s < params.blacklist_score:
        listed = True
        wrongly = s + wrongful >= params.blacklist_score
        day = t
        flags |= ENTERED
        event = ENTRIES_SCORE
    # 3. exit counter
    above = days_above(params, s, listing.days_above_exit)
    # 4. exit
    if listed and day < t:
        if court:
            leaves = uniform(seed, params.exit_stream, t, i, 0) < params.court_exit_rate
        else:
            leaves = above >= params.exit_days
        if leaves:
            listed = False
            court = False
            wrongly = False
            day = -1
            event = EXITS
    return Listing(s, listed, court, wrongly, day, above), flags, event


@nb.njit(inline="always", cache=True)
def days_above(params: SanctionsParams, score: float, days_above_exit: int) -> int:
    """Item 3: consecutive days at or above ``blacklist_exit_score``, counting today's ``score``."""
    return pick(score >= params.exit_score, np.int64(days_above_exit) + 1, np.int64(0))


@nb.njit(inline="always", cache=True)
def is_quiet(
    params: SanctionsParams, score: float, blacklisted: bool, received: np.unsignedinteger,
    attributed: np.unsignedinteger,
) -> bool:  # fmt: skip
    """Whether :func:`sanction_day` changes nothing for an alive agent but its days above the exit score: off the
    list, no behaviour that may go to court attributed, no dissent points, and a score at or above every
    threshold of listing and sanctions (so no flag, no event, no denial). Written without a branch, so that the
    CPU driver's loop that settles the quiet agents vectorises."""
    no_court = (attributed & params.court_bits) == 0
    no_dissent = (received & params.dissent_bit) == 0
    return (not blacklisted) & no_court & no_dissent & (score >= params.quiet_from)


@nb.njit(inline="always", cache=True)
def sanction_active(score: float, blacklisted: bool, applies_below: float, applies_to_blacklisted: bool) -> bool:
    """Whether a sanction is active (item 6)."""
    return score < applies_below or (applies_to_blacklisted and blacklisted)


@nb.njit(inline="always", cache=True)
def wrongful_sanction(
    score: float, wrongful: float, listed_wrongly: bool, blacklisted: bool, applies_below: float,
    applies_to_blacklisted: bool,
) -> bool:  # fmt: skip
    """Item 7: every condition that makes the (active) sanction active is wrongful."""
    by_score = score < applies_below
    by_list = applies_to_blacklisted and blacklisted
    wrong_score = (not by_score) or applies_below <= score + wrongful
    wrong_list = (not by_list) or listed_wrongly
    return wrong_score and wrong_list


@nb.njit(inline="always", cache=True)
def sanction_outcome(
    params: SanctionsParams, k: int, seed: int, t: int, i: int, score: float, wrongful: float, listed: bool,
    listed_wrongly: bool,
) -> tuple[np.uint8, int, np.uint8]:  # fmt: skip
    """Items 6–7 for sanction ``k`` of agent ``i``: ``(active, denied, wrongful)``, each 0 or 1."""
    below, to_listed, rate = params.applies_below[k], params.applies_to_blacklisted[k], params.attempt_rate[k]
    if not sanction_active(score, listed, below, to_listed):
        return np.uint8(0), 0, np.uint8(0)
    denied = rate >= 1.0 or (rate > 0.0 and uniform(seed, params.attempt_stream[k], t, i, 0) < rate)
    wrong = wrongful_sanction(score, wrongful, listed_wrongly, listed, below, to_listed)
    return np.uint8(1), 1 if denied else 0, np.uint8(1) if wrong else np.uint8(0)


@nb.njit(inline="always", cache=True)
def sanction_day(
    params: SanctionsParams, seed: int, t: int, i: int, received: np.unsignedinteger, attributed: np.unsignedinteger,
    listing: Listing, wrongful: float, denials: np.ndarray,
) -> tuple[Listing, np.uint8, int, int]:  # fmt: skip
    """Items 1–7 for alive agent ``i``: its new listing, status flags, listing event and number of denials.

    Each denial is also tallied by sanction in ``denials``.

    ``received``: the behaviours whose points reached the agent today, rightly or
    wrongly; ``attributed``: its own instances attributed to it (they may go to court).
    """
    listing, flags, event = court_and_list(params, seed, t, i, attributed, listing, wrongful)
    s, listed = listing.score, listing.blacklisted
    refused = 0
    if s < params.highest_bound or listed:  # none can be active above every bound and off the list
        for k in range(params.attempt_rate.shape[0]):
            active, denied, wrong = sanction_outcome(params, k, seed, t, i, s, wrongful, listed, listing.listed_wrongly)
            flags |= active * SANCTIONED | wrong * WRONGLY_SANCTIONED
            tally(denials, k, denied)
            refused += denied
    # Friends are chilled by a new listing or by dissent points (docs/model.md §7.2).
    if (flags & ENTERED) or (received & params.dissent_bit) != 0:
        flags |= TOUCHED
    return listing, flags, event, refused


@nb.njit(inline="always", cache=True)
def tier_index(score: float, bounds: np.ndarray) -> int:
    """The agent's tier (item 5): the first (highest) whose ``min_score ≤ score``; the last has no bound."""
    tier = 0
    while tier < bounds.shape[0] and score < bounds[tier]:
        tier += 1
    return tier


@nb.njit(cache=True)
def tier_of(score: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """:func:`tier_index` of every score."""
    out = np.empty(score.shape[0], dtype=np.int8)
    for i in range(score.shape[0]):
        out[i] = tier_index(score[i], bounds)
    return out


# ---------------------------------------------------------------------------------- the CPU driver


class SanctionsPhase:
    """Lists, delists and sanctions agents."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = SanctionsParams.from_scenario(scenario)

    def step(self, world: World, day: Day) -> None:
        """Run items 1–7 for every alive agent."""
        _court_list_sanction(world.seed, day.t, self.params, world.population, day.outcomes, day.tallies)


@nb.njit(parallel=True, cache=True)
def _court_list_sanction(
    seed: int, t: int, params: SanctionsParams, pop: Population, out: Outcomes, tallies: Tallies
) -> None:
    for c in nb.prange(tallies.listing.shape[0]):
        # Counters are local while the chunk is scanned (stores into shared arrays would
        # make the compiler reload every input after each one).
        denials = np.zeros(params.attempt_rate.shape[0], dtype=np.int64)
        _sanction_chunk(c, seed, t, params, pop, out, tallies, denials)


@chunk_function
def _sanction_chunk(
    c: int, seed: int, t: int, params: SanctionsParams, pop: Population, out: Outcomes, tallies: Tallies,
    denials: np.ndarray,
) -> None:  # fmt: skip
    # 64 agents at a time: a loop of selects (it vectorises) settles the quiet agents, for
    # whom sanction_day only counts days above the exit score (is_quiet), and marks the
    # others, a few percent, whom the rule then takes one by one.
    entries_score = entries_court = exits = 0
    lo, hi = agents_of(c, pop.score.shape[0])
    for first in range(lo, hi, np.uint64(64)):
        last = lesser(hi, first + np.uint64(64))
        busy = _settle_quiet(params, first, last, pop, out)
        while busy:
            i = first + np.uint64(lowest_bit(busy))
            busy &= busy - np.uint64(1)
            attributed = out.attributed[i]
            wrongful = np.float64(pop.wrongful[i])  # stored in single precision
            listing, flags, event, refused = sanction_day(params, seed, t, i, attributed | out.wrongly_received[i],
                                                          attributed, listing_of(pop, i), wrongful, denials)
            record_day(pop, i, listing, flags, event, refused)
            entries_score += event == ENTRIES_SCORE
            entries_court += event == ENTRIES_COURT
            exits += event == EXITS
            out.status[i] = flags
    tallies.listing[c, ENTRIES_SCORE] = entries_score
    tallies.listing[c, ENTRIES_COURT] = entries_court
    tallies.listing[c, EXITS] = exits
    for k in range(denials.shape[0]):
        tallies.denials[c, k] = denials[k]


@nb.njit(inline="always", cache=True)
def _settle_quiet(params: SanctionsParams, first: int, last: int, pop: Population, out: Outcomes) -> np.uint64:
    # Agents first … last-1: an emigrant's or quiet agent's day (status 0; a quiet one's exit
    # counter as court_and_list counts it), and bit i − first for each of the others.
    busy = np.uint64(0)
    for i in range(first, last):
        score = np.float64(pop.score[i])
        attributed = out.attributed[i]
        quiet = is_quiet(params, score, pop.blacklisted[i], attributed | out.wrongly_received[i], attributed)
        alive = not pop.emigrated[i]
        above = days_above(params, score, pop.days_above_exit[i])
        pop.days_above_exit[i] = pick(alive & quiet, above, np.int64(pop.days_above_exit[i]))
        out.status[i] = pick(alive & (not quiet), out.status[i], np.uint8(0))
        busy |= np.uint64(alive & (not quiet)) << np.uint64(i - first)
    return busy
