"""Open what trustsim wrote, in Python: :func:`load` gives a run's :class:`~trustsim.api.results.Result` or an
experiment's :class:`Experiment`, each with ``plot()``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trustsim.api.results import Result
from trustsim.store import directory_kind


@dataclass
class Experiment:
    """An experiment directory (``trustsim compare``, ``sweep`` or ``sensitivity``) opened in Python.

    ``design`` is its ``experiment.json``; ``runs`` its catalog, a row per run with the
    run's headline metrics (the runs finished so far, if it was stopped).
    """

    folder: Path
    design: dict[str, Any]
    runs: pd.DataFrame

    @classmethod
    def load(cls, folder: str | Path) -> Experiment:
        """Open an experiment directory written earlier."""
        from trustsim.report.experiment_report import read_experiment

        design, runs = read_experiment(Path(folder))
        return cls(Path(folder), design, runs)

    @property
    def command(self) -> str:
        """Which experiment it is: ``compare``, ``sweep`` or ``sensitivity``."""
        return str(self.design["command"])

    def plot(self) -> Any:
        """The figures of the experiment's report (:class:`~trustsim.report.figures.Figures`, by name): a
        comparison's differences with their intervals and its trajectories, a sweep's response curves,
        or sensitivity indices; drawn by the report's own code."""
        from trustsim.report.experiment_report import experiment_sections
        from trustsim.report.figures import Figures
        from trustsim.report.page import section_figures

        return Figures(section_figures(experiment_sections(self.folder)[2]))


def load(directory: str | Path) -> Result | Experiment:
    """Open a finished (or stopped) run directory as a :class:`Result`, or an experiment directory as an
    :class:`Experiment`; anything else is refused in one line."""
    directory = Path(directory)
    return Result.load(directory) if directory_kind(directory) == "run" else Experiment.load(directory)
