"""The outputs' data dictionary (trustsim.columns) describes every column every shipped scenario writes, once,
and nothing that no scenario writes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import trustsim
from trustsim.columns import TABLES
from trustsim.scenario import shipped_scenarios


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    """The columns of each table of a small run of each shipped scenario."""
    columns = {}
    for name in sorted(shipped_scenarios()):
        run = trustsim.run(name, agents=1_500, days=3, out=tmp_path_factory.mktemp(name) / "run")
        columns[name] = {table.file: pq.read_schema(Path(run.run_dir) / table.file).names for table in TABLES}
    return columns


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_column_written_is_described_once(name: str, written: dict[str, dict[str, list[str]]]) -> None:
    scenario = trustsim.load_scenario(name)
    for table in TABLES:
        described = table.described(scenario)
        undescribed = [column for column in written[name][table.file] if column not in described]
        assert not undescribed, f"{table.file}: {undescribed} have no entry in trustsim.columns"
        twice = [column for column in written[name][table.file] if len(described[column]) > 1]
        assert not twice, f"{table.file}: {twice} are described by more than one entry"


def test_every_entry_is_written_by_some_scenario(written: dict[str, dict[str, list[str]]]) -> None:
    for table in TABLES:
        for column in table.columns:
            assert any(set(column.names(trustsim.load_scenario(name))) & set(columns[table.file])
                       for name, columns in written.items()), f"{table.file}: {column.name} is never written"


def test_every_entry_has_a_meaning_and_a_unit() -> None:
    for table in TABLES:
        assert table.about
        for column in table.columns:
            assert column.meaning and column.unit, column
