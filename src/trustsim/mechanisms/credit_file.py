"""The credit file: points that expire after ``memory_days`` (the score's ``expiry`` memory, docs/model.md §5).

docs/model.md §5 lets a score forget by exponential recovery. A consumer credit file
forgets differently: a default stays on file, in full, for six years, and then
disappears. With ``score.memory = "expiry"`` the engine keeps such a file: for every
day, the points each agent received (``Δ``, only the agents who received some) and
their wrongful part (``Δw ≤ 0``). The score is then the clamped *balance* of the file::

    balance'  = balance + Δ − Δ(t − M)      (M = memory_days)
    score'    = clamp(balance', score_min, score_max)
    wrongful' = max(0, wrongful − Δw + Δw(t − M))

starting from ``balance = base_score``. The balance is not clamped, so clamping never
loses a point: the score on day ``d`` is exactly
``clamp(base_score + Σ Δ(t) for d − M < t ≤ d)``, and points applied on day ``t`` are in
the score on days ``t … t + M − 1`` and gone on day ``t + M``, not before, not after
(``tests/test_credit_file.py``). Recovery and contagion are off in this mode, and court
points (docs/model.md §6), which phase D takes from the score itself, are refused with it
(:class:`trustsim.scenario.Scenario`): each would move the score outside the file.

The file is sparse (a day's record holds only the agents who received points) and is
kept ``M`` days; it and the balance are saved in checkpoints.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from trustsim.scenario import Scenario

RECORD_BYTES = 4 + 8
"""Bytes one record takes: an agent id and its points."""


@dataclass(frozen=True)
class DayRecord:
    """One day's points, for the agents who received some (ids ascending)."""

    day: int
    agents: np.ndarray  # int32
    points: np.ndarray  # float64: Δ, the day's points
    wrongful_agents: np.ndarray  # int32
    wrongful: np.ndarray  # float64: Δw, the day's wrongful points (≤ 0)


RECORD_ARRAYS = ("balance", "day", "agent", "points", "wrongful_day", "wrongful_agent", "wrongful")
"""The arrays of a saved file: the balance per agent, then one entry per record, days ascending."""


class CreditFile:
    """Every agent's balance and points of the last ``memory_days`` days, and what expires today."""

    BYTES_PER_AGENT = 4 * 8
    """The per-agent arrays: balance, expiring points, expiring wrongful points, today's points (float64)."""

    def __init__(self, scenario: Scenario) -> None:
        memory_days = scenario.score.memory_days
        if memory_days is None:
            raise ValueError("a credit file needs score.memory = 'expiry' and memory_days")
        n = scenario.run.agents
        self.memory_days = memory_days
        self.records: deque[DayRecord] = deque()
        self.balance = np.full(n, scenario.score.base_score, dtype=np.float64)
        self.expiring_points = np.zeros(n, dtype=np.float64)  # Δ(t − M), spread over the agents
        self.expiring_wrongful = np.zeros(n, dtype=np.float64)  # Δw(t − M)
        self.today_points = np.zeros(n, dtype=np.float64)  # Δ(t), written by phase C
        self._spread = (np.empty(0, np.int32), np.empty(0, np.int32))
        self._wrongful_today = (np.empty(0, np.int32), np.empty(0, np.float64))

    def open_day(self, t: int, landed_wrongful: np.ndarray) -> None:
        """Before phase C of day ``t``: spread the points that expire today; note today's wrongful points."""
        agents, wrongful_agents = self._spread
        self.expiring_points[agents] = 0.0
        self.expiring_wrongful[wrongful_agents] = 0.0
        self._spread = (np.empty(0, np.int32), np.empty(0, np.int32))
        # Normally one day's record expires (day t − M); after a branch that shortened
        # memory_days, every record that has now been on file M days or more.
        expired = []
        while self.records and self.records[0].day <= t - self.memory_days:
            expired.append(self.records.popleft())
        for old in expired:
            np.add.at(self.expiring_points, old.agents, old.points)
            np.add.at(self.expiring_wrongful, old.wrongful_agents, old.wrongful)
        if expired:
            self._spread = (
                np.concatenate([old.agents for old in expired]),
                np.concatenate([old.wrongful_agents for old in expired]),
            )
        # Phase C zeroes the landed wrongful points once applied: note them first.
        ids = np.flatnonzero(landed_wrongful).astype(np.int32)
        self._wrongful_today = (ids, landed_wrongful[ids].astype(np.float64))

    def file_day(self, t: int) -> None:
        """After phase C of day ``t``: put the day's points (``today_points``) on file."""
        agents = np.flatnonzero(self.today_points).astype(np.int32)
        wrongful_agents, wrongful = self._wrongful_today
        if agents.size or wrongful_agents.size:
            self.records.append(DayRecord(t, agents, self.today_points[agents], wrongful_agents, wrongful))
        self.today_points[agents] = 0.0
        self._wrongful_today = (np.empty(0, np.int32), np.empty(0, np.float64))

    def saved(self) -> dict[str, np.ndarray]:
        """The balance and the records as flat arrays (for checkpoints)."""
        records = list(self.records)

        def joined(part: str, dtype: type[np.generic]) -> np.ndarray:
            pieces = [np.asarray(getattr(r, part), dtype=dtype) for r in records]
            return np.concatenate(pieces) if pieces else np.empty(0, dtype=dtype)

        def days(part: str) -> np.ndarray:
            counts = [getattr(r, part).size for r in records]
            return np.repeat(np.array([r.day for r in records], dtype=np.int32), counts)

        return {
            "balance": self.balance, "day": days("agents"), "agent": joined("agents", np.int32),
            "points": joined("points", np.float64), "wrongful_day": days("wrongful_agents"),
            "wrongful_agent": joined("wrongful_agents", np.int32), "wrongful": joined("wrongful", np.float64),
        }  # fmt: skip

    def restore(self, saved: dict[str, np.ndarray]) -> None:
        """Take back a file from :meth:`saved` (checked by :func:`file_problems`)."""
        self.balance = saved["balance"].copy()
        self.records.clear()
        days = np.union1d(saved["day"], saved["wrongful_day"])
        # Entries are saved in day order: each day's are one slice (found by binary search).
        points = np.searchsorted(saved["day"], days, side="left"), np.searchsorted(saved["day"], days, side="right")
        wrongs = (np.searchsorted(saved["wrongful_day"], days, side="left"),
                  np.searchsorted(saved["wrongful_day"], days, side="right"))  # fmt: skip
        for k, day in enumerate(days):
            on_day, wrong_on_day = slice(points[0][k], points[1][k]), slice(wrongs[0][k], wrongs[1][k])
            self.records.append(
                DayRecord(int(day), saved["agent"][on_day], saved["points"][on_day],
                          saved["wrongful_agent"][wrong_on_day], saved["wrongful"][wrong_on_day])
            )  # fmt: skip

    @property
    def entries(self) -> int:
        """Records on file (agent-days with points or wrongful points)."""
        return sum(r.agents.size + r.wrongful_agents.size for r in self.records)


def expected_file_bytes(scenario: Scenario, n_agents: int, days: int) -> int:
    """About the bytes a run's credit file reaches: a record per agent and day with points, kept ``memory_days``.

    The chance of points is bounded by each behaviour's base rate at its channel's highest
    coverage (frailty has mean 1; deterrence only lowers it), so this errs high.
    """
    if scenario.score.memory_days is None:
        return 0
    chance = 0.0
    for behaviour in scenario.behaviours.values():
        channel = getattr(scenario.channels, behaviour.channel)
        schedules = [channel.schedule, *channel.region_schedules.values()]
        coverage = max((point.coverage for points in schedules for point in points), default=0.0)
        chance += behaviour.base_rate * coverage
    kept_days = min(days, scenario.score.memory_days)
    return int(n_agents * min(1.0, chance) * kept_days * RECORD_BYTES)


def empty_file() -> dict[str, np.ndarray]:
    """A saved file with no records and no balance (what a run without expiry saves)."""
    return {name: np.empty(0, dtype=np.int32 if "day" in name or "agent" in name else np.float64)
            for name in RECORD_ARRAYS}  # fmt: skip


def file_problems(saved: dict[str, np.ndarray], n_agents: int, day: int, expires: bool) -> list[str]:
    """Why ``saved`` cannot be the credit file of a run of ``n_agents`` on ``day`` (empty if it can)."""
    if set(saved) != set(RECORD_ARRAYS):
        return [f"credit file arrays {sorted(saved)} are not {sorted(RECORD_ARRAYS)}"]
    if saved["balance"].shape != ((n_agents,) if expires else (0,)) or saved["balance"].dtype != np.float64:
        return [f"credit file balance has shape {saved['balance'].shape}, not ({n_agents if expires else 0},)"]
    problems = []
    for days, agents, values in (("day", "agent", "points"), ("wrongful_day", "wrongful_agent", "wrongful")):
        on, who, what = saved[days], saved[agents], saved[values]
        if not (on.shape == who.shape == what.shape and on.ndim == 1):
            problems.append(f"credit file {values} arrays differ in length")
        elif on.size and (on.min() < 0 or on.max() >= day or bool(np.any(np.diff(on) < 0))):
            problems.append(f"credit file {values} records fall outside days 0 … {day - 1} or are out of order")
        elif who.size and (who.min() < 0 or who.max() >= n_agents):
            problems.append(f"credit file {values} records name agents outside 0 … {n_agents - 1}")
    return problems
