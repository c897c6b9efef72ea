"""Checkpoints, resume after a real kill -9 or Ctrl-C, and branching a saved society under another policy."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trustsim
from conftest import scenario
from trustsim.engine import Simulation
from trustsim.errors import InputFileError, RunDirectoryError, ScenarioError
from trustsim.network import CUT
from trustsim.population import frailty_values, gap_code
from trustsim.rng import LANES, lane_uniform_array
from trustsim.store import CHECKPOINT_FORMAT, RunDirectory, agent_batches, agent_table, checkpoints

AGENTS, DAYS = 60_000, 160
"""A run with enough state that a checkpoint is a real file, and enough days to stop it in the middle."""
SIGNALLED = Path(__file__).with_name("signal_at_day.py")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=600)


def signalled_run(out: Path, day: int, signal_name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``trustsim run`` in a process of its own that gets ``signal_name`` right after day ``day``
    (tests/signal_at_day.py): where the signal lands does not depend on the machine's speed."""
    command = [sys.executable, str(SIGNALLED), str(day), signal_name, "run", "china_scs", "--agents", str(AGENTS),
               "--days", str(DAYS), "--seed", "7", "--out", str(out), "--quiet", *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> trustsim.Result:
    out = tmp_path_factory.mktemp("reference") / "run"
    return trustsim.run("china_scs", agents=AGENTS, days=DAYS, seed=7, out=out)


def assert_same_run(run_dir: Path, reference: trustsim.Result) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "metrics.parquet"), reference.metrics, check_exact=True)
    got = pd.read_parquet(run_dir / "agents.parquet")
    pd.testing.assert_frame_equal(got, reference.agents, check_exact=True)
    traced = pd.read_parquet(run_dir / "trace.parquet")
    pd.testing.assert_frame_equal(traced, pd.read_parquet(reference.run_dir / "trace.parquet"), check_exact=True)


def test_resume_after_kill_9_gives_identical_metrics_bit_for_bit(
    tmp_path: Path, uninterrupted: trustsim.Result
) -> None:
    out = tmp_path / "run"
    killed = signalled_run(out, 25, "SIGKILL", "--checkpoint-every", "10")  # killed 5 days after a checkpoint
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["status"] == "running"
    assert not (out / "metrics.parquet").exists()  # killed before the end: nothing looks finished
    saved_day = int(checkpoints(out)[-1].stem.split("-")[1])
    assert saved_day == 20
    done = cli("resume", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["resumed"][0]["from_day"] == saved_day
    assert_same_run(out, uninterrupted)
    assert not list(out.glob("**/.*.tmp"))


def test_ctrl_c_stops_at_the_end_of_a_day_writes_what_was_collected_and_resumes(
    tmp_path: Path, uninterrupted: trustsim.Result
) -> None:
    out = tmp_path / "run"
    stopped = signalled_run(out, 30, "SIGINT", "--checkpoint-every", "25")  # between two checkpoints
    stderr = stopped.stderr
    assert stopped.returncode == 130, stderr
    assert "Traceback" not in stderr and "trustsim resume" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["status"] == "interrupted"
    days_done = manifest["days_done"]
    assert days_done == 30  # the day in progress was finished, and no other
    partial = trustsim.Result.load(out)
    assert not partial.complete and len(partial.metrics) == days_done
    pd.testing.assert_frame_equal(partial.metrics, uninterrupted.metrics.iloc[:days_done], check_exact=True)
    assert len(partial.agents) == AGENTS
    assert checkpoints(out)[-1].name == f"day-{days_done:06d}.npz"  # saved where it stopped
    with pytest.raises(RunDirectoryError, match="not complete"):
        trustsim.api.read_manifest(out)
    result = trustsim.resume(out)
    assert result.complete and result.manifest["resumed"][0]["from_day"] == days_done
    assert_same_run(out, uninterrupted)


def test_resume_without_any_checkpoint_starts_over_and_matches(tmp_path: Path) -> None:
    def stop_on_day_4(t: int) -> None:
        if t == 4:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    stopped = trustsim.run("china_scs", agents=2000, days=12, seed=2, out=out, on_day=stop_on_day_4)
    assert not stopped.complete and stopped.manifest["days_done"] == 5
    for checkpoint in checkpoints(out):
        checkpoint.unlink()  # as if the run had been killed before saving anything
    resumed = trustsim.resume(out)
    assert resumed.manifest["resumed"][0]["from_day"] == 0
    reference = trustsim.run("china_scs", agents=2000, days=12, seed=2, out=tmp_path / "reference")
    pd.testing.assert_frame_equal(resumed.metrics, reference.metrics, check_exact=True)


def test_checkpoints_are_kept_as_asked(tmp_path: Path) -> None:
    trustsim.run("baseline", agents=500, days=10, checkpoint_every=2, keep_checkpoints=2, out=tmp_path / "r")
    assert [p.name for p in checkpoints(tmp_path / "r")] == ["day-000008.npz", "day-000010.npz"]
    trustsim.run("baseline", agents=500, days=10, checkpoint_every=3, out=tmp_path / "s")
    assert [p.name for p in checkpoints(tmp_path / "s")] == ["day-000009.npz"]


def test_a_branch_without_changes_continues_exactly_like_the_uninterrupted_run(tmp_path: Path) -> None:
    first = trustsim.run("china_scs", agents=5000, days=30, seed=4, checkpoint_every=30, out=tmp_path / "first")
    saved = checkpoints(first.run_dir)[-1]
    continued = trustsim.run("china_scs", days=70, start_from=saved, out=tmp_path / "continued")
    straight = trustsim.run("china_scs", agents=5000, days=70, seed=4, out=tmp_path / "straight")
    pd.testing.assert_frame_equal(continued.metrics, straight.metrics, check_exact=True)
    pd.testing.assert_frame_equal(continued.agents, straight.agents, check_exact=True)
    assert continued.manifest["branch"]["day"] == 30 and continued.manifest["branch"]["changed"] == {}


def test_a_branch_changes_policy_from_its_day_with_common_random_numbers(tmp_path: Path) -> None:
    trustsim.run("china_scs", agents=8000, days=60, seed=3, checkpoint_every=60, out=tmp_path / "parent")
    saved = checkpoints(tmp_path / "parent")[-1]
    same = trustsim.run("china_scs", days=120, start_from=saved, out=tmp_path / "same")
    # "What if the blacklist were abolished on day 60?": no court sends anyone to it, no
    # score lists anyone, and everybody on it leaves it.
    abolished = trustsim.run(
        "china_scs", days=120, start_from=saved, out=tmp_path / "abolished",
        overrides=["behaviours.late_payment.escalation=0", "behaviours.dissent.escalation=0",
                   "blacklist.blacklist_score=-1", "blacklist.court_exit_rate=1",
                   "blacklist.blacklist_exit_score=0", "blacklist.blacklist_exit_days=0"],
    )  # fmt: skip
    a, b = same.metrics, abolished.metrics
    pd.testing.assert_frame_equal(a.iloc[:60], b.iloc[:60], check_exact=True)  # the shared history
    behaviour = [c for c in a.columns if c.startswith("committed_")]
    # day 60's behaviour comes from the saved state and the same draws: identical
    pd.testing.assert_series_equal(a.loc[60, behaviour], b.loc[60, behaviour], check_exact=True)
    assert a.loc[59, "blacklisted"] > 0
    assert (b["blacklisted"].iloc[60:] == 0).all() and (a["blacklisted"].iloc[60:] > 0).all()
    assert b["denials_flight_ban"].iloc[61:].sum() == 0 < a["denials_flight_ban"].iloc[61:].sum()
    assert abolished.manifest["branch"]["changed"]["blacklist.court_exit_rate"][1] == 1


def test_a_branch_that_rewards_a_behaviour_no_longer_divides_its_rate_by_an_old_deterrence() -> None:
    """docs/model.md §3 multiplies by deterrence only while a behaviour is negative (§7.1 relaxes only those).

    A society saved with late payment deterred hard, continued under a policy that rewards
    late payment, commits it at its undeterred rate, draw for draw; the old deterrence is
    kept, untouched, should a later branch make the behaviour negative again.
    """
    s = scenario("china_scs", agents=20_000, days=4, seed=3)
    first = Simulation(s)
    first.step()
    first.step()
    saved = first.saved_state()
    b = list(s.behaviours).index("late_payment")
    saved.population["deterrence_gap"][b] = gap_code(0.95)  # deterrence 0.05
    alive = ~saved.population["emigrated"].copy()
    rewarded = scenario("china_scs", "behaviours.late_payment.points=10", agents=20_000, days=4, seed=3)
    branch = Simulation(rewarded, start=saved)
    branch.step()
    committed = (branch.today.outcomes.committed.astype(np.uint64) >> np.uint64(b)) & np.uint64(1) != 0
    frailty = frailty_values(branch.world.population.frailty[b])
    rate = np.minimum(rewarded.behaviours["late_payment"].base_rate * frailty, 1.0)
    draws = lane_uniform_array(3, "beh", 2, np.arange(20_000), b // LANES, b % LANES)
    assert np.array_equal(committed, alive & (draws < rate))
    assert committed.sum() > 20  # the comparison is not vacuous (about 40 expected; 2 if deterred)
    assert (branch.world.population.deterrence_gap[b] == gap_code(0.95)).all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["population.outspoken_share=0.5"], "population.outspoken_share: 0.5 differs from the saved society"),
        (["network.k=4"], "network.k"),
        (["regions.0.cashless_share=0.1"], "regions.0.cashless_share"),
    ],
)
def test_a_branch_may_not_change_the_society(tmp_path: Path, overrides: list[str], message: str) -> None:
    trustsim.run("china_scs", agents=1000, days=5, checkpoint_every=5, out=tmp_path / "parent")
    saved = checkpoints(tmp_path / "parent")[-1]
    with pytest.raises(ScenarioError, match=message):
        trustsim.run("china_scs", days=10, start_from=saved, overrides=overrides, out=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_branch_and_resume_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    trustsim.run("china_scs", agents=1000, days=5, checkpoint_every=5, out=tmp_path / "parent")
    saved = str(checkpoints(tmp_path / "parent")[-1])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(Path(saved).read_bytes()[:5000])
    cases = [
        (["run", "china_scs", "--from", saved, "--days", "5"], "not after the checkpoint's day 5; give the total "
                                                                "length (e.g. --days 370)"),
        (["run", "china_scs", "--from", saved, "--days", "9", "--agents", "999"], "run.agents: 999 differs"),
        (["run", "china_scs", "--from", str(broken), "--days", "9"], "not a trustsim checkpoint (not an .npz archive)"),
        (["run", "china_scs", "--from", str(tmp_path / "parent"), "--days", "9"], "is a directory"),
        (["run", "china_scs", "--from", str(tmp_path / "nope.npz"), "--days", "9"], "checkpoint not found"),
        (["run", "china_scs", "--agents", "500", "--checkpoint-every", "0"], "--checkpoint-every: input should"),
        (["resume", str(tmp_path / "parent")], "complete already"),
        (["resume", str(tmp_path)], "not a trustsim run directory"),
    ]
    for args, message in cases:
        done = cli(*args, "--quiet") if args[0] == "run" else cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_run_held_by_another_process_is_not_resumed(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "run"
    trustsim.run("baseline", agents=500, days=6, out=out, on_day=lambda t: _interrupt_at(t, 2))
    holder = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(RunDirectoryError, match="another trustsim process"):
            trustsim.resume(out)
    finally:
        os.close(holder)
    assert trustsim.resume(out).complete


def _interrupt_at(t: int, day: int) -> None:
    if t == day:
        raise KeyboardInterrupt


def test_checkpoint_files_are_never_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustsim import store

    def full_disk(path: Path, state: object) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(store, "write_checkpoint", full_disk)
    with pytest.raises(RunDirectoryError, match="No space left on device; free some space"):
        trustsim.run("baseline", agents=500, days=6, checkpoint_every=2, out=tmp_path / "r")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["status"] == "failed"
    assert list((tmp_path / "r" / "checkpoints").iterdir()) == []
    with pytest.raises(InputFileError):
        store.read_checkpoint(tmp_path / "r" / "checkpoints" / "day-000002.npz")


def test_a_branch_resumes_from_its_own_start_even_when_its_parent_is_gone(tmp_path: Path) -> None:
    import shutil

    trustsim.run("china_scs", agents=3000, days=10, seed=5, checkpoint_every=10, out=tmp_path / "parent")
    saved = checkpoints(tmp_path / "parent")[-1]
    change = ["score.contagion=0.2"]
    whole = trustsim.run("china_scs", days=25, start_from=saved, overrides=change, out=tmp_path / "whole")

    def crash_on_day_15(t: int) -> None:
        if t == 15:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        trustsim.run(
            "china_scs", days=25, start_from=saved, overrides=change, out=tmp_path / "b", on_day=crash_on_day_15
        )
    shutil.rmtree(tmp_path / "parent")
    resumed = trustsim.resume(tmp_path / "b")
    assert resumed.complete and resumed.manifest["resumed"][0]["from_day"] == 10 and "error" not in resumed.manifest
    pd.testing.assert_frame_equal(resumed.metrics, whole.metrics, check_exact=True)


def test_one_ctrl_c_while_the_results_are_written_lets_them_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustsim.store import RunDirectory

    write = RunDirectory.write_results

    def interrupted_write(self: RunDirectory, *args: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        write(self, *args)

    monkeypatch.setattr(RunDirectory, "write_results", interrupted_write)
    result = trustsim.run("baseline", agents=500, days=5, out=tmp_path / "r")
    assert result.complete and trustsim.Result.load(tmp_path / "r").complete


def test_sigterm_stops_at_the_end_of_the_day_like_ctrl_c(tmp_path: Path) -> None:
    def terminate_on_day_2(t: int) -> None:
        if t == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    result = trustsim.run("baseline", agents=500, days=8, out=tmp_path / "r", on_day=terminate_on_day_2)
    assert not result.complete and result.manifest["days_done"] == 3
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("options"), "options: input should be a valid dictionary"),
        (lambda m: m["options"].update(checkpoint_every=0), "options.checkpoint_every: input should be greater"),
        (lambda m: m["options"].update(bogus=1), "options.bogus: extra inputs are not permitted"),
        (lambda m: m.pop("scenario"), "no resolved scenario in it"),
        (lambda m: m["scenario"]["score"].update(contagion=7), "scenario.score.contagion: must be between 0 and 1"),
        (lambda m: [1, 2], "not a trustsim manifest"),
        (lambda m: "{not json", "unreadable manifest"),
    ],
)
def test_a_hand_edited_manifest_is_refused_in_one_line(
    tmp_path: Path, edit: Callable[[dict[str, Any]], Any], message: str
) -> None:
    out = tmp_path / "run"
    trustsim.run("baseline", agents=500, days=6, out=out, on_day=lambda t: _interrupt_at(t, 2))
    manifest = json.loads((out / "manifest.json").read_text())
    edited = edit(manifest)
    if isinstance(edited, str):
        (out / "manifest.json").write_text(edited)
    else:
        (out / "manifest.json").write_text(json.dumps(edited if isinstance(edited, list) else manifest))
    done = cli("resume", str(out))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda a: a.update(population__score=a["population__score"][:-1]), "agent array score is float32[999]"),
        (
            lambda a: a.update(population__score=a["population__score"].astype("float64")),
            "agent array score is float64",
        ),
        (lambda a: a.pop("population__chill_gap"), "agent arrays"),
        # values the kernels would misread: a code that decodes to a negative frailty, a region past the index
        (lambda a: a["population__frailty"].__setitem__((0, 0), 65535), "frailty holds a code above 64511"),
        (lambda a: a["population__region"].__setitem__(0, -3), "region holds a region outside 0"),
        (lambda a: a["population__region"].__setitem__(0, 4), "region holds a region outside 0"),
        (lambda a: a["population__chill_gap"].__setitem__(3, 0), "chill_gap holds the code 0, a gap of 1"),
        (lambda a: a["population__record"].__setitem__(2, 1 << 4), "record sets a bit beyond its 4 flags"),
        (lambda a: a.update(network__neighbours=a["network__neighbours"][:10]), "network edge count inconsistent"),
        (lambda a: a["network__neighbours"].__setitem__(3, 5000), "network rows inconsistent"),
        (lambda a: a["degree"].__setitem__(0, 999), "network active degrees inconsistent"),
        # a lattice bit beyond k/2 = 5; a lattice edge cut without its ends' degrees
        (lambda a: a["network__ring"].__setitem__(7, a["network__ring"][7] | (1 << 6)), "network rows inconsistent"),
        (lambda a: a["network__ring"].__setitem__(7, a["network__ring"][7] & 0xFF00),
         "network active degrees inconsistent"),
        (lambda a: a.update(network__ring=a["network__ring"].astype("int32")), "network arrays of the wrong type"),
        # a row start far beyond the slots: refused before any row is read (it would read out of bounds)
        (lambda a: a["network__offsets"].__setitem__(2, 2**31), "network rows inconsistent"),
        (lambda a: a["network__row_base"].__setitem__(1, 2**40), "network rows inconsistent"),
        (lambda a: a["network__row_base"].__setitem__(1, -5), "network rows inconsistent"),
        # one slot of an edge cut, its twin not: the two ends disagree
        (lambda a: a["network__neighbours"].__setitem__(0, a["network__neighbours"][0] | CUT),
         "network rows inconsistent"),
        # the first edge of row 5 moved: the edge indices would no longer be lexicographic
        (lambda a: a["network__edge_start"].__setitem__(5, a["network__edge_start"][5] + 1),
         "network rows inconsistent"),
        (lambda a: a["network__edge_base"].__setitem__(2, a["network__edge_base"][2] - 1), "network rows inconsistent"),
        (  # two neighbours of one row swapped: the row is no longer in id order
            lambda a: a["network__neighbours"].__setitem__([0, 1], a["network__neighbours"][[1, 0]].copy()),
            "network rows inconsistent",
        ),
        (lambda a: a.pop("metrics__blacklisted"), "metric columns differ"),
        (lambda a: a.pop("trace__score"), "trace columns differ"),
        (lambda a: a["trace__agents"].__setitem__(0, 10**6), "a traced agent's id is outside the population"),
        (lambda a: a.update(trace__chill=a["trace__chill"][:-1]), "trace column chill is not float64[5, "),
        (
            lambda a: a.update(meta=np.frombuffer(b"[1]", dtype=np.uint8)),
            f"a header of format {CHECKPOINT_FORMAT} is missing",
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_in_one_line(
    tmp_path: Path, damage: Callable[[dict[str, Any]], Any], message: str
) -> None:
    trustsim.run("china_scs", agents=1000, days=5, checkpoint_every=5, out=tmp_path / "parent")
    with np.load(checkpoints(tmp_path / "parent")[-1]) as archive:
        arrays = {name: archive[name].copy() for name in archive.files}
    damage(arrays)
    np.savez(tmp_path / "damaged.npz", **arrays)
    done = cli("run", "china_scs", "--from", str(tmp_path / "damaged.npz"), "--days", "9", "--quiet")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr


def test_a_simulation_saved_part_way_resumes_to_the_uninterrupted_run(tmp_path: Path) -> None:
    scenario = trustsim.load_scenario("china_scs", agents=2000, days=12, seed=4)
    whole = trustsim.run(scenario, out=tmp_path / "whole")
    simulation = trustsim.Simulation(scenario)
    for _ in range(5):
        simulation.step()
    saved = trustsim.save_simulation(simulation, tmp_path / "saved")
    assert not saved.complete and saved.manifest["status"] == "interrupted" and len(saved.metrics) == 5
    assert checkpoints(tmp_path / "saved")[-1].name == "day-000005.npz"
    with pytest.raises(RunDirectoryError):
        trustsim.save_simulation(simulation, tmp_path / "saved")  # never over an existing directory
    resumed = trustsim.resume(tmp_path / "saved")
    assert resumed.complete
    assert_same_run(tmp_path / "saved", whole)
    for _ in range(7):
        simulation.step()
    finished = trustsim.save_simulation(simulation, tmp_path / "finished")
    assert finished.complete
    assert_same_run(tmp_path / "finished", whole)


# ---------------------------------------------------------------------------------- agents.parquet, batch by batch


@pytest.fixture(scope="module", params=["china_scs", "china_family"])
def finished_simulation(request: pytest.FixtureRequest) -> Simulation:
    """A small simulation run to its end (china_family: with households and ages)."""
    simulation = Simulation(scenario(request.param, agents=3500, days=4))
    simulation.run()
    return simulation


def one_shot_agent_table(simulation: Simulation, ids: np.ndarray | None) -> pa.Table:
    """The agent table built at once: one batch of every row (a batch boundary cannot misplace a row in it)."""
    population, degree = simulation.agent_state(ids)
    rows = population.n_agents if ids is None else len(ids)
    batches = agent_batches(population, simulation.scenario, degree, ids, simulation.households,
                            rows_per_batch=max(rows, 1))  # fmt: skip
    return pa.Table.from_batches(list(batches))


def write_agents(run_dir: Path, simulation: Simulation, agents: Iterable[pa.RecordBatch]) -> None:
    """Write a simulation's results with ``agents`` as the agent table's batches."""
    with RunDirectory.create(run_dir) as directory:
        frames = simulation.metrics.frame(), simulation.trace.frame(simulation.days_done), simulation.groups.frame()
        directory.write_results(frames[0], agents, *frames[1:])


@pytest.mark.parametrize("sampled", [False, True], ids=["all", "sampled"])
def test_agents_parquet_written_in_batches_holds_exactly_the_one_shot_table(
    tmp_path: Path, finished_simulation: Simulation, sampled: bool
) -> None:
    """Batches of 1000 rows: the file is the table built at once, column for column, in ⌈n/1000⌉ row groups."""
    simulation = finished_simulation
    ids = np.arange(1, simulation.scenario.run.agents, 3) if sampled else None  # 1167 agents, or all 3500
    expected = one_shot_agent_table(simulation, ids)
    assert ("household" in expected.column_names) == (simulation.scenario.name == "china_family")
    assert expected.schema.field("tier").type == pa.string()
    population, degree = simulation.agent_state(ids)
    batches = agent_batches(population, simulation.scenario, degree, ids, simulation.households, rows_per_batch=1000)
    write_agents(tmp_path / "r", simulation, batches)
    written = pq.ParquetFile(tmp_path / "r" / "agents.parquet")
    assert written.metadata.num_row_groups == math.ceil(expected.num_rows / 1000)
    assert all(written.metadata.row_group(g).num_rows <= 1000 for g in range(written.metadata.num_row_groups))
    got = written.read()
    assert got.schema == expected.schema and got.equals(expected)
    whole = agent_table(population, simulation.scenario, degree, ids, simulation.households)
    assert whole.schema == expected.schema and whole.equals(expected)


def test_an_empty_agent_table_is_written_with_its_schema(tmp_path: Path, finished_simulation: Simulation) -> None:
    nobody = np.array([], dtype=np.int64)
    expected = one_shot_agent_table(finished_simulation, nobody)
    population, degree = finished_simulation.agent_state(nobody)
    s, households = finished_simulation.scenario, finished_simulation.households
    write_agents(tmp_path / "r", finished_simulation, agent_batches(population, s, degree, nobody, households, 1000))
    got = pq.read_table(tmp_path / "r" / "agents.parquet")
    assert got.num_rows == 0 and got.schema == expected.schema


def test_agents_parquet_is_never_half_written_when_a_batch_fails(tmp_path: Path) -> None:
    """A batch that fails after the first leaves no agents.parquet, or the previous one untouched, and no temporary."""
    simulation = Simulation(scenario("china_scs", agents=3500, days=2))
    simulation.run()
    population, degree = simulation.agent_state()

    def batches(fail: BaseException | None) -> Iterator[pa.RecordBatch]:
        for k, batch in enumerate(agent_batches(population, simulation.scenario, degree, rows_per_batch=1000)):
            if k == 1 and fail is not None:
                raise fail
            yield batch

    run_dir = tmp_path / "r"
    with RunDirectory.create(run_dir) as directory:
        frames = simulation.metrics.frame(), simulation.trace.frame(simulation.days_done), simulation.groups.frame()
        with pytest.raises(RuntimeError, match="lost the GPU"):
            directory.write_results(frames[0], batches(RuntimeError("lost the GPU")), *frames[1:])
        assert not (run_dir / "agents.parquet").exists() and not list(run_dir.glob(".*.tmp"))
        directory.write_results(frames[0], batches(None), *frames[1:])
        before = (run_dir / "agents.parquet").read_bytes()
        assert pq.ParquetFile(run_dir / "agents.parquet").metadata.num_row_groups == 4
        with pytest.raises(RunDirectoryError, match=r"writing agents\.parquet failed \(No space left on device"):
            directory.write_results(frames[0], batches(OSError(28, os.strerror(28))), *frames[1:])
        assert (run_dir / "agents.parquet").read_bytes() == before and not list(run_dir.glob(".*.tmp"))
