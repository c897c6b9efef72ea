"""Rollout of channel coverage over time (docs/model.md §8).

Each channel's coverage in each region follows a schedule of ``(start_day, coverage)``
points: 0 before the first point, linear between points, flat after the last.
"""

from __future__ import annotations

import itertools

import numpy as np

from trustsim.scenario import CHANNELS, Scenario, SchedulePoint


def schedule_value(points: list[SchedulePoint], day: int) -> float:
    """Coverage of one schedule on ``day``."""
    if not points or day < points[0].day:
        return 0.0
    for before, after in itertools.pairwise(points):
        if before.day <= day < after.day:
            share = (day - before.day) / (after.day - before.day)
            return before.coverage + (after.coverage - before.coverage) * share
    return points[-1].coverage


def coverage_table(scenario: Scenario, days: int) -> np.ndarray:
    """Coverage of every channel in every region on every day: shape ``(T, channels, R)``.

    Channels are in the order of :data:`trustsim.scenario.CHANNELS`.
    """
    table = np.zeros((days, len(CHANNELS), scenario.n_regions), dtype=np.float64)
    for c, name in enumerate(CHANNELS):
        channel = getattr(scenario.channels, name)
        for r, region in enumerate(scenario.regions):
            points = channel.region_schedules.get(region.name, channel.schedule)
            table[:, c, r] = [schedule_value(points, t) for t in range(days)]
    return table
