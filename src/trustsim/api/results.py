"""What a run leaves for a notebook user: :class:`Result`, a run directory opened in Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trustsim.store import read_agents, read_groups, read_manifest, read_metrics
from trustsim.summary import headline


@dataclass
class Result:
    """A run: its directory, manifest and daily metrics (agents loaded on demand).

    ``complete`` is False for a run stopped early (Ctrl-C): its metrics then hold the
    days simulated so far, and ``trustsim resume`` finishes it.
    """

    run_dir: Path
    manifest: dict[str, Any]
    metrics: pd.DataFrame
    _agents: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> Result:
        """Open a run directory written earlier (complete or stopped early)."""
        run_dir = Path(run_dir)
        return cls(run_dir=run_dir, manifest=read_manifest(run_dir, finished=False), metrics=read_metrics(run_dir))

    @property
    def complete(self) -> bool:
        """Whether every day of the scenario was simulated."""
        return bool(self.manifest.get("complete"))

    @property
    def agents(self) -> pd.DataFrame:
        """The final state of every agent, or of a sample; read from ``agents.parquet`` once."""
        if self._agents is None:
            self._agents = read_agents(self.run_dir)
        return self._agents

    @property
    def groups(self) -> pd.DataFrame:
        """Who bears it: the outcomes by group (``groups.parquet``, docs/model.md §15)."""
        return read_groups(self.run_dir)

    def summary(self) -> dict[str, float]:
        """Headline figures (see :func:`trustsim.summary.headline`)."""
        return headline(self.metrics)
