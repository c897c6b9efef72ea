"""What a run leaves for a notebook user: :class:`Result`, a run directory opened in Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trustsim.errors import TrustsimError
from trustsim.store import read_agents, read_groups, read_manifest, read_metrics, read_trace
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
    def trace(self) -> pd.DataFrame:
        """The day-by-day story of the traced panel of agents (``trace.parquet``)."""
        return read_trace(self.run_dir)

    @property
    def groups(self) -> pd.DataFrame:
        """Who bears it: the outcomes by group (``groups.parquet``, docs/model.md §15)."""
        return read_groups(self.run_dir)

    def summary(self) -> dict[str, float]:
        """Headline figures (see :func:`trustsim.summary.headline`)."""
        return headline(self.metrics)

    def plot(self, name: str | None = None) -> Any:
        """The figures of this run's report, as plotly figures that display in Jupyter.

        ``result.plot()`` gives the headline figures (:data:`trustsim.report.figures.HEADLINE`)
        as a :class:`~trustsim.report.figures.Figures`, shown one after another;
        ``result.plot("blacklist")`` gives one figure of the report by its name: any of
        :data:`trustsim.report.figures.RUN_FIGURES`, ``agent_story``, or a "who bears it"
        figure (``bearing_income_quintile``, ``bearing_children`` …). They are the report's
        own figures, drawn by the same code from the same files.
        """
        from trustsim.report.figures import HEADLINE, Figures
        from trustsim.report.page import section_figures
        from trustsim.report.run_report import run_sections

        drawn = section_figures(run_sections(self.run_dir)[3])
        if name is None:
            return Figures({key: drawn[key] for key in HEADLINE})
        if name not in drawn:
            raise TrustsimError(f"no figure {name!r}; this run's figures are {', '.join(drawn)}")
        return drawn[name]

    def story(self, agent: int | None = None) -> Any:
        """One traced agent's year, as the report tells it (:class:`trustsim.report.run_report.Story`:
        ``agent``, ``reason``, ``sentences``, ``figure``): the traced agent the report chooses, or ``agent``."""
        from trustsim.report.run_report import agent_story

        story = agent_story(self.run_dir, agent)
        if story is None:
            raise TrustsimError(f"{self.run_dir.name} has no trace (trace.parquet), so no story")
        return story
