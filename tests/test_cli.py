"""The command line and the Python API: outputs of docs/model.md §13, atomic run directories, error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import trustsim
from trustsim.errors import RunDirectoryError
from trustsim.metrics import columns
from trustsim.scenario import json_schema, load_scenario
from trustsim.store import read_manifest

MODEL_COLUMNS = """day alive score_mean score_p10 score_p50 score_p90 blacklisted blacklist_entries_score
blacklist_entries_court blacklist_exits wrongly_sanctioned ever_wrongly_sanctioned ever_sanctioned
dissent_committed dissent_unchilled import_share active_edges isolated mean_degree_blacklisted
mean_degree_others off_grid advised emigrated review_backlog stored_record_bytes stored_bytes""".split()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=900)


def test_run_writes_manifest_metrics_and_agents(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli("run", "china_scs", "--agents", "3000", "--days", "12", "--seed", "5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "ever wrongly sanctioned" in done.stdout and "run written to" in done.stdout
    assert "compile " in done.stdout and " s, build " in done.stdout  # compile time apart from the simulation
    assert "bytes an agent (state " in done.stdout
    assert "who bears it — " in done.stdout and "the poorest fifth" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "agents.parquet", "groups.parquet", "manifest.json", "metrics.parquet", "report.html", "trace.parquet"
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["complete"] is True
        and manifest["status"] == "complete"
        and manifest["days_done"] == 12
        and manifest["seed"] == 5
        and manifest["backend"] == "cpu"
    )
    assert manifest["scenario"]["run"] == {"agents": 3000, "days": 12, "seed": 5, "breakdown_every": 30}
    assert {"build", "simulate", "write"} <= set(manifest["wall_seconds"]) and manifest["peak_memory_bytes"] > 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics) == 12 and list(metrics["day"]) == list(range(12))
    s = load_scenario("china_scs")
    required = MODEL_COLUMNS + [f"tier_{t.name}" for t in s.tiers]
    required += [
        f"{k}_{b}" for b in s.behaviours for k in ("committed", "observed", "misattributed", "caught", "penalised")
    ]
    required += [f"{k}_{x}" for x in s.sanctions for k in ("active", "denials")]
    assert set(required) <= set(metrics.columns)
    assert list(metrics.columns) == list(columns(s))
    agents = pd.read_parquet(out / "agents.parquet")
    assert len(agents) == 3000 and {"score", "blacklisted", "tier", "emigrated", "wrongful"} <= set(agents.columns)
    # Deterrence and chill are kept as their gaps to 1; the table gives them as the model names them.
    assert {"chill", "deterrence_jaywalk"} <= set(agents.columns) and not any("gap" in c for c in agents.columns)
    assert agents["chill"].between(0, 1, inclusive="right").all()
    assert agents["deterrence_jaywalk"].between(0, 1, inclusive="right").all()
    assert agents["blacklisted"].sum() >= metrics["blacklisted"].iloc[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "chinas_scs"], "no such shipped scenario"),
        (["run", "missing/file.toml"], "file not found"),
        (["run", "china_scs", "--set", "behaviours.jaywalk.base_rate=1.5"], "behaviours.jaywalk.base_rate: must be"),
        (["run", "china_scs", "--agents", "1"], "run.agents: input should be greater than or equal to 2"),
        (["run", "china_scs", "--seed", "4294967296"], "run.seed"),
        (["validate", "china_scs", "--set", "score.nope=1"], "score.nope: unknown key"),
        (["run", "china_scs", "--agents", "many"], "Invalid value for '--agents'"),
        (["run", "china_scs", "--bogus"], "No such option"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args: list[str], message: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_existing_or_unwritable_out_is_refused_and_left_alone(tmp_path: Path) -> None:
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "precious.txt").write_text("keep me")
    done = cli("run", "china_scs", "--agents", "100", "--days", "2", "--out", str(existing))
    assert done.returncode == 2 and "already exists" in done.stderr and "Traceback" not in done.stderr
    assert (existing / "precious.txt").read_text() == "keep me"
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = cli("run", "china_scs", "--agents", "100", "--days", "2", "--out", str(blocker / "run"))
    assert done.returncode == 2 and "cannot write the run there" in done.stderr


def test_a_run_that_fails_midway_is_marked_failed_and_never_looks_complete(tmp_path: Path) -> None:
    def fail_on_day_3(t: int) -> None:
        if t == 3:
            raise RuntimeError("boom")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        trustsim.run("china_scs", agents=500, days=10, out=out, on_day=fail_on_day_3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["status"] == "failed" and manifest["error"] == "boom"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    with pytest.raises(RunDirectoryError, match="not complete"):
        read_manifest(out)


def test_a_keyboard_interrupt_between_days_stops_the_run_cleanly(tmp_path: Path) -> None:
    def stop_on_day_3(t: int) -> None:
        if t == 3:
            raise KeyboardInterrupt

    result = trustsim.run("china_scs", agents=500, days=10, out=tmp_path / "run", on_day=stop_on_day_3)
    assert not result.complete and result.manifest["status"] == "interrupted" and len(result.metrics) == 4


def test_python_api_returns_metrics_and_run_directory(tmp_path: Path) -> None:
    result = trustsim.run("china_scs", agents=1000, days=5, seed=3, overrides=["score.contagion=0"], out=tmp_path / "r")
    assert isinstance(result.metrics, pd.DataFrame) and len(result.metrics) == 5
    assert result.run_dir == tmp_path / "r" and result.manifest["scenario"]["score"]["contagion"] == 0
    again = trustsim.Result.load(result.run_dir)
    pd.testing.assert_frame_equal(again.metrics, result.metrics)
    assert len(again.agents) == 1000
    assert result.summary()["days"] == 5
    with pytest.raises(RunDirectoryError):
        trustsim.run("china_scs", agents=1000, days=5, out=tmp_path / "r")


def test_validate_scenarios_and_schema_commands() -> None:
    done = cli("validate", "china_scs")
    assert done.returncode == 0 and "valid scenario 'china_scs'" in done.stdout
    listing = cli("scenarios")
    assert listing.returncode == 0 and "china_scs" in listing.stdout and "baseline" in listing.stdout
    schema = cli("schema")
    assert schema.returncode == 0 and schema.stdout == json_schema()


def test_a_full_disk_ends_in_one_line_and_leaves_no_run_that_looks_complete(tmp_path: Path) -> None:
    import resource

    def small_disk() -> None:  # files may not grow past 64 KiB: writes fail as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "trustsim", "run", "china_scs", "--agents", "5000", "--days", "5", "--out", str(out)],
        capture_output=True, text=True, timeout=900, preexec_fn=small_disk,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    expected = "writing agents.parquet failed (File too large; free some space or choose another run directory (--out))"
    assert expected in lines[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["status"] == "failed"
    assert not (out / "agents.parquet").exists() and not list(out.glob(".*.tmp"))
    with pytest.raises(RunDirectoryError, match="not complete"):
        read_manifest(out)
