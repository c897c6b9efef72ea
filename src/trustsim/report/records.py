"""How long a record follows a person: days under each sanction after one or two negative records.

For every negative behaviour of a scenario, a lone agent at ``base_score`` receives its
points once, or twice 30 days apart, and nothing else (:func:`trustsim.mechanisms.
scoring.lone_score_path`: no friends' pull, no court). The table counts the days each
sanction is then active: below its ``applies_below``, or on the list (entered below
``blacklist_score``, left after ``blacklist_exit_days`` days at or above
``blacklist_exit_score``, MODEL.md §6). With recovery the score creeps back; on a
credit file (``score.memory = "expiry"``) it stays down until the record expires.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

from trustsim.mechanisms.sanctions import SanctionsPhase, court_and_list
from trustsim.mechanisms.scoring import lone_score_path
from trustsim.scenario import Scenario

SECOND_RECORD_DAY = 30
"""The second record comes a month after the first."""
HORIZON_DAYS = 20 * 365
"""How far the path is followed: a sanction still active then is shown as lasting longer."""


def listed_days(path: np.ndarray, scenario: Scenario) -> np.ndarray:
    """Whether the agent is on the list each day of ``path``: phase D's own listing rule (MODEL.md §6 items 2–4)."""
    phase = SanctionsPhase(scenario)
    return _listed_days(path, phase.escalation, phase.court_streams, phase.exit_stream, phase.listing,
                        phase.exit_days, phase.bounds)  # fmt: skip


@nb.njit(cache=True)
def _listed_days(path, escalation, court_streams, exit_stream, listing, exit_days, bounds):  # type: ignore[no-untyped-def]
    # One agent, day by day, through court_and_list with nothing attributed (so no court).
    one = np.zeros(1, dtype=np.float64)
    wrongful = np.zeros(1, dtype=np.float64)
    blacklisted, court_listed = np.zeros(1, dtype=np.bool_), np.zeros(1, dtype=np.bool_)
    listed_wrongly = np.zeros(1, dtype=np.bool_)
    listed_day, days_above_exit = np.full(1, -1, dtype=np.int32), np.zeros(1, dtype=np.int32)
    out = np.zeros(path.shape[0], dtype=np.bool_)
    for t in range(path.shape[0]):
        one[0] = path[t]
        _, _, listed, _ = court_and_list(
            0, 0, t, escalation, court_streams, exit_stream, listing, exit_days, bounds, 0,
            one, wrongful, blacklisted, court_listed, listed_wrongly, listed_day, days_above_exit,
        )  # fmt: skip
        out[t] = listed
    return out


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
            listed = listed_days(path, scenario)
            row = {"record": f"{count} × {name} ({behaviour.points:+g})", "lowest score": float(path.min())}
            for sanction, rule in scenario.sanctions.items():
                active = np.zeros(horizon, dtype=bool)
                if rule.applies_below is not None:
                    active |= path < rule.applies_below
                if rule.applies_to_blacklisted:
                    active |= listed
                row[sanction] = _duration(active)
            rows.append(row)
    return pd.DataFrame(rows, columns=["record", "lowest score", *scenario.sanctions])


def _duration(active: np.ndarray) -> str:
    """Days active, in words: ``–``, ``2,190 days (6.0 years)``, or ``over 20 years`` if still active at the end."""
    days = int(active.sum())
    if days == 0:
        return "–"
    if active[-1]:
        return f"over {active.size / 365:.0f} years"
    return f"{days:,} days ({days / 365:.1f} years)" if days >= 365 else f"{days:,} days"
