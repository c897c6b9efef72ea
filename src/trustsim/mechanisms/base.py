"""The one interface every mechanism of MODEL.md implements."""

from __future__ import annotations

from typing import Protocol

from trustsim.day import Day
from trustsim.world import World


class Mechanism(Protocol):
    """A phase of the daily step. Built once from the scenario; ``step`` runs it for one day."""

    phase: str  # "A" ... "E", as in MODEL.md

    def step(self, world: World, day: Day) -> None:
        """Advance ``world`` through this phase of ``day``."""
