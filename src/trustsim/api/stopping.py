"""Ctrl-C and SIGTERM during a run: stop at the end of the day, and a second signal at once."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopRequest:
    """While a run goes on, Ctrl-C or SIGTERM asks it to stop at the end of the day; a second stops it at once.

    Installed for the whole run (building, stepping, writing), so that one Ctrl-C while
    the results are written lets them be written.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
