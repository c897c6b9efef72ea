"""Phase C on the GPU — points and the score update (docs/model.md §5): one thread per agent, calling
:func:`~trustsim.mechanisms.scoring.update_agent`.

The friends' start-of-day scores are summed as the CPU sums them, in one sum over the row's
active positions in row order (:func:`~trustsim.network.friend_at`), so the mean is the
same bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from trustsim.day import Day
from trustsim.gpu.common import THREADS, blocks, kernel, to_device
from trustsim.gpu.state import DeviceWorld
from trustsim.mechanisms.scoring import ScoringParams, family_scores, friends_mean, update_agent
from trustsim.network import friend_at, row_length
from trustsim.scenario import Scenario


class DeviceScoringPhase:
    """Applies today's points and moves every score."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = to_device(ScoringParams.from_scenario(scenario))
        self.contagion = scenario.score.contagion != 0.0

    def step(self, world: DeviceWorld, day: Day) -> None:
        """Update ``score`` and ``wrongful``; the new scores become ``population.score``."""
        net = world.network
        _update[blocks(world.n_agents), THREADS](self.params, self.contagion, world.population, day.outcomes,
                                                 net, world.degree, world.households, day.score_next)  # fmt: skip
        start_of_day = world.population.score
        world.population = world.population._replace(score=day.score_next)
        day.score_next = start_of_day


@kernel
def _update(
    params: Any, contagion: bool, pop: Any, out: Any, links: Any, degree: Any, households: Any, score: Any
) -> None:
    i = cuda.grid(1)
    if i >= score.shape[0]:
        return
    s = np.float64(pop.score[i])  # stored in single precision; summed in double, as on the CPU
    if pop.emigrated[i]:
        score[i] = s
        return
    mean = s
    if contagion:
        total = 0.0
        for q in range(row_length(links, i)):
            friend, live = friend_at(links, i, q)
            if live:
                total += np.float64(pop.score[friend])
        family_total, family_count = family_scores(households, i, pop.score, pop.emigrated)
        mean = friends_mean(params, total, degree[i], family_total, family_count, s)
    update_agent(params, i, mean, pop, out, score)
