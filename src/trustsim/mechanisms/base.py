"""The one interface every mechanism of docs/model.md implements, on either backend."""

from __future__ import annotations

from typing import Any, Protocol


class Mechanism(Protocol):
    """A phase of the daily step. Built once from the scenario; ``step`` runs it for one day.

    ``world`` and ``day`` are a :class:`trustsim.world.World` and :class:`trustsim.day.Day`
    on the CPU, their device counterparts on the GPU (:mod:`trustsim.gpu.state`).
    """

    def step(self, world: Any, day: Any) -> None:
        """Advance ``world`` through this phase of ``day``."""
