"""Phase C — points and the score update (MODEL.md §5).

Points of instances that stand are summed into ``Δ(i)``: the agent's own correctly
attributed instances in behaviour order, plus the points of misattributions that
landed on it (summed by phase B in order of actor id then behaviour, so float sums
do not depend on the thread count). ``Δw`` is the sum of the *negative* wrongful
points only: the text defines it as ``≤ 0``, and a misattributed good deed
(possible only for a positive camera behaviour) does not reduce the deficit.

Then every alive agent updates synchronously from the start-of-day scores::

    score'    = clamp(score + Δ + ρ·(target − score) + κ·(m − score), score_min, score_max)
    wrongful' = max(0, (1 − ρ)·wrongful − Δw)

With the ``expiry`` memory (a credit file, :mod:`trustsim.mechanisms.credit_file`) there is
no recovery and no contagion; the points of day ``t − M`` leave the file's unclamped balance::

    balance'  = balance + Δ − Δ(t − M);   score' = clamp(balance', score_min, score_max)
    wrongful' = max(0, wrongful − Δw + Δw(t − M))

``m`` is the mean start-of-day score of the agent's active friends (the first
``degree[i]`` slots of its row). Edges of emigrants are cut when they leave, so
active edges only join alive agents. The new scores go to the other half of a double
buffer, which then becomes ``population.score``: no copy of the start-of-day scores.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from trustsim.day import Day, has
from trustsim.mechanisms.credit_file import CreditFile
from trustsim.prefetch import prefetch
from trustsim.scenario import Scenario
from trustsim.world import World


def recovery_rate(half_life_days: float | None) -> float:
    """``ρ = 1 − 2^(−1/half_life)``, or 0 without recovery."""
    return 0.0 if half_life_days is None else 1.0 - math.pow(2.0, -1.0 / half_life_days)


class ScoringPhase:
    """Applies today's points and moves every score."""

    phase = "C"

    def __init__(self, scenario: Scenario, credit_file: CreditFile | None = None) -> None:
        """``credit_file``: the file whose records expire (the ``expiry`` memory), or None to recover."""
        self.credit_file = credit_file
        self._no_file = np.empty(0, dtype=np.float64)
        self.points = np.array([b.points for b in scenario.behaviours.values()], dtype=np.float64)
        score = scenario.score
        self.rho = recovery_rate(score.recovery_half_life_days)
        self.kappa = score.contagion
        self.bounds = (score.score_min, score.score_max)
        self.targets = (score.base_score, score.off_grid_score)

    def step(self, world: World, day: Day) -> None:
        """Update ``score`` and ``wrongful`` from today's points and the start-of-day scores."""
        pop = world.population
        net = world.network
        file = self.credit_file
        if file is not None:
            file.open_day(day.t, day.landed_wrongful)
            expiring = (file.balance, file.expiring_points, file.expiring_wrongful, file.today_points)
        else:
            expiring = (self._no_file, self._no_file, self._no_file, self._no_file)
        _update(
            self.points, pop.emigrated, day.attributed, day.wrongly_received, day.landed_points,
            day.landed_wrongful, pop.off_grid, net.offsets, net.neighbours, world.degree,
            self.rho, self.kappa, self.targets[0], self.targets[1], self.bounds[0], self.bounds[1],
            *expiring, pop.score, day.score_next, pop.wrongful,
        )  # fmt: skip
        if file is not None:
            file.file_day(day.t)
        pop.score, day.score_next = day.score_next, pop.score


def lone_score_path(scenario: Scenario, points_by_day: dict[int, float], days: int) -> np.ndarray:
    """The score, day by day, of one agent who receives only ``points_by_day`` ({day: points}).

    The update of phase C with the scenario's memory (recovery towards ``base_score``, or a
    credit file whose points expire), with no friends' pull (κ = 0), no court and no other
    behaviour: how long one record follows a person, other things equal.
    """
    score = scenario.score
    rho = recovery_rate(score.recovery_half_life_days)
    s = balance = float(score.base_score)
    path = np.empty(days)
    for t in range(days):
        delta = points_by_day.get(t, 0.0)
        if score.expires:
            balance += delta - points_by_day.get(t - (score.memory_days or 0), 0.0)
            s = balance
        else:
            s = s + delta + rho * (score.base_score - s)
        s = min(max(s, score.score_min), score.score_max)
        path[t] = s
    return path


_BLOCK = 1024
"""Agents whose friends' scores are gathered together (a buffer that stays in cache)."""
_AHEAD = 128
"""How many slots ahead the gather prefetches a friend's score."""


@nb.njit(inline="always", cache=True)
def _friends_total(friend_scores, start, end):
    # Two interleaved partial sums (even and odd slots, added at the end) halve the
    # chain of dependent additions; the order is fixed, so results stay independent
    # of threads and machines.
    even = 0.0
    odd = 0.0
    slot = start
    while slot + 1 < end:
        even += friend_scores[slot]
        odd += friend_scores[slot + 1]
        slot += 2
    if slot < end:
        even += friend_scores[slot]
    return even + odd


@nb.njit(inline="always", cache=True)
def own_points(points, attributed):
    """Sum of the points of the agent's own attributed instances, in behaviour order (CPU and GPU kernels)."""
    total = 0.0
    if attributed != 0:
        for b in range(points.shape[0]):
            if has(attributed, b):
                total += points[b]
    return total


@nb.njit(parallel=True, cache=True)
def _update(
    points, emigrated, attributed, wrongly_received, landed_points, landed_wrongful, off_grid,
    offsets, neighbours, degree, rho, kappa, base_score, off_grid_score, score_min, score_max,
    balance, expiring_points, expiring_wrongful, today_points, score_start, score, wrongful,
):  # fmt: skip
    n = score.shape[0]
    expiry = balance.shape[0] != 0  # a credit file (its arrays are empty otherwise)
    for block in nb.prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = block * _BLOCK, min(n, (block + 1) * _BLOCK)
        # First every slot of the block's rows is gathered in one flat loop: its loads are
        # independent, so the CPU keeps many cache misses in flight, which a loop over
        # rows of varying length (one mispredicted exit per row) would not.
        first = offsets[lo]
        friend_scores = np.empty(offsets[hi] - first if kappa != 0.0 else 0, dtype=np.float64)
        ahead = min(_AHEAD, friend_scores.shape[0])
        for k in range(friend_scores.shape[0] - ahead):
            prefetch(score_start, neighbours[first + k + ahead])
            friend_scores[k] = score_start[neighbours[first + k]]
        for k in range(friend_scores.shape[0] - ahead, friend_scores.shape[0]):
            friend_scores[k] = score_start[neighbours[first + k]]
        for i in range(lo, hi):
            s = score_start[i]
            if emigrated[i]:
                score[i] = s
                continue
            delta = own_points(points, attributed[i])
            delta_wrongful = 0.0
            if wrongly_received[i] != 0:
                delta += landed_points[i]
                delta_wrongful = landed_wrongful[i]
                landed_points[i] = 0.0
                landed_wrongful[i] = 0.0
            friends_mean = s
            if kappa != 0.0 and degree[i] > 0:
                row = offsets[i] - first
                friends_mean = _friends_total(friend_scores, row, row + degree[i]) / degree[i]
            if expiry:
                today_points[i] = delta
                balance[i] = balance[i] + delta - expiring_points[i]  # no contagion with expiry (scenario.py)
                score[i] = min(max(balance[i], score_min), score_max)
                wrongful[i] = max(0.0, wrongful[i] - delta_wrongful + expiring_wrongful[i])
                continue
            target = off_grid_score if off_grid[i] else base_score
            new = s + delta + rho * (target - s) + kappa * (friends_mean - s)
            score[i] = min(max(new, score_min), score_max)
            wrongful[i] = max(0.0, (1.0 - rho) * wrongful[i] - delta_wrongful)
