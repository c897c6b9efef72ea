"""One results store per experiment: a Parquet file per run and a DuckDB catalog of all runs.

Layout of an experiment directory::

    EXPERIMENT_DIR/experiment.json        the design: command, scenarios, settings, seeds
    EXPERIMENT_DIR/runs/<run_id>.parquet  the daily metrics of each finished run
    EXPERIMENT_DIR/groups/<run_id>.parquet  its groups.parquet rows (who bears it, docs/model.md §15)
    EXPERIMENT_DIR/catalog.duckdb         table ``runs``: one row per run

Table ``runs`` has ``run_id``, ``scenario``, ``rep``, ``seed``, ``status`` (``done`` or
``failed``), ``error``, ``wall_seconds``, one column per varied parameter named by its
dotted path (quote it in SQL: ``"score.contagion"``), one per headline metric and one per
groups quantity an analysis asked for (``"gap:ever_wrongly_sanctioned:income_quintile"``). A
run's Parquet files are written (atomically) before its catalog row, and the row is the
commit: a run without a ``done`` row is run again when the experiment is resumed. The
experiment holds the catalog open while it runs (DuckDB allows one writing process), so
``trustsim query`` answers once the experiment has ended or been stopped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from trustsim.errors import InputFileError, RunDirectoryError
from trustsim.store import EXPERIMENT_DESIGN, atomic_write, lock_directory

DESIGN = EXPERIMENT_DESIGN
CATALOG = "catalog.duckdb"
RUNS = "runs"
GROUPS = "groups"
FIXED_COLUMNS = {
    "run_id": "VARCHAR PRIMARY KEY", "scenario": "VARCHAR", "rep": "INTEGER", "seed": "BIGINT",
    "status": "VARCHAR", "error": "VARCHAR", "wall_seconds": "DOUBLE",
}  # fmt: skip


def _sql_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"


def quoted(name: str) -> str:
    """An SQL identifier for a column name (dotted paths included)."""
    return '"' + name.replace('"', '""') + '"'


class ExperimentStore:
    """The results of one experiment, held by this process while it runs."""

    def __init__(self, folder: Path, design: dict[str, Any], parameters: dict[str, Any]) -> None:
        """Create the experiment directory, or reopen it if it holds the same design."""
        self.folder = Path(folder)
        try:
            (self.folder / RUNS).mkdir(parents=True, exist_ok=True)
            (self.folder / GROUPS).mkdir(exist_ok=True)
        except OSError as err:
            raise RunDirectoryError(f"{self.folder}: cannot write the experiment there ({err.strerror})") from None
        self._lock = lock_directory(self.folder, "experiment")
        recorded = self.folder / DESIGN
        if recorded.is_file():
            before = json.loads(recorded.read_text())
            if before != json.loads(json.dumps(design)):
                self.close()
                raise RunDirectoryError(
                    f"{self.folder}: holds another experiment ({before.get('command')} of "
                    f"{before.get('scenarios')}); choose another --out, or repeat that command to resume it"
                )
        else:
            atomic_write(recorded, lambda p: p.write_text(json.dumps(design, indent=2) + "\n"))
        columns = dict(FIXED_COLUMNS) | {name: _sql_type(value) for name, value in parameters.items()}
        self.catalog = self._connect()
        definition = ", ".join(f"{quoted(name)} {kind}" for name, kind in columns.items())
        self.catalog.execute(f"CREATE TABLE IF NOT EXISTS runs ({definition})")
        info = self.catalog.execute("SELECT name FROM pragma_table_info('runs')").fetchall()
        self.columns = {name for (name,) in info}

    def _connect(self) -> duckdb.DuckDBPyConnection:
        for attempt in range(50):  # a reader (trustsim query) may hold it for a moment
            try:
                return duckdb.connect(str(self.folder / CATALOG))
            except duckdb.IOException:
                if attempt == 49:
                    self.close()
                    raise RunDirectoryError(f"{self.folder / CATALOG}: in use by another process; try again") from None
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the catalog and release the experiment directory."""
        catalog = getattr(self, "catalog", None)
        if catalog is not None:
            catalog.close()
            self.catalog = None
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done(self) -> set[str]:
        """Ids of the runs finished successfully."""
        return {row[0] for row in self.catalog.execute("SELECT run_id FROM runs WHERE status = 'done'").fetchall()}

    def record(self, row: dict[str, Any], parquet: bytes | None, groups: bytes | None = None) -> None:
        """Store one finished run: its daily metrics and groups rows (Parquet files' bytes, if it has them), then
        its row."""
        if groups is not None:
            atomic_write(groups_file(self.folder, row["run_id"]), lambda p: p.write_bytes(groups))
        if parquet is not None:
            atomic_write(self.folder / RUNS / f"{row['run_id']}.parquet", lambda p: p.write_bytes(parquet))
        for name, value in row.items():
            if name not in self.columns:
                self.catalog.execute(f"ALTER TABLE runs ADD COLUMN {quoted(name)} {_sql_type(value)}")
                self.columns.add(name)
        names = ", ".join(quoted(name) for name in row)
        marks = ", ".join("?" for _ in row)
        self.catalog.execute(f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})", list(row.values()))

    def annotate(self, run_id: str, figures: dict[str, float]) -> None:
        """Add figures computed after the run (groups quantities) to its row."""
        for name, value in figures.items():
            if name not in self.columns:
                self.catalog.execute(f"ALTER TABLE runs ADD COLUMN {quoted(name)} DOUBLE")
                self.columns.add(name)
            self.catalog.execute(f"UPDATE runs SET {quoted(name)} = ? WHERE run_id = ?", [value, run_id])

    def runs(self) -> pd.DataFrame:
        """The catalog as a DataFrame, ordered by run id."""
        return self.catalog.execute("SELECT * FROM runs ORDER BY run_id").fetchdf()


def groups_file(folder: str | Path, run_id: str) -> Path:
    """Where an experiment keeps one run's groups rows."""
    return Path(folder) / GROUPS / f"{run_id}.parquet"


def read_run_groups(folder: str | Path, run_id: str) -> pd.DataFrame:
    """One run's groups rows (an empty table for a run recorded without them)."""
    from trustsim.groups import empty_groups

    path = groups_file(folder, run_id)
    return pd.read_parquet(path) if path.is_file() else empty_groups()


def query(folder: str | Path, sql: str) -> pd.DataFrame:
    """Answer an SQL query over an experiment's catalog (table ``runs``), read-only."""
    path = Path(folder) / CATALOG
    if not path.is_file():
        raise InputFileError(f"{folder}: not a trustsim experiment (no {CATALOG}); give the experiment's --out")
    for attempt in range(50):
        try:
            with duckdb.connect(str(path), read_only=True) as catalog:
                return catalog.execute(sql).fetchdf()
        except duckdb.IOException:
            if attempt == 49:
                raise InputFileError(f"{path}: busy; try again in a moment") from None
            time.sleep(0.1)
        except duckdb.Error as err:
            raise InputFileError(f"query failed: {str(err).splitlines()[0]}") from None
    raise AssertionError("unreachable")
