"""Experiments: designs, the results store, resuming after a kill, failure isolation, CRN, sensitivity, Dask."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import scenario
from trustsim.disparity import Quantity
from trustsim.engine import Simulation
from trustsim.errors import ScenarioError
from trustsim.experiments import compare, execution, query, sensitivity, sweep
from trustsim.experiments.analysis import run_metrics, sample, sensitivity_indices
from trustsim.experiments.api import ExperimentError
from trustsim.experiments.design import factorial, parse_levels, parse_range, seeds
from trustsim.experiments.execution import ClusterError


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=600, **kwargs
    )


def test_levels_ranges_and_the_full_factorial() -> None:
    assert parse_levels("score.contagion=0:0.2:0.05") == ("score.contagion", [0.0, 0.05, 0.1, 0.15, 0.2])
    assert parse_levels("blacklist.blacklist_exit_days=10:30:10") == ("blacklist.blacklist_exit_days", [10, 20, 30])
    assert parse_levels("network.generator=small_world,scale_free")[1] == ["small_world", "scale_free"]
    assert parse_levels("a.b=1,2.5,true")[1] == [1, 2.5, True]
    assert parse_range("observation.false_match=0:0.05") == ("observation.false_match", 0.0, 0.05)
    for bad in ("nokey", "a=1:0:1", "a=0:1:0", "a=", "a=1:2", "a=1:2:3:4"):
        with pytest.raises(ScenarioError):
            parse_levels(bad)
    with pytest.raises(ScenarioError):
        parse_range("a=2:1")
    specs = factorial("china_scs", [("x", [1, 2, 3]), ("y", ["a", "b"])], seeds(7, 2))
    assert len(specs) == 12 and len({s.run_id for s in specs}) == 12
    combos = [(dict(s.settings)["x"], dict(s.settings)["y"], s.seed) for s in specs]
    assert sorted(combos) == sorted((x, y, s) for x in (1, 2, 3) for y in ("a", "b") for s in (7, 8))
    assert specs[0].assignments() == ["x=1", 'y="a"']


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("sweep") / "exp"
    return sweep(
        "china_scs", ["score.contagion=0,0.1", "network.k=4,600"], reps=2, agents=500, days=10, out=out, jobs=2
    )


def test_a_sweep_runs_every_setting_once_and_isolates_failures(small_sweep: pd.DataFrame) -> None:
    runs = small_sweep
    assert len(runs) == 8 and runs["run_id"].is_unique
    assert sorted(zip(runs["score.contagion"], runs["network.k"], runs["seed"], strict=True)) == sorted(
        (c, k, s) for c in (0.0, 0.1) for k in (4, 600) for s in (1, 2)
    )
    failed = runs[runs["network.k"] == 600]  # k must be below the 500 agents: these runs fail, the others go on
    assert (failed["status"] == "failed").all() and failed["error"].str.contains("network.k must be below").all()
    done = runs[runs["network.k"] == 4]
    assert (done["status"] == "done").all() and done["error"].isna().all()
    folder = Path(runs.attrs["folder"])
    assert sorted(p.stem for p in (folder / "runs").glob("*.parquet")) == sorted(done["run_id"])


def test_a_run_of_a_sweep_is_the_run_of_its_scenario_and_seed(small_sweep: pd.DataFrame) -> None:
    row = small_sweep[(small_sweep["status"] == "done")].iloc[-1]
    s = scenario(
        "china_scs",
        f"score.contagion={row['score.contagion']}",
        "network.k=4",
        agents=500,
        days=10,
        seed=int(row["seed"]),
    )
    direct = Simulation(s).run()
    stored = pd.read_parquet(Path(small_sweep.attrs["folder"]) / "runs" / f"{row['run_id']}.parquet")
    pd.testing.assert_frame_equal(stored, direct, check_exact=True)
    for name, value in run_metrics(direct).items():
        assert row[name] == pytest.approx(value, nan_ok=True), name


def test_query_answers_sql_and_rejects_bad_sql(small_sweep: pd.DataFrame) -> None:
    folder = small_sweep.attrs["folder"]
    counts = query(folder, "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status")
    assert counts.to_dict("records") == [{"status": "done", "n": 4}, {"status": "failed", "n": 4}]
    done = cli("query", folder, 'SELECT avg("score.contagion") AS c FROM runs')
    assert done.returncode == 0 and "0.05" in done.stdout
    for args, message in [((folder, "SELEC nonsense"), "query failed"), (("/nonexistent", "SELECT 1"), "not a")]:
        bad = cli("query", *args)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and message in bad.stderr


def test_an_experiment_directory_keeps_its_design(small_sweep: pd.DataFrame) -> None:
    done = cli("sweep", "china_scs", "--set", "score.contagion=0.3", "--out", small_sweep.attrs["folder"])
    assert done.returncode == 2 and "holds another experiment" in done.stderr


KILLED_AFTER_3 = """
import os, signal, sys
from trustsim.experiments import sweep

def kill_after_3(done: int, total: int) -> None:  # called once a run is written to the store
    if done == 3:
        os.killpg(0, signal.SIGKILL)  # this command and its Dask workers, with no chance to clean up

sweep("china_scs", ["score.contagion=0:0.15:0.01"], agents=20000, days=60, jobs=2, out=sys.argv[1],
      on_progress=kill_after_3)
"""
"""A sweep killed with kill -9 right after its third run is stored, wherever the other runs are: the kill lands on
an event, not on a time, so the test does not depend on how fast the machine is."""


def test_resume_after_killing_a_sweep_runs_only_what_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    log = tmp_path / "killed.log"
    with log.open("w") as errors:  # a file, not a pipe: nothing waits for a worker to close it
        killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_3, str(out)], stdout=subprocess.DEVNULL,
                                stderr=errors, timeout=600, start_new_session=True)  # its own group, which it kills
    assert killed.returncode == -signal.SIGKILL, log.read_text()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert len(before) == 3
    command = [sys.executable, "-m", "trustsim", "sweep", "china_scs", "--set", "score.contagion=0:0.15:0.01",
               "--agents", "20000", "--days", "60", "--jobs", "2", "--out", str(out), "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    runs = query(out, "SELECT run_id, status FROM runs ORDER BY run_id")
    assert len(runs) == 16 and runs["run_id"].is_unique and (runs["status"] == "done").all()
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert len(after) == 16
    assert {name: after[name] for name in before} == before  # the stored runs were not run again


def test_common_random_numbers_make_the_interval_much_narrower(tmp_path: Path) -> None:
    variant = tmp_path / "more_errors.toml"
    variant.write_text('extends = "china_scs"\nname = "more_errors"\n[observation]\nfalse_match = 0.05\n')
    options = {"reps": 8, "agents": 3000, "days": 60, "jobs": 2}
    crn = compare("china_scs", str(variant), out=tmp_path / "crn", **options)
    independent = compare("china_scs", str(variant), independent=True, out=tmp_path / "ind", **options)
    width = {
        name: (t["ci_high"] - t["ci_low"]).set_axis(t["metric"]) for name, t in (("crn", crn), ("ind", independent))
    }
    for metric in ("denials", "blacklisted", "stored_bytes"):
        assert width["crn"][metric] < 0.5 * width["ind"][metric], (metric, width["crn"][metric], width["ind"][metric])
    row = crn.set_index("metric").loc["ever_wrongly_sanctioned"]
    assert row["ci_low"] > 0  # five times the false matches: more people wrongly sanctioned, and it shows


def test_a_what_if_on_the_command_line_is_the_what_if_of_a_scenario_file(tmp_path: Path) -> None:
    """compare A --b-set KEY=VALUE runs B = A so changed: the same table as B written as a file."""
    variant = tmp_path / "more_errors.toml"
    variant.write_text('extends = "china_scs"\nname = "more_errors"\n[observation]\nfalse_match = 0.05\n')
    options = {"reps": 2, "agents": 1500, "days": 40, "jobs": 1}
    from_file = compare("china_scs", str(variant), out=tmp_path / "file", **options)
    changed = compare("china_scs", b_changes=["observation.false_match=0.05"], out=tmp_path / "set", **options)
    pd.testing.assert_frame_equal(from_file, changed)
    assert (changed["difference"] != 0).any()  # the change reached B
    design = json.loads((tmp_path / "set" / "experiment.json").read_text())
    assert design["scenarios"] == ["china_scs", "china_scs with observation.false_match=0.05"]
    with pytest.raises(ExperimentError, match="give scenario B, or B's changes"):
        compare("china_scs", **options)


def test_sobol_indices_of_the_ishigami_function() -> None:
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    points = sample(problem, "sobol", 2048, seed=3)
    indices = sensitivity_indices(problem, points, Ishigami.evaluate(points), "sobol", seed=3)
    # analytic values for a = 7, b = 0.1
    np.testing.assert_allclose(indices["S1"], [0.3139, 0.4424, 0.0], atol=0.05)
    np.testing.assert_allclose(indices["ST"], [0.5576, 0.4424, 0.2437], atol=0.05)
    assert (indices["S1_conf"] > 0).all() and (indices["ST_conf"] < 0.1).all()


def test_sensitivity_of_the_simulator_from_python_and_the_command_line(tmp_path: Path) -> None:
    table = sensitivity(
        "china_scs", ["observation.false_match=0:0.1", "blacklist.blacklist_exit_days=1:60"], method="morris",
        samples=4, metrics=["ever_wrongly_sanctioned", "blacklisted", "gap:sanctioned:income_quintile"],
        agents=1000, days=40, out=tmp_path / "m", jobs=2,  # by day 20 nobody is sanctioned yet
    )  # fmt: skip
    assert list(table.columns) == ["metric", "parameter", "mu_star", "mu_star_conf", "sigma", "undefined_runs"]
    assert len(table) == 6 and np.isfinite(table["mu_star"]).all()
    assert (table.loc[table["metric"] == "gap:sanctioned:income_quintile", "mu_star"] > 0).any()
    assert len(query(tmp_path / "m", "SELECT * FROM runs")) == 4 * 3
    ints = query(tmp_path / "m", 'SELECT DISTINCT "blacklist.blacklist_exit_days" AS d FROM runs')["d"]
    assert all(float(d).is_integer() for d in ints)  # an integer parameter is sampled as integers
    done = cli("sensitivity", "china_scs", "--vary", "score.contagion=0:0.1", "--method", "fast", "--quiet")
    assert done.returncode == 2 and "not sobol or morris" in done.stderr
    done = cli(
        "sensitivity",
        "china_scs",
        "--vary",
        "observation.false_match=0:0.1",
        "--method",
        "morris",
        "--samples",
        "2",
        "--agents",
        "300",
        "--days",
        "5",
        "--jobs",
        "2",
        "--quiet",
        "--out",
        str(tmp_path / "c"),
    )
    assert done.returncode == 0 and "morris indices" in done.stdout and "observation.false_match" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dask_processes(folder: Path, workers: int) -> Iterator[str]:
    """A Dask scheduler and ``workers`` workers started as separate processes; yields the scheduler's address once
    they are all up (waiting on the scheduler, not on a time). The scheduler picks its own port and writes it to a
    file in ``folder``, so no other program can take the port first."""
    from distributed import Client

    dask, found = [sys.executable, "-m", "dask"], str(folder / "scheduler.json")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", found,
                                   "--dashboard-address", ":0", "--no-show"], **quiet)]  # fmt: skip
    worker = [*dask, "worker", "--scheduler-file", found, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"]
    processes += [subprocess.Popen(worker, **quiet) for _ in range(workers)]
    try:
        with Client(scheduler_file=found, timeout="600s") as client:  # waits for the file, then connects
            if workers:
                client.wait_for_workers(workers, timeout=600)
            assert len(client.scheduler_info()["workers"]) == workers
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_sweep_on_a_dask_cluster_started_as_separate_processes(tmp_path: Path) -> None:
    with dask_processes(tmp_path, workers=2) as address:
        out = tmp_path / "exp"
        done = cli("sweep", "china_scs", "--set", "score.contagion=0,0.05,0.1", "--reps", "2", "--agents", "1000",
                   "--days", "10", "--cluster", address, "--out", str(out), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = query(out, "SELECT status FROM runs")
    assert len(runs) == 6 and (runs["status"] == "done").all()
    design = json.loads((out / "experiment.json").read_text())
    assert design["command"] == "sweep" and design["reps"] == 2


def test_a_cluster_without_workers_stops_the_experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execution, "WORKERLESS_SECONDS", 0.5)  # it waited for ever before
    with dask_processes(tmp_path, workers=0) as address, pytest.raises(ClusterError) as refused:
        sweep("china_scs", ["score.contagion=0,0.1"], agents=500, days=2, cluster=address, out=tmp_path / "e")
    message = str(refused.value)
    assert "no worker for 0.5 s" in message and "dask worker ADDRESS" in message and "\n" not in message
    assert query(tmp_path / "e", "SELECT count(*) AS n FROM runs")["n"].tolist() == [0]  # the store is whole


def test_an_unreachable_cluster_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    done = cli("sweep", "china_scs", "--set", "score.contagion=0", "--agents", "500", "--days", "2",
               "--cluster", f"tcp://127.0.0.1:{_free_port()}", "--quiet", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "no Dask scheduler answers there" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_paired_and_welch_intervals_by_hand() -> None:
    from scipy import stats

    from trustsim.experiments.analysis import paired_differences

    a = pd.DataFrame({"m": [1.0, np.nan, 3.0, 4.0]})
    b = pd.DataFrame({"m": [2.0, 2.5, 5.0, 4.5]})
    row = paired_differences(a, b, ["m"], paired=True).iloc[0]
    diff = np.array([1.0, 2.0, 0.5])  # the three complete pairs
    half = stats.t.ppf(0.975, 2) * diff.std(ddof=1) / np.sqrt(3)
    assert row["mean_a"] == pytest.approx(8 / 3) and row["mean_b"] == pytest.approx(11.5 / 3)
    assert row["difference"] == pytest.approx(diff.mean()) and row["ci_high"] == pytest.approx(diff.mean() + half)
    row = paired_differences(a, b, ["m"], paired=False).iloc[0]
    x, y = np.array([1.0, 3.0, 4.0]), b["m"].to_numpy()
    low, high = stats.ttest_ind(y, x, equal_var=False).confidence_interval(0.95)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert (row["n_a"], row["n_b"]) == (3, 4)


def test_the_headline_names_are_the_headline_figures() -> None:
    from trustsim.experiments.analysis import HEADLINE_NAMES
    from trustsim.summary import headline

    metrics = Simulation(scenario("china_scs", agents=300, days=3)).run()
    assert tuple(headline(metrics)) == HEADLINE_NAMES


def test_a_swept_seed_is_the_seed_that_runs(tmp_path: Path) -> None:
    runs = sweep("china_scs", ["run.seed=11,12"], agents=400, days=5, out=tmp_path / "e", jobs=1)
    assert sorted(runs["seed"]) == [11, 12]
    direct = Simulation(scenario("china_scs", agents=400, days=5, seed=12)).run()
    row = runs[runs["seed"] == 12].iloc[0]
    assert row["ever_sanctioned"] == run_metrics(direct)["ever_sanctioned"]


def test_an_edited_scenario_file_is_another_experiment(tmp_path: Path) -> None:
    from trustsim.experiments.api import default_folder

    file = tmp_path / "mine.toml"
    file.write_text('extends = "china_scs"\nname = "mine"\n')
    first = sweep(str(file), ["score.contagion=0"], agents=300, days=3, out=tmp_path / "e", jobs=1)
    file.write_text('extends = "china_scs"\nname = "mine"\n[observation]\nfalse_match = 0.5\n')
    with pytest.raises(Exception, match="holds another experiment"):
        sweep(str(file), ["score.contagion=0"], agents=300, days=3, out=tmp_path / "e", jobs=1)
    assert len(first) == 1
    names = {default_folder(d) for d in ({"command": "sweep", "scenarios": ["x"], "scenario_digests": {"x": h}}
                                         for h in ("a", "b"))}  # fmt: skip
    assert len(names) == 2


def test_experiment_commands_print_their_tables_and_refuse_bad_input(tmp_path: Path) -> None:
    small = ["--agents", "300", "--days", "5", "--jobs", "2", "--quiet"]
    done = cli("compare", "china_scs", "baseline", "--reps", "2", *small, "--out", str(tmp_path / "c"))
    assert done.returncode == 0 and "ever_wrongly_sanctioned" in done.stdout and "common random numbers" in done.stdout
    done = cli("sweep", "china_scs", "--set", "network.generator=small_world,scale_free", *small,
               "--out", str(tmp_path / "s"))  # fmt: skip
    assert done.returncode == 0 and "small_world" in done.stdout and "1 failed" in done.stdout
    for args, message in [
        (["sweep", "china_scs", "--set", "score.nosuch=1,2"], "no setting gives a valid scenario"),
        (["sweep", "china_scs", "--set", "score.contagion=1:2"], "a grid is START:STOP:STEP"),
        (["sweep", "china_scs", "--set", "score.contagion=0", "--cluster", "nonsense"], "no Dask scheduler"),
        (["sweep", "china_scs", "--set", "score.contagion=0", "--jobs", "0"], "--jobs: must be at least 1"),
        (["compare", "china_scs", "baseline", "--reps", "1"], "at least 2 replicates"),
        (["compare", "china_scs", "nofile.toml"], "file not found"),
        (["compare", "china_scs"], "compare: give scenario B, or B's changes to A with --b-set KEY=VALUE"),
        (["compare", "china_scs", "--b-set", "sanctions.x.attempt_rate=1"], "--b-set sanctions.x.attempt_rate: "
                                                                            "china_scs has no sanction 'x'"),
        (["sensitivity", "china_scs", "--vary", "network.generator=0:1"], "--vary: network: input tag"),
        (["sensitivity", "rongcheng", "--vary", "behaviours.late_payment.escalation=0:1"],
         "--vary: behaviours.late_payment.escalation: rongcheng has no behaviour 'late_payment'; its behaviours are "
         "traffic_offence, payment_arrears, volunteer"),
        (["sweep", "rongcheng", "--set", "behaviours.late_payment.base_rate=0.1,0.2"],
         "no setting gives a valid scenario; the first: behaviours.late_payment.base_rate: rongcheng has no "
         "behaviour 'late_payment'"),
        (["sweep", "rongcheng", "--set", "score.contagion=0", "--base", "sanctions.x.attempt_rate=1"],
         "--base sanctions.x.attempt_rate: rongcheng has no sanction 'x'; its sanctions are flight_ban"),
        (["sensitivity", "china_scs", "--vary", "score.contagion=0:1", "--metric", "nosuch"], "not a headline"),
        (["sensitivity", "china_scs", "--vary", "score.contagion=0:1", "--samples", "0"], "--samples"),
    ]:
        bad = cli(*args, "--quiet", cwd=tmp_path)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1 and message in lines[0], (args, bad.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "s"]  # refused before any folder was made


def test_a_sweep_reports_a_groups_quantity_of_each_run(tmp_path: Path) -> None:
    """--metric gap:…: each run's value is the one its own groups rows give, and it is in the catalog."""
    quantity = "gap:ever_wrongly_sanctioned:income_quintile"
    runs = sweep("china_family", ["observation.review_per_capita=0.0005,0.02"], reps=2, agents=1500, days=40,
                 overrides=["observation.false_match=0.3", "channels.camera.schedule=[{day=0, coverage=1.0}]"],
                 metrics=[quantity, "rate:sanctioned:age_band=18–29"], out=tmp_path / "s", jobs=2)  # fmt: skip
    assert (runs["status"] == "done").all()
    folder = Path(runs.attrs["folder"])
    for _, row in runs.iterrows():
        s = scenario("china_family", "observation.false_match=0.3", "channels.camera.schedule=[{day=0, coverage=1.0}]",
                     f"observation.review_per_capita={row['observation.review_per_capita']}", agents=1500, days=40,
                     seed=int(row["seed"]))  # fmt: skip
        simulation = Simulation(s)
        simulation.run()
        assert row[quantity] == Quantity.parse(quantity).of(simulation.groups.frame())
        assert (folder / "groups" / f"{row['run_id']}.parquet").is_file()
    assert runs[quantity].max() > 0
    stored = query(folder, f'SELECT avg("{quantity}") AS gap FROM runs')
    assert stored["gap"].item() == pytest.approx(runs[quantity].mean())


def test_a_groups_quantity_is_checked_before_any_run(tmp_path: Path) -> None:
    """A quantity the scenario cannot have is one line, and no experiment directory is left."""
    for metric, words in (("gap:sanctioned:age_band", "no dimension 'age_band'"),
                          ("ratio:x:y", "is not a groups quantity"),
                          ("blacklisted", "every headline metric is reported already")):  # fmt: skip
        with pytest.raises(ExperimentError, match=words):
            sweep("china_scs", ["score.contagion=0,0.1"], agents=300, days=5, metrics=[metric], out=tmp_path / "x")
        assert not (tmp_path / "x").exists()
    done = cli("compare", "china_scs", "china_family", "--reps", "2", "--agents", "300", "--days", "5",
               "--metric", "rate:sanctioned:region=nowhere", "--out", str(tmp_path / "c"))  # fmt: skip
    assert done.returncode == 2 and "no group 'nowhere' in region" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_metric_undefined_in_some_runs_gets_no_indices() -> None:
    """A NaN or infinite value (a disparity whose lowest group is at 0) gives NaN indices and says how many runs."""
    from trustsim.experiments.api import sensitivity_problem, sensitivity_table

    design = {"vary": ["score.contagion=0:1"], "method": "morris", "samples": 2, "seed": 1}
    _, points = sensitivity_problem(design)
    values = points[:, 0] * 2.0
    runs = pd.DataFrame({"run_id": [f"x{i:06d}" for i in range(len(points))], "status": "done", "m": values})
    assert np.isfinite(sensitivity_table(runs, design, ["m"])["mu_star"]).all()
    for bad in (np.inf, np.nan):
        runs.loc[1, "m"] = bad
        table = sensitivity_table(runs, design, ["m"])
        assert table["undefined_runs"].tolist() == [1] and table["mu_star"].isna().all()
