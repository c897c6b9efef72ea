"""Phase C on the GPU — points and the score update (MODEL.md §5): one thread per agent.

The mean of the friends' start-of-day scores is summed as the CPU sums it (even and
odd active slots apart, then added), over the row's active slots in id order: the CPU
keeps its active slots in that order too (:func:`trustsim.network.cut_edge`), so the
sums are equal bit for bit.

The formulas multiply with :func:`~trustsim.gpu.common.product` so that the CUDA
compiler cannot fuse a multiplication and an addition into one FMA (one rounding
instead of the CPU's two).
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from trustsim.gpu.common import THREADS, blocks, product, shared, upload_arrays
from trustsim.gpu.state import DeviceDay, DeviceWorld
from trustsim.mechanisms.scoring import ScoringPhase, own_points
from trustsim.scalar import greater, lesser
from trustsim.scenario import Scenario

_own_points = shared(own_points)


class DeviceScoringPhase(ScoringPhase):
    """Applies today's points and moves every score (parameters as :class:`ScoringPhase`)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        upload_arrays(self)

    def step(self, world: DeviceWorld, day: DeviceDay) -> None:  # type: ignore[override]
        """Update ``score`` and ``wrongful``; the new scores become ``population.score``."""
        pop, net = world.population, world.network
        _update[blocks(world.n_agents), THREADS](
            self.points, pop.emigrated, day.attributed, day.wrongly_received, day.landed_points,
            day.landed_wrongful, pop.off_grid, net.offsets, net.neighbours, net.active, world.degree,
            self.rho, self.kappa, self.targets[0], self.targets[1], self.bounds[0], self.bounds[1],
            pop.score, day.score_next, pop.wrongful,
        )  # fmt: skip
        pop.score, day.score_next = day.score_next, pop.score


@cuda.jit
def _update(
    points: Any, emigrated: Any, attributed: Any, wrongly_received: Any, landed_points: Any, landed_wrongful: Any,
    off_grid: Any, offsets: Any, neighbours: Any, active: Any, degree: Any, rho: float, kappa: float,
    base_score: float, off_grid_score: float, score_min: float, score_max: float, score_start: Any, score: Any,
    wrongful: Any,
) -> None:  # fmt: skip
    i = cuda.grid(1)
    if i >= score.shape[0]:
        return
    s = score_start[i]
    if emigrated[i]:
        score[i] = s
        return
    delta = _own_points(points, attributed[i])
    delta_wrongful = 0.0
    if wrongly_received[i] != 0:
        delta += landed_points[i]
        delta_wrongful = landed_wrongful[i]
        landed_points[i] = 0.0
        landed_wrongful[i] = 0.0
    friends_mean = s
    if kappa != 0.0 and degree[i] > 0:
        even = 0.0
        odd = 0.0
        parity = 0
        for slot in range(offsets[i], offsets[i + 1]):
            if active[slot]:
                if parity == 0:
                    even += score_start[neighbours[slot]]
                else:
                    odd += score_start[neighbours[slot]]
                parity ^= 1
        friends_mean = (even + odd) / degree[i]
    target = off_grid_score if off_grid[i] else base_score
    new = s + delta + product(rho, target - s) + product(kappa, friends_mean - s)
    score[i] = lesser(greater(new, score_min), score_max)
    wrongful[i] = greater(0.0, product(1.0 - rho, wrongful[i]) - delta_wrongful)
