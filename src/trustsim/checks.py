"""Invariants that hold at the end of every day, checked in debug mode (``trustsim run --check``).

Each check is a plain comparison over the whole state, O(N + E) a day: bounds of every
state variable, no NaN or infinity, conservation of counts between the state and the
metrics row, and what may never be undone (a cut edge, an "ever" flag, an emigrant's
departure). The first broken invariant raises :class:`InvariantError` naming the day,
the quantity and an agent or column where it broke.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trustsim.day import Day
from trustsim.population import FRAILTY_TOP_CODE
from trustsim.world import World

NAN_WHEN_EMPTY = {"score_mean", "score_p10", "score_p50", "score_p90", "import_share"}
"""Metric columns that are NaN when nobody is alive (or nobody was alive at dawn)."""


class InvariantError(RuntimeError):
    """A state or metrics row that breaks an invariant of docs/model.md: a bug, not bad input."""


class InvariantChecker:
    """Remembers what may not be undone and checks each day's end against it."""

    def __init__(self, world: World) -> None:
        pop = world.population
        self.full_degree = world.network.degree()
        self.previous_degree = world.degree.copy()
        self.previous_active = world.edge_active
        self.ever_sanctioned = pop.flag("ever_sanctioned")
        self.ever_wrongly = pop.flag("ever_wrongly_sanctioned")
        self.emigrated = pop.emigrated.copy()
        self.frozen_score = pop.score.copy()

    def check(self, world: World, day: Day, row: dict[str, Any]) -> None:
        """Check the state and metrics row at the end of day ``day.t``; raise on the first violation."""
        active = world.edge_active  # O(E): built once a day, used by two checks
        for problem in (
            self._state(world),
            self._counts(world, row, active),
            self._metric_values(row),
            self._irreversible(world, day, active),
        ):
            if problem:
                raise InvariantError(f"day {day.t}: {problem}")

    def _state(self, world: World) -> str | None:
        pop = world.population
        s = world.scenario.score
        for name, values in pop.arrays().items():
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                return _where(f"{name} is NaN or infinite", ~np.isfinite(values))
        bounds: list[tuple[str, np.ndarray]] = [
            (
                f"score outside [{s.score_min:g}, {s.score_max:g}]",
                (pop.score < s.score_min) | (pop.score > s.score_max),
            ),
            ("wrongful points negative", pop.wrongful < 0),
            ("deterrence outside (0, 1]", pop.deterrence_gap == 0),  # the code 0 is a gap of 1
            ("chill outside (0, 1]", pop.chill_gap == 0),
            ("listed_day outside -1 … today", (pop.listed_day < -1) | (pop.listed_day > world.day)),
            ("frailty code above the largest", np.any(pop.frailty > FRAILTY_TOP_CODE, axis=0)),
            ("active degree outside 0 … degree", (world.degree < 0) | (world.degree > self.full_degree)),
            ("wrongly listed but not listed", pop.flag("listed_wrongly") & ~pop.blacklisted),
            ("court-listed but not listed", pop.flag("court_listed") & ~pop.blacklisted),
        ]
        for what, broken in bounds:
            if broken.any():
                return _where(what, broken)
        return None

    def _counts(self, world: World, row: dict[str, Any], active: np.ndarray) -> str | None:
        pop = world.population
        alive = ~pop.emigrated
        n_alive = int(alive.sum())
        expected = {
            "alive": n_alive,
            "emigrated": pop.n_agents - n_alive,
            "blacklisted": int((pop.blacklisted & alive).sum()),
            "ever_sanctioned": int((pop.flag("ever_sanctioned") & alive).sum()),
            "ever_wrongly_sanctioned": int((pop.flag("ever_wrongly_sanctioned") & alive).sum()),
            "off_grid": int((pop.flag("off_grid") & alive).sum()),
            "advised": int((pop.flag("advised") & alive).sum()),
            "active_edges": int(active.sum()),
            "isolated": int(((world.degree == 0) & alive).sum()),
        }
        for name, value in expected.items():
            if row[name] != value:
                return f"metric {name} is {row[name]} but the state counts {value}"
        for b in world.scenario.behaviours:
            chain = [row[f"{kind}_{b}"] for kind in ("committed", "observed", "penalised")]
            if not chain[0] >= chain[1] >= chain[2] >= 0:
                return f"committed ≥ observed ≥ penalised ≥ 0 fails for {b}: {chain}"
            if not row[f"misattributed_{b}"] >= row[f"caught_{b}"] >= 0:
                return f"misattributed ≥ caught ≥ 0 fails for {b}"
        if not row["wrongly_sanctioned"] <= row["ever_wrongly_sanctioned"] <= row["ever_sanctioned"] <= n_alive:
            return "wrongly_sanctioned ≤ ever_wrongly_sanctioned ≤ ever_sanctioned ≤ alive fails"
        tiers = sum(row[f"tier_{tier.name}"] for tier in world.scenario.tiers)
        if n_alive and abs(tiers - 1.0) > 1e-9:
            return f"tier shares sum to {tiers!r}, not 1"
        for s in world.scenario.sanctions:
            if not 0 <= row[f"active_{s}"] <= n_alive:
                return f"active_{s} = {row[f'active_{s}']} outside 0 … alive"
        return None

    @staticmethod
    def _metric_values(row: dict[str, Any]) -> str | None:
        for name, value in row.items():
            if isinstance(value, float) and not np.isfinite(value):
                allowed = name in NAN_WHEN_EMPTY or name.startswith("mean_degree_") or name.startswith("tier_")
                if not (allowed and np.isnan(value)):
                    return f"metric {name} is {value!r}"
            elif value < 0 and not name.startswith("score_"):  # scores may be negative
                return f"metric {name} is negative ({value!r})"
        return None

    def _irreversible(self, world: World, day: Day, active: np.ndarray) -> str | None:
        pop = world.population
        checks: list[tuple[str, np.ndarray]] = [
            ("a cut edge became active again", active & ~self.previous_active),
            ("an agent's active degree grew", world.degree > self.previous_degree),
            ("an ever_sanctioned flag cleared", self.ever_sanctioned & ~pop.flag("ever_sanctioned")),
            ("an ever_wrongly_sanctioned flag cleared", self.ever_wrongly & ~pop.flag("ever_wrongly_sanctioned")),
            ("an emigrant came back", self.emigrated & ~pop.emigrated),
            ("an emigrant's score moved", self.emigrated & (pop.score != self.frozen_score)),
            ("an emigrant acted", self.emigrated & (day.outcomes.committed != 0)),
            ("an emigrant kept an active friend", pop.emigrated & (world.degree > 0)),
        ]
        for what, broken in checks:
            if broken.any():
                return _where(what, broken)
        self.previous_active = active
        self.previous_degree = world.degree.copy()
        self.ever_sanctioned = pop.flag("ever_sanctioned")
        self.ever_wrongly = pop.flag("ever_wrongly_sanctioned")
        leaving = pop.emigrated & ~self.emigrated
        self.frozen_score[leaving] = pop.score[leaving]
        self.emigrated = pop.emigrated.copy()
        return None


def _where(what: str, broken: np.ndarray) -> str:
    """``what`` with the number of places it broke and the first (agent id, or behaviour and agent)."""
    first = np.unravel_index(int(np.argmax(broken)), broken.shape)
    place = ", ".join(str(int(i)) for i in first)
    return f"{what} ({int(broken.sum())} case(s), first at index {place})"
