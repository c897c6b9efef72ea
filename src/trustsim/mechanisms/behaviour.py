"""Phase A — behaviour (MODEL.md §3).

Every alive agent may commit each behaviour once a day, when
``U(beh:<b>, t, i) < p`` with ``p`` its base rate times frailty, deterrence,
adviser effect, outspoken multiplier and chill, capped at 1.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.day import CHUNK, Day
from trustsim.rng import stream_id, uniform
from trustsim.scenario import Scenario
from trustsim.world import World


class Behaviour:
    """Draws today's behaviour of every alive agent."""

    phase = "A"

    def __init__(self, scenario: Scenario) -> None:
        behaviours = list(scenario.behaviours.values())
        names = list(scenario.behaviours)
        self.streams = np.array([stream_id(f"beh:{name}") for name in names], dtype=np.int64)
        self.base_rate = np.array([b.base_rate for b in behaviours])
        self.negative = np.array([b.points < 0 for b in behaviours])
        self.outspoken_multiplier = np.array(
            [1.0 if b.outspoken_multiplier is None else b.outspoken_multiplier for b in behaviours]
        )
        self.dissent = names.index("dissent") if "dissent" in names else -1
        self.adviser_effect = scenario.adaptation.adviser_effect

    def step(self, world: World, day: Day) -> None:
        """Fill ``day.committed`` and count commitments and unchilled dissent."""
        pop = world.population
        _commit(
            world.seed, day.t, self.streams, self.base_rate, self.negative,
            self.outspoken_multiplier, self.dissent, self.adviser_effect,
            day.alive_start, pop.frailty, pop.deterrence, pop.advised, pop.outspoken, pop.chill,
            day.committed, day.committed_count, day.unchilled,
        )  # fmt: skip


@nb.njit(parallel=True, cache=True)
def _commit(
    seed, t, streams, base_rate, negative, outspoken_multiplier, dissent, adviser_effect,
    alive, frailty, deterrence, advised, outspoken, chill,
    committed, counts, unchilled,
):  # fmt: skip
    n, n_behaviours = committed.shape
    for c in nb.prange(counts.shape[0]):
        counts[c, :] = 0
        unchilled[c] = 0.0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not alive[i]:
                committed[i, :] = False
                continue
            for b in range(n_behaviours):
                p = base_rate[b] * frailty[i, b]
                if negative[b]:
                    p *= deterrence[i, b]
                    if advised[i]:
                        p *= adviser_effect
                if outspoken[i]:
                    p *= outspoken_multiplier[b]
                if b == dissent:
                    unchilled[c] += min(p, 1.0)
                    p *= chill[i]
                p = min(p, 1.0)
                hit = p > 0.0 and uniform(seed, streams[b], t, i, 0) < p
                committed[i, b] = hit
                if hit:
                    counts[c, b] += 1
