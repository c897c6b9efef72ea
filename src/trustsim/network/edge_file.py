"""A network read from an edge list (docs/model.md §2): a Parquet or CSV file of two integer columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trustsim.errors import InputFileError
from trustsim.network.csr import from_sorted_keys
from trustsim.network.graph import Network


def _read_table(path: Path) -> Any:
    """The file as a pyarrow Table; one-line InputFileError if it cannot be read."""
    import pyarrow as pa

    if not path.is_file():
        raise InputFileError(f"{path}: edge file not found; check network.path in the scenario")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputFileError(f"{path}: unknown edge-file extension '{path.suffix}'; use a .parquet or .csv file")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except (pa.ArrowException, OSError) as err:
        kind = "a readable Parquet file" if suffix == ".parquet" else "a readable CSV file with a header row"
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(f"{path}: not {kind} ({detail})") from None


def _edge_columns(path: Path, table: Any) -> tuple[np.ndarray, np.ndarray]:
    """The two integer columns of an edge table as int64 arrays, after checking their types."""
    import pyarrow as pa

    names = list(table.column_names)
    if len(names) != 2:
        raise InputFileError(
            f"{path}: has {len(names)} column(s) {names}; "
            "an edge list needs exactly two integer columns, one edge a row"
        )
    if path.suffix.lower() == ".csv" and all(name.strip().lstrip("-").isdigit() for name in names):
        raise InputFileError(
            f"{path}: the first row ({','.join(names)}) looks like an edge, but it is read as the header; "
            "start the file with a header row such as `u,v`"
        )
    cols = []
    for index, name in enumerate(names):
        col = table.column(index)  # by position: two columns may share a name
        if table.num_rows == 0 and pa.types.is_null(col.type):
            cols.append(np.zeros(0, dtype=np.int64))
            continue
        if not pa.types.is_integer(col.type):
            raise InputFileError(f"{path}: column '{name}' has type {col.type}; edge ends must be integer agent ids")
        if col.null_count:
            raise InputFileError(
                f"{path}: column '{name}' has {col.null_count} missing value(s); fill or drop those rows"
            )
        cols.append(col.to_numpy())
    return cols[0], cols[1]


def _check_ids(path: Path, u: np.ndarray, v: np.ndarray, n_agents: int) -> None:
    """Reject ids outside ``0 … n_agents-1`` and self-loops, naming a bad row."""
    bad = (u < 0) | (u >= n_agents) | (v < 0) | (v >= n_agents)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputFileError(
            f"{path}: {int(bad.sum())} edge(s) name agents outside 0 … {n_agents - 1}, e.g. data row {row + 1}: "
            f"({int(u[row])}, {int(v[row])}); renumber the agents 0 … N-1 or change run.agents"
        )
    loops = u == v
    if loops.any():
        row = int(np.argmax(loops))
        raise InputFileError(
            f"{path}: {int(loops.sum())} self-loop(s), e.g. data row {row + 1}: ({int(u[row])}, {int(v[row])}); "
            "remove them"
        )


def _sorted_unique_keys(path: Path, u: np.ndarray, v: np.ndarray, n_agents: int) -> np.ndarray:
    """Sorted keys ``min·N + max`` of the edges; reject duplicates in either orientation."""
    keys = np.minimum(u, v) * np.int64(n_agents) + np.maximum(u, v)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    dup = np.flatnonzero(keys[1:] == keys[:-1])
    if dup.size:
        first, second = int(order[dup[0]]), int(order[dup[0] + 1])
        raise InputFileError(
            f"{path}: {dup.size} duplicate edge(s) (an undirected edge listed twice, in either direction), e.g. "
            f"data rows {first + 1} ({int(u[first])}, {int(v[first])}) and {second + 1} "
            f"({int(u[second])}, {int(v[second])}); keep one row per edge"
        )
    return keys


def edge_file(path: str | Path, n_agents: int) -> Network:
    """Read an edge list: a Parquet (``.parquet``) or CSV (``.csv``, header row) file.

    The file must have exactly two integer columns (any names), one edge a row,
    with agent ids in ``0 … n_agents-1``, no self-loops and no edge listed twice
    (in either direction). Every problem raises :class:`InputFileError` with one
    line naming the file, the problem and the fix.
    """
    path = Path(path)
    u, v = _edge_columns(path, _read_table(path))
    _check_ids(path, u, v, n_agents)
    u = u.astype(np.int64, copy=False)
    v = v.astype(np.int64, copy=False)
    keys = _sorted_unique_keys(path, u, v, n_agents)
    del u, v
    return from_sorted_keys(n_agents, keys)
