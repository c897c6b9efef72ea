"""The trustsim command line, signalled at the end of a chosen day: a Ctrl-C or a kill -9 that lands on time.

    python tests/signal_at_day.py DAY SIGNAL ARGS...    # as ``python -m trustsim ARGS...``

Right after the run's day DAY is simulated (before that day's checkpoint, if it has one),
the process sends itself SIGNAL (``SIGINT``, ``SIGTERM``, ``SIGKILL``). A test that sent it
from outside once a checkpoint file appeared depended on the machine: on a busy one the
run could finish first. Here where the signal lands is a function of the arguments alone,
and the run meets it exactly as it meets one from outside (``signal.raise_signal`` runs
the run's handler before it returns). DAY must be past the kernels' warm-up run (2 days).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from trustsim.compilation import WARM_DAYS
from trustsim.engine import Simulation


def signal_at(day: int, number: signal.Signals) -> None:
    """Make every simulation of this process raise ``number`` once it has done ``day`` days."""
    if day <= WARM_DAYS:
        raise SystemExit(f"DAY must be more than the warm-up's {WARM_DAYS} days (got {day})")
    step = Simulation.step

    def signalled_step(self: Simulation, *args: Any, **kwargs: Any) -> None:
        step(self, *args, **kwargs)
        if self.days_done == day:
            signal.raise_signal(number)

    Simulation.step = signalled_step  # type: ignore[method-assign]


if __name__ == "__main__":
    signal_at(int(sys.argv[1]), signal.Signals[sys.argv[2]])
    sys.argv = ["trustsim", *sys.argv[3:]]
    from trustsim.cli import main

    main()
