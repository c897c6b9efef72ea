"""Run directories (docs/model.md §13) and checkpoints: every file written atomically.

A run directory is created when its run starts, with a manifest that says
``"complete": false``; the manifest is rewritten with ``"complete": true`` only after
``metrics.parquet`` and ``agents.parquet`` are in place, so a directory whose manifest
says complete always holds a finished run. Every file is written under a temporary
name beside its final one, flushed to disk and renamed into place: a crash, a
``kill -9`` or a full disk leaves the previous version of a file or none, never half of
one. Layout::

    RUN_DIR/manifest.json          status: running | interrupted | failed | complete
    RUN_DIR/metrics.parquet        the days simulated (all of them once complete)
    RUN_DIR/agents.parquet         every agent (or a sample) at the end of the last day simulated
    RUN_DIR/trace.parquet          day-by-day story of a panel of agents (trustsim.trace)
    RUN_DIR/groups.parquet         who bears it: outcomes by group every breakdown_every days (trustsim.groups)
    RUN_DIR/report.html            the run's report (written by the CLI; trustsim report rebuilds it)
    RUN_DIR/checkpoints/day-000030.npz   the full state after 30 days (checkpoints every 30 days)

A checkpoint is an uncompressed NumPy ``.npz`` archive of the arrays of
:class:`trustsim.engine.SavedState` plus a JSON header (``meta``): format version,
day and the resolved scenario.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trustsim.engine import SavedState, saved_state_problems
from trustsim.errors import InputFileError, RunDirectoryError, ScenarioError, Setting, literal
from trustsim.groups import empty_groups
from trustsim.households import Households
from trustsim.mechanisms.credit_file import empty_file
from trustsim.mechanisms.sanctions import tier_bounds, tier_of
from trustsim.population import FLAGS, STATE, Population, flag_values
from trustsim.scenario import Scenario, validate

MANIFEST = "manifest.json"
METRICS = "metrics.parquet"
AGENTS = "agents.parquet"
TRACE = "trace.parquet"
GROUPS = "groups.parquet"
REPORT = "report.html"
CHECKPOINTS = "checkpoints"
EXPERIMENT_DESIGN = "experiment.json"  # what makes a directory an experiment (compare, sweep, sensitivity)
CHECKPOINT_FORMAT = 9
_CHECKPOINT_NAME = re.compile(r"^day-(\d+)\.npz$")


def default_run_dir(scenario: Scenario, root: Path = Path("runs")) -> Path:
    """``runs/<scenario>-seed<seed>-<UTC timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return root / f"{scenario.name}-seed{scenario.run.seed}-{stamp}"


OUT = Setting("out")
"""Where a run is written (the command line's ``--out``)."""


def _failed(where: Path, doing: str, err: OSError, then: str = "") -> RunDirectoryError:
    """A one-line error for an OS error while ``doing`` something at ``where``; ``then`` says what follows.

    ``then`` may name the run directory setting as ``{0}``.
    """
    reason = os.strerror(err.errno) if err.errno else err.strerror or type(err).__name__
    full = err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    hint = "; free some space or choose another run directory ({0})" if full else ""
    return RunDirectoryError(f"{literal(str(where))}: {doing} ({literal(reason)}{hint}){then}", OUT)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(temporary_path)``, flush it to disk and rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def lock_directory(path: Path, what: str) -> int:
    """Lock a directory for this process (released by the system however the process ends); its descriptor."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise _failed(path, f"cannot write the {what} there", err) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise RunDirectoryError(
            f"{path}: another trustsim process is running this {what}; wait for it to finish or stop it"
        ) from None
    return descriptor


class RunDirectory:
    """A run directory held by this process (an exclusive lock) while its run goes on."""

    def __init__(self, path: Path, lock: int) -> None:
        self.path = path
        self._lock = lock

    @classmethod
    def create(cls, path: Path) -> RunDirectory:
        """Make a new run directory; refuse one that exists or cannot be written."""
        path = Path(path)
        if path.exists():
            raise RunDirectoryError(f"{literal(str(path))}: already exists; choose another run directory ({{0}}) or "
                                    "remove it", OUT)  # fmt: skip
        try:
            if not path.parent.is_dir():
                try:
                    path.parent.mkdir(parents=True)
                except FileExistsError:  # a file, not a folder, has the parent's name
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
            path.mkdir()
        except FileExistsError:  # another process took the name meanwhile
            raise RunDirectoryError(f"{literal(str(path))}: already exists; choose another run directory ({{0}}) or "
                                    "remove it", OUT) from None  # fmt: skip
        except OSError as err:
            raise _failed(path, "cannot write the run there", err, "; choose another run directory ({0})") from None
        return cls(path, lock_directory(path, "run"))

    @classmethod
    def open(cls, path: Path) -> RunDirectory:
        """Hold an existing run directory (to resume it)."""
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise RunDirectoryError(f"{literal(str(path))}: not a trustsim run directory (no {MANIFEST}); give the "
                                    "run's directory ({0})", OUT)  # fmt: skip
        return cls(path, lock_directory(path, "run"))

    def close(self) -> None:
        """Release the directory."""
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _guard(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except OSError as err:
            raise _failed(self.path, f"writing {what} failed", err, "; the run is not complete") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest."""
        self._guard(MANIFEST, lambda: atomic_write(self.path / MANIFEST, lambda p: _write_json(p, manifest)))

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as it stands."""
        return read_manifest(self.path, finished=False)

    def write_results(
        self, metrics: pd.DataFrame, agents: Iterable[pa.RecordBatch], trace: pd.DataFrame, groups: pd.DataFrame
    ) -> None:
        """Write (or replace) the metrics, agent, trace and groups tables.

        ``agents`` are the agent table's batches (:func:`agent_batches`), written one row
        group each as they come, so the whole table is never held at once.
        """
        table = pa.Table.from_pandas(metrics, preserve_index=False)
        traced = pa.Table.from_pandas(trace, preserve_index=False)
        grouped = pa.Table.from_pandas(groups, preserve_index=False)
        self._guard(METRICS, lambda: atomic_write(self.path / METRICS, lambda p: pq.write_table(table, p)))
        self._guard(AGENTS, lambda: atomic_write(self.path / AGENTS, lambda p: write_batches(p, agents)))
        self._guard(TRACE, lambda: atomic_write(self.path / TRACE, lambda p: pq.write_table(traced, p)))
        self._guard(GROUPS, lambda: atomic_write(self.path / GROUPS, lambda p: pq.write_table(grouped, p)))

    def save_checkpoint(self, state: SavedState, keep: int) -> Path:
        """Save ``state`` as ``checkpoints/day-DDDDDD.npz``; keep only the ``keep`` latest checkpoints."""
        folder = self.path / CHECKPOINTS
        target = folder / f"day-{state.day:06d}.npz"
        self._guard("a checkpoint", lambda: folder.mkdir(exist_ok=True))
        self._guard(f"checkpoint {target.name}", lambda: atomic_write(target, lambda p: write_checkpoint(p, state)))
        for old in checkpoints(self.path)[:-keep]:
            old.unlink(missing_ok=True)
        return target

    def remove_temporary_files(self) -> None:
        """Remove what a killed process left half-written (never a finished file)."""
        for folder in (self.path, self.path / CHECKPOINTS):
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoint files, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in folder.glob("day-*.npz") if (m := _CHECKPOINT_NAME.match(p.name))]
    return [path for _, path in sorted(found)]


def write_checkpoint(path: Path, state: SavedState) -> None:
    """Write ``state`` to ``path`` (not atomically: :meth:`RunDirectory.save_checkpoint` is)."""
    meta = {
        "format": CHECKPOINT_FORMAT,
        "day": state.day,
        "agents": int(state.degree.shape[0]),
        "edges": int(state.network["edge_base"][-1]) + int(state.network["edge_start"][-1]),
        "observed_total": state.observed_total,
        "scenario": state.scenario,
    }
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    arrays |= {f"population__{name}": values for name, values in state.population.items()}
    arrays |= {f"network__{name}": values for name, values in state.network.items()}
    arrays |= {f"metrics__{name}": values for name, values in state.metrics.items()}
    arrays |= {f"trace__{name}": values for name, values in state.trace.items()}
    arrays |= {f"groups__{name}": values for name, values in state.groups.items()}
    arrays |= {f"credit_file__{name}": values for name, values in state.credit_file.items()}
    arrays["degree"] = state.degree
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@dataclass(frozen=True)
class CheckpointHeader:
    """What a checkpoint says about itself: its day, edges and the scenario it belongs to."""

    day: int
    edges: int
    observed_total: int
    scenario: Scenario


def read_checkpoint_header(path: str | Path) -> CheckpointHeader:
    """The header of a checkpoint, without loading its arrays."""
    path = _checkpoint_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
        if isinstance(meta, dict) and meta.get("format") in (1, 2, 3, 4, 5):
            raise ValueError(f"written by an older trustsim (format {meta['format']}: other draws, agent arrays or "
                             "network arrays); run it again")  # fmt: skip
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"a header of format {CHECKPOINT_FORMAT} is missing")
        for key, kind in (("day", int), ("edges", int), ("observed_total", int), ("scenario", dict)):
            if not isinstance(meta.get(key), kind):
                raise ValueError(f"header lacks {key!r}")
        scenario = validate(meta["scenario"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ScenarioError) as err:
        raise InputFileError(f"{path}: not a readable trustsim checkpoint ({_first_line(err)})") from None
    return CheckpointHeader(meta["day"], meta["edges"], meta["observed_total"], scenario)


def read_checkpoint(path: str | Path) -> SavedState:
    """Load a checkpoint written by :func:`write_checkpoint`, checked array by array against its scenario.

    Anything that is not such a checkpoint raises a one-line :class:`InputFileError`.
    """
    header = read_checkpoint_header(path)
    path = _checkpoint_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
        parts: dict[str, dict[str, np.ndarray]] = {
            "population": {}, "network": {}, "metrics": {}, "trace": {}, "credit_file": {}, "groups": {},
        }  # fmt: skip
        for name, values in arrays.items():
            group, _, key = name.partition("__")
            if group in parts:
                parts[group][key] = values
        state = SavedState(
            day=header.day,
            scenario=header.scenario.resolved(),
            population=parts["population"],
            network=parts["network"],
            degree=arrays["degree"],
            metrics=parts["metrics"],
            observed_total=header.observed_total,
            trace=parts["trace"],
            groups=parts["groups"],
            credit_file=parts["credit_file"] or empty_file(),  # a checkpoint of a run without expiry may lack it
        )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise InputFileError(f"{path}: not a readable trustsim checkpoint ({_first_line(err)})") from None
    problems = saved_state_problems(state, header.scenario)
    if problems:
        raise InputFileError(f"{path}: a damaged trustsim checkpoint ({problems[0]})")
    return state


def _checkpoint_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        found = ", ".join(p.name for p in checkpoints(path)) or "none"
        raise InputFileError(f"{path}: is a directory; give a checkpoint file (checkpoints there: {found})")
    if not path.is_file():
        raise InputFileError(f"{path}: checkpoint not found; give a checkpoints/day-DDDDDD.npz file of a run")
    if not zipfile.is_zipfile(path):
        raise InputFileError(f"{path}: not a trustsim checkpoint (not an .npz archive)")
    return path


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


BOOKKEEPING = ("denials_since_row", "wrongful_since_row")
"""State arrays that only count towards the next row of groups.parquet: not in the agent table."""


AGENT_ROWS_PER_BATCH = 1 << 16
"""Rows of the agent table built and written at a time (one Parquet row group each):
writing ``agents.parquet`` holds one batch, about
(64 + 16·behaviours) bytes a row, never the whole table (:func:`trustsim.memory.estimate`)."""


def agent_batches(
    population: Population,
    scenario: Scenario,
    degree: np.ndarray,
    ids: np.ndarray | None = None,
    households: Households | None = None,
    rows_per_batch: int = AGENT_ROWS_PER_BATCH,
) -> Iterator[pa.RecordBatch]:
    """The final state of every agent (``agents.parquet``), ``rows_per_batch`` rows at a time, in order.

    ``ids``: whose rows these are (``population`` then holds just those agents, as
    :meth:`trustsim.engine.Simulation.agent_state` gives them). With households, each
    agent's ``household`` and its ``children``; with ages, its ``age``. Every batch has
    the same schema, and there is always at least one (an empty one for no agents).
    """
    if rows_per_batch < 1:
        raise ValueError(f"rows_per_batch must be at least 1, not {rows_per_batch}")
    agent_ids = None if ids is None else np.asarray(ids, dtype=np.int64)
    n = population.n_agents
    for start in range(0, max(n, 1), rows_per_batch):
        # Built in a function of its own, so that nothing of a batch outlives its being written.
        yield _agent_batch(
            population, scenario, degree, agent_ids, households, slice(start, min(start + rows_per_batch, n))
        )


def _agent_batch(
    population: Population,
    scenario: Scenario,
    degree: np.ndarray,
    ids: np.ndarray | None,
    households: Households | None,
    rows: slice,
) -> pa.RecordBatch:
    """The rows ``rows`` of the agent table (see :func:`agent_batches`)."""
    batch_ids = np.arange(rows.start, rows.stop, dtype=np.int64) if ids is None else ids[rows]
    columns: dict[str, Any] = {"id": batch_ids}
    for name, whole in population.arrays().items():
        if name in BOOKKEEPING or (name == "age" and scenario.ages is None):
            continue
        values, column = whole[..., rows], STATE[name]
        if column.decoded_by is not None:  # frailty and the gaps, kept as 16-bit codes, are written as values
            values = column.decoded_by(values)
        if column.gap_of is not None:  # deterrence and chill, kept as 1 − x, are written as x
            name, values = column.gap_of, 1.0 - values.astype(np.float64)
        if column.bits:  # a byte of flags is written as a bool column per flag
            for flag in column.bits:
                columns[flag] = flag_values(values, FLAGS[flag][1])
        elif values.ndim == 2:
            for k, behaviour in enumerate(scenario.behaviours):
                # Written as double whatever the storage (deterrence is float32 in memory),
                # so the file's schema does not follow the engine's layout.
                columns[f"{name}_{behaviour}"] = values[k].astype(np.float64)
        else:
            columns[name] = values
    score = population.score[rows]
    columns["counterfactual_score"] = score.astype(np.float64) + population.wrongful[rows]  # as the rules add them
    names = np.array([tier.name for tier in scenario.tiers])
    columns["tier"] = names[tier_of(score, tier_bounds(scenario))]
    columns["active_degree"] = degree[rows]
    if households is not None and households.n_households:
        household = households.member_of[batch_ids]
        columns["household"] = household
        columns["children"] = households.children[household]
    return pa.record_batch(columns)


def agent_table(
    population: Population,
    scenario: Scenario,
    degree: np.ndarray,
    ids: np.ndarray | None = None,
    households: Households | None = None,
) -> pa.Table:
    """The whole agent table at once: the batches of :func:`agent_batches`, concatenated.

    Holds every row in memory; runs write ``agents.parquet`` batch by batch instead.
    """
    return pa.Table.from_batches(list(agent_batches(population, scenario, degree, ids, households)))


def write_batches(path: Path, batches: Iterable[pa.RecordBatch]) -> None:
    """Write ``batches`` (at least one, all of one schema) to the Parquet file ``path``, one row group each.

    Only one batch is held at a time. Should a batch fail to come, the exception goes
    through, with ``path`` left half-written: call it under :func:`atomic_write`.
    """
    remaining = iter(batches)
    first = next(remaining, None)
    if first is None:
        raise ValueError(f"{path}: no batches to write (not even an empty one, which carries the schema)")
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_batch(first)
        del first
        for batch in remaining:
            writer.write_batch(batch)
            del batch  # not held while the next batch is built


def read_manifest(run_dir: Path, *, finished: bool = True) -> dict[str, Any]:
    """The manifest of a run directory (with ``finished``, refuse a run that is not complete)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(f"{run_dir}: not a trustsim run directory (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunDirectoryError(f"{path}: unreadable manifest ({_first_line(err)})") from None
    if not isinstance(manifest, dict):
        raise RunDirectoryError(f"{path}: not a trustsim manifest (a JSON object); it was edited or overwritten")
    if finished and not manifest.get("complete"):
        raise RunDirectoryError(
            f"{run_dir}: the run is not complete (status {manifest.get('status')!r}); "
            f"finish it with `trustsim resume {run_dir}`"
        )
    return manifest


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """The daily metrics of a run directory (the days simulated so far if it is not complete)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise RunDirectoryError(f"{run_dir}: no {METRICS} yet; finish the run with `trustsim resume {run_dir}`")
    return pd.read_parquet(path)


def read_agents(run_dir: Path) -> pd.DataFrame:
    """The final agent table of a finished run directory."""
    return pd.read_parquet(Path(run_dir) / AGENTS)


def read_groups(run_dir: Path) -> pd.DataFrame:
    """Who bears it: the run's rows by group (an empty table if the run directory has none)."""
    path = Path(run_dir) / GROUPS
    return pd.read_parquet(path) if path.is_file() else empty_groups()


def read_trace(run_dir: Path) -> pd.DataFrame:
    """The traced agents' day-by-day table (empty if the run directory has none)."""
    path = Path(run_dir) / TRACE
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame({"day": [], "id": []})


def directory_kind(directory: Path) -> str:
    """``"run"`` for a run directory, ``"experiment"`` for an experiment directory; anything else is refused
    in one line."""
    if (directory / MANIFEST).is_file():
        return "run"
    if (directory / EXPERIMENT_DESIGN).is_file():
        return "experiment"
    if not directory.is_dir():
        raise InputFileError(f"{directory}: no such directory; give a run directory or an experiment directory")
    raise InputFileError(
        f"{directory}: not a trustsim run ({MANIFEST}) or experiment ({EXPERIMENT_DESIGN}) directory; "
        "give the directory a trustsim run, compare, sweep or sensitivity wrote"
    )
