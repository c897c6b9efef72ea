"""Phase C — points and the score update (docs/model.md §5).

Points of instances that stand are summed into ``Δ(i)``: the agent's own correctly
attributed instances in behaviour order (:func:`own_points`), plus the points of
misattributions that landed on it (summed by phase B in order of actor id then
behaviour, so float sums do not depend on the thread count). ``Δw`` is the sum of the
*negative* wrongful points only: the model defines it as ``≤ 0``, and a misattributed
good deed (possible only for a positive camera behaviour) does not reduce the deficit.

Then every alive agent updates synchronously from the start-of-day scores
(:func:`update_agent`: :func:`points_today`, :func:`new_score`, :func:`new_wrongful`)::

    score'    = clamp(score + Δ + ρ·(target − score) + κ·(m − score), score_min, score_max)
    wrongful' = max(0, (1 − ρ)·wrongful − Δw)

With the ``expiry`` memory (a credit file, :mod:`trustsim.mechanisms.credit_file`) there is
no recovery and no contagion; the points of day ``t − M`` leave the file's unclamped
balance (:func:`filed_balance`, :func:`filed_score`; CPU only)::

    balance'  = balance + Δ − Δ(t − M);   score' = clamp(balance', score_min, score_max)
    wrongful' = max(0, wrongful − Δw + Δw(t − M))

``m`` is the mean start-of-day score of the agent's active friends (the active positions
of its row), with households the weighted family too
(:func:`family_scores`, docs/model.md §14). The friends' scores are summed in one sum, in
row order: the lattice friends ``i-half … i-1``, ``i+1 … i+half``, then the others in id
order (:mod:`trustsim.network.graph`). This order is part of the backends' contract (the
GPU kernel sums the same way), so both give the same ``m`` to the last bit
(:func:`friends_mean`). Edges of emigrants are cut when they leave, so
active edges only join alive agents. The new scores go to the other half of a double
buffer, which then becomes ``population.score``: no copy of the start-of-day scores.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.day import Day, Outcomes, chunk_function, has, lowest_bit
from trustsim.households import Households, family_of
from trustsim.mechanisms.credit_file import CreditFile
from trustsim.network import Links
from trustsim.network.gather import gather_friends, terms_needed
from trustsim.population import OFF_GRID, Population, is_set
from trustsim.scalar import greater, lesser, pick, product
from trustsim.scenario import Scenario
from trustsim.world import World


def recovery_rate(half_life_days: float | None) -> float:
    """``ρ = 1 − 2^(−1/half_life)``, or 0 without recovery."""
    return 0.0 if half_life_days is None else 1.0 - math.pow(2.0, -1.0 / half_life_days)


class ScoringParams(NamedTuple):
    """Phase C's parameters."""

    points: np.ndarray  # float64, per behaviour
    rho: float  # recovery towards the target each day
    kappa: float  # contagion: pull towards the friends' mean
    base_score: float
    off_grid_score: float
    score_min: float
    score_max: float
    family_weight: float  # a family member's weight against a friend's in m(i) (docs/model.md §14)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ScoringParams:
        """The parameters of ``scenario``."""
        score = scenario.score
        return cls(
            points=np.array([b.points for b in scenario.behaviours.values()], dtype=np.float64),
            rho=recovery_rate(score.recovery_half_life_days),
            kappa=float(score.contagion),
            base_score=float(score.base_score),
            off_grid_score=float(score.off_grid_score),
            score_min=float(score.score_min),
            score_max=float(score.score_max),
            family_weight=float(scenario.households.family_weight) if scenario.households is not None else 0.0,
        )


# ---------------------------------------------------------------------------------- the rules


@nb.njit(inline="always", cache=True)
def own_points(params: ScoringParams, attributed: np.unsignedinteger) -> float:
    """Sum of the points of the agent's own attributed instances, in behaviour order."""
    total = 0.0
    if attributed != 0:
        for b in range(params.points.shape[0]):
            if has(attributed, b):
                total += params.points[b]
    return total


@nb.njit(inline="always", cache=True)
def points_today(params: ScoringParams, i: int, out: Outcomes) -> tuple[float, float]:
    """``Δ`` and ``Δw`` of agent ``i`` today: its own attributed points, then those of misattributions landed on it.

    The landed points are cleared once read (they are summed afresh each day).
    """
    delta = own_points(params, out.attributed[i])
    delta_wrongful = 0.0
    if out.wrongly_received[i] != 0:
        delta += np.float64(out.landed_points[i])  # stored in single precision, added in double
        delta_wrongful = np.float64(out.landed_wrongful[i])
        out.landed_points[i] = 0.0
        out.landed_wrongful[i] = 0.0
    return delta, delta_wrongful


@nb.njit(inline="always", cache=True)
def family_scores(households: Households, i: int, score: np.ndarray, emigrated: np.ndarray) -> tuple[float, int]:
    """The sum (in id order) and number of the start-of-day scores of agent ``i``'s family: its household's other
    alive adults (docs/model.md §14); none without households."""
    lo, hi = family_of(households, i)
    total = 0.0
    count = 0
    for j in range(lo, hi):
        if j != i and not emigrated[j]:
            total += np.float64(score[j])
            count += 1
    return total, count


@nb.njit(inline="always", cache=True)
def friends_mean(
    params: ScoringParams, total: float, count: int, family_total: float, family_count: int, own: float
) -> float:
    """``m(i)``: the friends' scores (summed in row order, :mod:`trustsim.network.graph`) over their number; own
    without.

    With family (docs/model.md §14), ``(Σ friends + w·Σ family) / (n_friends + w·n_family)``.
    """
    if family_count == 0:  # a select, so that the loop over agents without points vectorises
        return pick(count > 0, total / greater(count, 1), own)
    weight = params.family_weight
    denominator = count + product(weight, np.float64(family_count))
    if denominator == 0.0:
        return own
    return (total + product(weight, family_total)) / denominator


@nb.njit(inline="always", cache=True)
def clamp(params: ScoringParams, score: float) -> float:
    """The score held within ``[score_min, score_max]``."""
    return lesser(greater(score, params.score_min), params.score_max)


@nb.njit(inline="always", cache=True)
def new_score(params: ScoringParams, score: float, delta: float, off_grid: bool, mean: float) -> float:
    """Tomorrow's score from today's: points, recovery towards the target, contagion, clamped."""
    target = pick(off_grid, params.off_grid_score, params.base_score)
    moved = score + delta + product(params.rho, target - score) + product(params.kappa, mean - score)
    return clamp(params, moved)


@nb.njit(inline="always", cache=True)
def new_wrongful(params: ScoringParams, wrongful: float, delta_wrongful: float) -> float:
    """Tomorrow's wrongful part: recovering like the score's deficit, plus today's wrongful points (``Δw ≤ 0``)."""
    return greater(0.0, product(1.0 - params.rho, wrongful) - delta_wrongful)


@nb.njit(inline="always", cache=True)
def update_agent(
    params: ScoringParams, i: int, mean: float, pop: Population, out: Outcomes, score: np.ndarray
) -> None:
    """Alive agent ``i``'s score tomorrow (into ``score[i]``) and wrongful part, with ``m(i) = mean``."""
    delta, delta_wrongful = points_today(params, i, out)
    # Stored in single precision, read as double: a rule computes in double on either backend.
    off_grid = is_set(pop.adapted[i], OFF_GRID)
    score[i] = new_score(params, np.float64(pop.score[i]), delta, off_grid, np.float64(mean))
    pop.wrongful[i] = new_wrongful(params, np.float64(pop.wrongful[i]), delta_wrongful)
    note_wrongful_points(pop, i, delta_wrongful)


@nb.njit(inline="always", cache=True)
def note_wrongful_points(pop: Population, i: int, delta_wrongful: float) -> None:
    """Keep today's wrongful points (``−Δw``) for the groups' next row (docs/model.md §15)."""
    if delta_wrongful != 0.0:
        pop.wrongful_since_row[i] = np.float64(pop.wrongful_since_row[i]) - delta_wrongful


@nb.njit(inline="always", cache=True)
def filed_balance(balance: float, delta: float, expiring: float) -> float:
    """A credit file's balance (``expiry`` memory): today's points in, those of day ``t − M`` out."""
    return balance + delta - expiring


@nb.njit(inline="always", cache=True)
def filed_score(params: ScoringParams, balance: float) -> float:
    """The score of a credit file (``expiry`` memory): its balance, clamped."""
    return clamp(params, balance)


@nb.njit(inline="always", cache=True)
def filed_wrongful(wrongful: float, delta_wrongful: float, expiring_wrongful: float) -> float:
    """The wrongful part on a credit file: today's wrongful points in, those of day ``t − M`` out."""
    return greater(0.0, wrongful - delta_wrongful + expiring_wrongful)


# ---------------------------------------------------------------------------------- the CPU driver


class ScoringPhase:
    """Applies today's points and moves every score."""

    def __init__(self, scenario: Scenario, credit_file: CreditFile | None = None) -> None:
        """``credit_file``: the file whose records expire (the ``expiry`` memory), or None to recover."""
        self.params = ScoringParams.from_scenario(scenario)
        self.credit_file = credit_file
        self._no_file = np.empty(0, dtype=np.float64)

    def step(self, world: World, day: Day) -> None:
        """Update ``score`` and ``wrongful`` from today's points and the start-of-day scores."""
        net = world.network
        file = self.credit_file
        if file is not None:
            file.open_day(day.t, day.outcomes.landed_wrongful)
            filed = (file.balance, file.expiring_points, file.expiring_wrongful, file.today_points)
        else:
            filed = (self._no_file, self._no_file, self._no_file, self._no_file)
        _update(self.params, world.population, day.outcomes, net.links, world.degree, world.households, filed,
                day.score_next)  # fmt: skip
        if file is not None:
            file.file_day(day.t)
        start_of_day = world.population.score
        world.population = world.population._replace(score=day.score_next)
        day.score_next = start_of_day


def lone_score_path(scenario: Scenario, points_by_day: dict[int, float], days: int) -> np.ndarray:
    """The score, day by day, of one agent who receives only ``points_by_day`` ({day: points}).

    The update of phase C with the scenario's memory (recovery towards ``base_score``, or a
    credit file whose points expire), with no friends' pull (κ = 0), no court and no other
    behaviour: how long one record follows a person, other things equal.
    """
    params = ScoringParams.from_scenario(scenario)._replace(kappa=0.0)
    memory_days = scenario.score.memory_days or 0
    s = balance = params.base_score
    path = np.empty(days)
    for t in range(days):
        delta = points_by_day.get(t, 0.0)
        if scenario.score.expires:
            balance = filed_balance(balance, delta, points_by_day.get(t - memory_days, 0.0))
            s = filed_score(params, balance)
        else:
            s = new_score(params, s, delta, False, s)
        path[t] = s
    return path


_BLOCK = 1024
"""Agents whose friends' scores are summed together (a buffer that stays in cache)."""


@nb.njit(inline="always", cache=True)
def _score_term(score: np.float32, live: np.int32) -> float:
    """A friend's start-of-day score in the friends' sum, 0 for a position whose edge is not active."""
    return np.float64(score) * np.float64(live)


@nb.njit(parallel=True, cache=True)
def _update(
    params: ScoringParams, pop: Population, out: Outcomes, links: Links, degree: np.ndarray,
    households: Households, filed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], score: np.ndarray,
) -> None:  # fmt: skip
    n = score.shape[0]
    contagion = params.kappa != 0.0
    for block in nb.prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = block * _BLOCK, min(n, (block + 1) * _BLOCK)
        sums = np.empty(hi - lo if contagion else 0, dtype=np.float64)
        terms = np.empty(terms_needed(links, lo, hi) if contagion else 0, dtype=np.float64)
        _update_block(lo, hi, params, pop, out, links, degree, households, filed, score, sums, terms)


@chunk_function
def _update_block(
    lo: int, hi: int, params: ScoringParams, pop: Population, out: Outcomes, links: Links, degree: np.ndarray,
    households: Households, filed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], score: np.ndarray,
    sums: np.ndarray, terms: np.ndarray,
) -> None:  # fmt: skip
    housed = households.member_of.shape[0] != 0
    score_start, wrongful, emigrated = pop.score, pop.wrongful, pop.emigrated
    balance, expiring_points, expiring_wrongful, today_points = filed
    expiry = balance.shape[0] != 0  # a credit file (its arrays are empty otherwise)
    contagion = params.kappa != 0.0
    if contagion:  # every agent's friends' scores, summed in row order: the lattice's, then the others
        gather_friends(lo, hi, links, score_start, sums, _score_term, terms)
    first = np.uint64(lo)
    if not (expiry or housed):
        _update_by_words(lo, hi, params, pop, out, degree, score, sums)
        return
    for i in range(first, np.uint64(hi)):  # unsigned indices, as day.agents_of gives them
        s = score_start[i]
        if emigrated[i]:
            score[i] = s
        elif expiry:  # no contagion and no recovery with expiry (scenario validation)
            delta, delta_wrongful = points_today(params, i, out)
            today_points[i] = delta
            balance[i] = filed_balance(balance[i], delta, expiring_points[i])
            score[i] = filed_score(params, balance[i])
            wrongful[i] = filed_wrongful(wrongful[i], delta_wrongful, expiring_wrongful[i])
            note_wrongful_points(pop, i, delta_wrongful)
        else:
            mean = s
            if contagion:  # with households (without them, _update_by_words takes the agents)
                family = family_scores(households, i, score_start, emigrated)
                mean = friends_mean(params, sums[i - first], degree[i], family[0], family[1], s)
            update_agent(params, i, mean, pop, out, score)


@nb.njit(inline="always", cache=True)
def _update_by_words(lo, hi, params, pop, out, degree, score, sums):
    # Agents lo … hi-1 without households or a credit file, 64 at a time: first every agent as if
    # it had no points today (most have none), in a loop of selects that vectorises; then
    # update_agent for the few alive agents with points, from the same start of day (their
    # wrongful part is left for it). No points make Δ = Δw = 0.0, and adding 0.0 changes no
    # score, so every agent's update is the same, bit for bit, as update_agent's.
    contagion = params.kappa != 0.0
    for word_first in range(lo, hi, 64):
        first, last = np.uint64(word_first), np.uint64(min(hi, word_first + 64))
        word_sums = sums[word_first - lo :]  # empty without contagion
        busy = _update_pointless(params, first, last, pop, out, degree, score, word_sums, contagion)
        while busy:
            i = first + np.uint64(lowest_bit(busy))
            busy &= busy - np.uint64(1)
            mean = _mean_without_family(params, contagion, word_sums[i - first], degree[i], pop.score[i])
            update_agent(params, i, mean, pop, out, score)


@nb.njit(inline="always", cache=True)
def _update_pointless(params, first, last, pop, out, degree, score, sums, contagion):
    # Agents first … last-1 (sums[i - first]: agent i's friends' sum, with contagion): an emigrant's
    # score kept; an alive agent's moved as with no points today. Returns bit i − first for each
    # alive agent that got points today, whose update this leaves to update_agent.
    busy = np.uint64(0)
    score_start, wrongful, emigrated, adapted = pop.score, pop.wrongful, pop.emigrated, pop.adapted
    for i in range(first, last):
        s = np.float64(score_start[i])
        mean = _mean_without_family(params, contagion, sums[i - first], degree[i], score_start[i])
        moved = np.float32(new_score(params, s, 0.0, is_set(adapted[i], OFF_GRID), mean))
        points = (out.attributed[i] | out.wrongly_received[i]) != 0
        settled = emigrated[i] | (not points)
        score[i] = pick(emigrated[i], score_start[i], moved)
        w = wrongful[i]
        wrongful[i] = pick(emigrated[i] | points, w, np.float32(new_wrongful(params, np.float64(w), 0.0)))
        busy |= np.uint64(not settled) << (i - first)
    return busy


@nb.njit(inline="always", cache=True)
def _mean_without_family(params, contagion, total, count, own):
    # m(i) without households: the friends' mean with contagion (total: their sum, not read
    # without contagion), the agent's own start-of-day score without.
    own = np.float64(own)
    return friends_mean(params, total, count, 0.0, 0, own) if contagion else own
