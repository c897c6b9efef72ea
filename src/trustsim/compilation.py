"""Compiling a run's kernels before its first day, so that a run's simulate time is simulation.

Every kernel of trustsim is a numba function compiled on its first call and kept in
numba's on-disk cache (``cache=True``): the first run on a machine spends tens of seconds
compiling, later runs a second or two loading. :func:`warm_up` makes those first calls on
a society of a few hundred agents of the same scenario (the same array types, records and
options, so the same compiled code), for two days, before the real run is built; the run
reports that time as ``compile``, apart from building and simulating. ``trustsim compile``
(which ``make`` runs at set-up) fills the cache ahead of any run.
"""

from __future__ import annotations

import time

from trustsim.engine import Simulation
from trustsim.errors import TrustsimError
from trustsim.scenario import Scenario, validate

WARM_AGENTS = 512
"""Agents of the warm-up society (enough for every shipped network and household layout)."""

WARM_DAYS = 2
"""Days the warm-up runs: day 0 and one ordinary day."""


def warm_up_scenario(scenario: Scenario, *, small_world: bool = False) -> Scenario:
    """``scenario`` with a few agents and days: the same kernels, compiled for the same types.

    An edge file names agents of the full run, so its warm-up uses a small world instead
    (as does ``small_world``): the network's arrays, and so the day's kernels, have the
    same types whatever built them.
    """
    raw = scenario.resolved()
    raw["run"] |= {"agents": min(scenario.run.agents, WARM_AGENTS), "days": min(scenario.run.days, WARM_DAYS)}
    if small_world or raw["network"]["generator"] == "file":
        raw["network"] = {"generator": "small_world", "k": 4, "p": 0.1}
    return validate(raw)


def warm_up(scenario: Scenario) -> float:
    """Compile (or load from numba's cache) every kernel a CPU run of ``scenario`` calls; the seconds it took.

    A network valid for the full run may not be for a few hundred agents (a block model with
    many regions, a small world with k ≥ 512): the warm-up then uses a small world, and
    the network's generator is compiled while the run builds it. It never stops a run: had
    that failed too, the run would compile its kernels on its first day.
    """
    started = time.perf_counter()
    for small_world in (False, True):
        try:
            Simulation(warm_up_scenario(scenario, small_world=small_world), preflighted=True).run()
            break
        except (TrustsimError, ValueError):
            continue
    return time.perf_counter() - started
