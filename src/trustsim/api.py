"""The Python API: run a scenario and get its results, as a notebook user expects.

>>> import trustsim
>>> result = trustsim.run("china_scs", agents=10_000, days=30, seed=1)  # doctest: +SKIP
>>> result.metrics[["day", "score_mean", "blacklisted"]].tail()  # doctest: +SKIP
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from trustsim.engine import Simulation
from trustsim.scenario import Scenario, load_scenario
from trustsim.store import RunWriter, agent_table, default_run_dir, read_agents, read_manifest, read_metrics
from trustsim.summary import headline


def trustsim_version() -> str:
    """The installed trustsim version."""
    try:
        return version("trustsim")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Result:
    """A finished run: its directory, manifest and daily metrics (agents loaded on demand)."""

    run_dir: Path
    manifest: dict[str, Any]
    metrics: pd.DataFrame
    _agents: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> Result:
        """Open a run directory written earlier."""
        run_dir = Path(run_dir)
        return cls(run_dir=run_dir, manifest=read_manifest(run_dir), metrics=read_metrics(run_dir))

    @property
    def agents(self) -> pd.DataFrame:
        """The final state of every agent (read from ``agents.parquet`` on first use)."""
        if self._agents is None:
            self._agents = read_agents(self.run_dir)
        return self._agents

    def summary(self) -> dict[str, float]:
        """Headline figures (see :func:`trustsim.summary.headline`)."""
        return headline(self.metrics)


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: unlike ``ru_maxrss`` it is not
    inherited from the parent across ``exec``, so a benchmark's child reports its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run(
    scenario: str | Path | Scenario,
    *,
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    on_day: Callable[[int], None] | None = None,
) -> Result:
    """Run a scenario (shipped name, TOML path or loaded :class:`Scenario`) and write its run directory.

    ``overrides`` are ``"dotted.key=value"`` strings as for ``trustsim run --set``.
    ``on_day(t)`` is called after each simulated day (progress bars).
    """
    if isinstance(scenario, Scenario):
        if overrides or agents or days or seed is not None:
            raise TypeError("pass overrides to load_scenario when giving a Scenario object")
        resolved = scenario
    else:
        resolved = load_scenario(scenario, overrides=overrides, agents=agents, days=days, seed=seed)
    writer = RunWriter(Path(out) if out is not None else default_run_dir(resolved))
    try:
        return _simulate_and_write(resolved, writer, on_day)
    except BaseException:
        writer.abandon()
        raise


def _simulate_and_write(scenario: Scenario, writer: RunWriter, on_day: Callable[[int], None] | None) -> Result:
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    simulation = Simulation(scenario)
    built = time.perf_counter()
    metrics = simulation.run(on_day)
    simulated = time.perf_counter()
    agents = agent_table(simulation.world.population, scenario, simulation.world.degree)
    manifest = {
        "trustsim_version": trustsim_version(),
        "complete": True,
        "scenario_name": scenario.name,
        "seed": scenario.run.seed,
        "agents": scenario.run.agents,
        "days": scenario.run.days,
        "backend": "cpu",
        "threads": simulation.threads,
        "started": started_at.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "wall_seconds": {"build": built - clock, "simulate": simulated - built},
        "peak_memory_bytes": peak_memory_bytes(),
        "platform": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
        "scenario": scenario.resolved(),
    }
    final = writer.commit(manifest, metrics, agents)
    return Result(run_dir=final, manifest=manifest, metrics=metrics)
