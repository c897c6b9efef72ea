"""How long a record follows a person: days under each sanction after one or two negative records.

For every negative behaviour of a scenario, a lone agent at ``base_score`` receives its
points once, or twice 30 days apart, and nothing else (:func:`trustsim.mechanisms.
scoring.lone_score_path`: no friends' pull, no court). The table counts the days each
sanction is then active: below its ``applies_below``, or on the list (entered below
``blacklist_score``, left after ``blacklist_exit_days`` days at or above
``blacklist_exit_score``, docs/model.md §6). With recovery the score creeps back; on a
credit file (``score.memory = "expiry"``) it stays down until the record expires.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

from trustsim.mechanisms.sanctions import Listing, SanctionsParams, court_and_list, sanction_active
from trustsim.mechanisms.scoring import lone_score_path
from trustsim.scenario import Scenario

SECOND_RECORD_DAY = 30
"""The second record comes a month after the first."""
HORIZON_DAYS = 20 * 365
"""How far the path is followed: a sanction still active then is shown as lasting longer."""


def sanctioned_days(path: np.ndarray, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Whether the agent is on the list each day of ``path``, and each sanction active (sanction, day).

    Phase D's own rules (docs/model.md §6 items 2–4 and 6): one agent, day by day, with
    nothing attributed to it (so no court).
    """
    return _sanctioned_days(SanctionsParams.from_scenario(scenario), path)


@nb.njit(cache=True)
def _sanctioned_days(params: SanctionsParams, path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    listed_by_day = np.zeros(path.shape[0], dtype=np.bool_)
    active = np.zeros((params.applies_below.shape[0], path.shape[0]), dtype=np.bool_)
    listing = Listing(path[0], False, False, False, -1, 0)
    for t in range(path.shape[0]):
        listing = Listing(path[t], listing.blacklisted, listing.court_listed, listing.listed_wrongly,
                          listing.listed_day, listing.days_above_exit)  # fmt: skip
        listing, _, _ = court_and_list(params, 0, t, 0, np.uint8(0), listing, 0.0)
        listed_by_day[t] = listing.blacklisted
        for k in range(params.applies_below.shape[0]):
            active[k, t] = sanction_active(listing.score, listing.blacklisted, params.applies_below[k],
                                           params.applies_to_blacklisted[k])  # fmt: skip
    return listed_by_day, active


def record_follow_up(scenario: Scenario) -> pd.DataFrame:
    """Days under each sanction after one or two records of each negative behaviour (a row per case)."""
    horizon = HORIZON_DAYS
    if scenario.score.expires and scenario.score.memory_days is not None:
        horizon = scenario.score.memory_days + SECOND_RECORD_DAY + 365
    rows = []
    for name, behaviour in scenario.behaviours.items():
        if behaviour.points >= 0:
            continue
        for count in (1, 2):
            points = {0: behaviour.points} | ({SECOND_RECORD_DAY: behaviour.points} if count == 2 else {})
            path = lone_score_path(scenario, points, horizon)
            _, active = sanctioned_days(path, scenario)
            row = {"record": f"{count} × {name} ({behaviour.points:+g})", "lowest score": float(path.min())}
            for k, sanction in enumerate(scenario.sanctions):
                row[sanction] = _duration(active[k])
            rows.append(row)
    return pd.DataFrame(rows, columns=["record", "lowest score", *scenario.sanctions])


NEVER = "–"
"""A sanction's entry in :func:`record_follow_up` when the record never brings it."""


def _duration(active: np.ndarray) -> str:
    """Days active, in words: ``–``, ``2,190 days (6.0 years)``, or ``over 20 years`` if still active at the end."""
    days = int(active.sum())
    if days == 0:
        return NEVER
    if active[-1]:
        return f"over {active.size / 365:.0f} years"
    return f"{days:,} days ({days / 365:.1f} years)" if days >= 365 else f"{days:,} days"
