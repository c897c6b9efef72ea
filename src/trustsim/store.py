"""Run directories on disk (MODEL.md §13): manifest, metrics and agent table, written atomically.

A run is written into a hidden, uniquely named sibling ``.<name>.<random>.partial`` and
renamed to its final name only once every file is complete, so a directory with the
run's name always holds a finished run; an interrupted run leaves only the hidden
``.partial`` folder.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trustsim.errors import RunDirectoryError
from trustsim.mechanisms.sanctions import tier_bounds, tier_of
from trustsim.population import Population
from trustsim.scenario import Scenario

MANIFEST = "manifest.json"
METRICS = "metrics.parquet"
AGENTS = "agents.parquet"


def default_run_dir(scenario: Scenario, root: Path = Path("runs")) -> Path:
    """``runs/<scenario>-seed<seed>-<UTC timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return root / f"{scenario.name}-seed{scenario.run.seed}-{stamp}"


class RunWriter:
    """Checks the run directory up front, writes beside it and renames it into place at the end."""

    def __init__(self, final: Path) -> None:
        self.final = Path(final)
        if self.final.exists():
            raise RunDirectoryError(f"{self.final}: already exists; choose another --out or remove it")
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            # A unique hidden folder, so that two runs aimed at one name never share it.
            self.partial = Path(
                tempfile.mkdtemp(prefix=f".{self.final.name}.", suffix=".partial", dir=self.final.parent)
            )
        except OSError as err:
            raise RunDirectoryError(
                f"{self.final}: cannot write the run there ({err.strerror}); choose another --out"
            ) from None

    def commit(self, manifest: dict[str, Any], metrics: pd.DataFrame, agents: pa.Table) -> Path:
        """Write the three files and move the run to its final name.

        The manifest is written last, with the seconds spent writing the tables added
        to ``manifest["wall_seconds"]["write"]``.
        """
        try:
            started = time.perf_counter()
            pq.write_table(pa.Table.from_pandas(metrics, preserve_index=False), self.partial / METRICS)
            pq.write_table(agents, self.partial / AGENTS)
            manifest.setdefault("wall_seconds", {})["write"] = time.perf_counter() - started
            _write_json(self.partial / MANIFEST, manifest)
            if self.final.exists():
                raise FileExistsError(errno.EEXIST, "another run took this name meanwhile")
            os.rename(self.partial, self.final)
        except OSError as err:
            self.abandon()
            raise RunDirectoryError(
                f"{self.final}: writing the run failed ({err.strerror}); nothing was kept"
            ) from None
        return self.final

    def abandon(self) -> None:
        """Remove the partial directory (a failed run leaves nothing that looks complete)."""
        shutil.rmtree(self.partial, ignore_errors=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def agent_table(population: Population, scenario: Scenario, degree: np.ndarray) -> pa.Table:
    """The final state of every agent, one row each (``agents.parquet``)."""
    state = population.arrays()
    columns: dict[str, Any] = {"id": np.arange(population.n_agents, dtype=np.int64)}
    for name, values in state.items():
        if values.ndim == 2:
            for k, behaviour in enumerate(scenario.behaviours):
                # Written as double whatever the storage (frailty is float32 in memory),
                # so the file's schema does not follow the engine's layout.
                columns[f"{name}_{behaviour}"] = values[k].astype(np.float64)
        else:
            columns[name] = values
    columns["counterfactual_score"] = population.score + population.wrongful
    names = np.array([tier.name for tier in scenario.tiers])
    columns["tier"] = names[tier_of(population.score, tier_bounds(scenario))]
    columns["active_degree"] = degree
    return pa.table(columns)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a finished run directory."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(f"{run_dir}: not a finished trustsim run (no {MANIFEST})")
    return json.loads(path.read_text())


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """The daily metrics of a finished run directory."""
    return pd.read_parquet(Path(run_dir) / METRICS)


def read_agents(run_dir: Path) -> pd.DataFrame:
    """The final agent table of a finished run directory."""
    return pd.read_parquet(Path(run_dir) / AGENTS)
