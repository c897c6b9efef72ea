"""Phase C — points and the score update (MODEL.md §5).

Points of instances that stand are summed into ``Δ(i)``: correctly attributed ones
for the actor (in parallel), misattributions that survived review for the agent
they landed on (serially, in order of actor id then behaviour, so float sums do
not depend on the thread count). ``Δw`` is the sum of the *negative* wrongful
points only: the text defines it as ``≤ 0``, and a misattributed good deed
(possible only for a positive camera behaviour) does not reduce the deficit.

Then every alive agent updates synchronously from the start-of-day scores::

    score'    = clamp(score + Δ + ρ·(target − score) + κ·(m − score), score_min, score_max)
    wrongful' = max(0, (1 − ρ)·wrongful − Δw)

``m`` is the mean start-of-day score of the agent's active friends (the first
``degree[i]`` slots of its row). Edges of emigrants are cut when they leave, so
active edges only join alive agents.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from trustsim.day import ATTRIBUTED, CHUNK, MISATTRIBUTED, Day
from trustsim.scenario import Scenario
from trustsim.world import World


def recovery_rate(half_life_days: float | None) -> float:
    """``ρ = 1 − 2^(−1/half_life)``, or 0 without recovery."""
    return 0.0 if half_life_days is None else 1.0 - math.pow(2.0, -1.0 / half_life_days)


class ScoringPhase:
    """Applies today's points and moves every score."""

    phase = "C"

    def __init__(self, scenario: Scenario) -> None:
        self.points = np.array([b.points for b in scenario.behaviours.values()], dtype=np.float64)
        score = scenario.score
        self.rho = recovery_rate(score.recovery_half_life_days)
        self.kappa = score.contagion
        self.bounds = (score.score_min, score.score_max)
        self.targets = (score.base_score, score.off_grid_score)

    def step(self, world: World, day: Day) -> None:
        """Sum today's points into ``day.delta`` and update ``score`` and ``wrongful``."""
        pop = world.population
        net = world.network
        _own_points(self.points, day.alive_start, day.outcome, day.delta, day.delta_wrongful,
                    day.received, day.penalised_count)  # fmt: skip
        _misattributed_points(self.points, day.outcome, day.target, day.delta, day.delta_wrongful,
                              day.received, day.penalised_count[-1])  # fmt: skip
        _update(
            day.alive_start, day.score_start, day.delta, day.delta_wrongful, pop.off_grid,
            net.offsets, net.neighbours, world.degree,
            self.rho, self.kappa, self.targets[0], self.targets[1], self.bounds[0], self.bounds[1],
            pop.score, pop.wrongful,
        )  # fmt: skip


@nb.njit(parallel=True, cache=True)
def _own_points(points, alive, outcome, delta, delta_wrongful, received, penalised):
    n_behaviours, n = outcome.shape
    for c in nb.prange(penalised.shape[0] - 1):
        penalised[c, :] = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            delta[i] = 0.0
            delta_wrongful[i] = 0.0
            for b in range(n_behaviours):
                hit = alive[i] and outcome[b, i] == ATTRIBUTED
                received[b, i] = hit
                if hit:
                    delta[i] += points[b]
                    penalised[c, b] += 1


@nb.njit(cache=True)
def _misattributed_points(points, outcome, target, delta, delta_wrongful, received, penalised):
    n_behaviours, n = outcome.shape
    penalised[:] = 0
    for i in range(n):
        for b in range(n_behaviours):
            if outcome[b, i] == MISATTRIBUTED:
                j = target[b, i]
                delta[j] += points[b]
                if points[b] < 0.0:
                    delta_wrongful[j] += points[b]
                received[b, j] = True
                penalised[b] += 1


@nb.njit(inline="always", cache=True)
def _friends_total(score_start, neighbours, start, end):
    # Two interleaved partial sums (even and odd slots, added at the end) keep two
    # independent chains of random loads in flight; the order is fixed, so results
    # stay independent of threads and machines.
    even = 0.0
    odd = 0.0
    slot = start
    while slot + 1 < end:
        even += score_start[neighbours[slot]]
        odd += score_start[neighbours[slot + 1]]
        slot += 2
    if slot < end:
        even += score_start[neighbours[slot]]
    return even + odd


@nb.njit(parallel=True, cache=True)
def _update(
    alive, score_start, delta, delta_wrongful, off_grid, offsets, neighbours, degree,
    rho, kappa, base_score, off_grid_score, score_min, score_max, score, wrongful,
):  # fmt: skip
    for i in nb.prange(score.shape[0]):
        if not alive[i]:
            continue
        s = score_start[i]
        friends_mean = s
        if kappa != 0.0:
            if degree[i] > 0:
                friends_mean = _friends_total(score_start, neighbours, offsets[i], offsets[i] + degree[i]) / degree[i]
        target = off_grid_score if off_grid[i] else base_score
        new = s + delta[i] + rho * (target - s) + kappa * (friends_mean - s)
        score[i] = min(max(new, score_min), score_max)
        wrongful[i] = max(0.0, (1.0 - rho) * wrongful[i] - delta_wrongful[i])
