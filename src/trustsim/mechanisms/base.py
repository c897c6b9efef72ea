"""The one interface every mechanism of docs/model.md implements, on either backend."""

from __future__ import annotations

from typing import Any, Protocol


class Mechanism(Protocol):
    """A phase of the daily step. Built once from the scenario; ``step`` runs it for one day.

    ``world`` is a :class:`trustsim.world.World` on the CPU and a
    :class:`trustsim.gpu.state.DeviceWorld` on the GPU; ``day`` is a :class:`trustsim.day.Day`
    on both, its arrays in host or device memory.
    """

    def step(self, world: Any, day: Any) -> None:
        """Advance ``world`` through this phase of ``day``."""
