"""trustsim calibrate: yearly figures, the round trip from model-made targets back to their parameters, resuming."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trustsim.engine import Simulation
from trustsim.experiments import calibrate
from trustsim.experiments.calibration import CalibrationError, yearly_figure
from trustsim.experiments.catalog import query
from trustsim.scenario import load_scenario

TRUTH = {"behaviours.late_payment.escalation": 0.03, "sanctions.flight_ban.attempt_rate": 0.02}
SIZE = {"agents": 20_000, "days": 200}
PEOPLE = 1e6


def test_yearly_figures_sum_events_and_average_states_over_the_last_365_days() -> None:
    days = 500
    frame = pd.DataFrame({
        "day": np.arange(days), "alive": np.full(days, 200), "denials_flight_ban": np.arange(days) % 3,
        "blacklisted": np.where(np.arange(days) < days - 365, 0, 10), "score_mean": np.full(days, 900.0),
    })  # fmt: skip
    last_year = frame["denials_flight_ban"].iloc[-365:].sum()
    assert yearly_figure(frame, "denials_flight_ban", 200, 2e6) == pytest.approx(last_year * 1e4)
    assert yearly_figure(frame, "blacklisted", 200, 2e6) == pytest.approx(10 * 1e4)  # the year's mean, scaled
    assert yearly_figure(frame, "blacklisted_share", 200, 2e6) == pytest.approx(0.05)  # a share: not scaled
    assert yearly_figure(frame, "score_mean", 200, 2e6) == 900.0  # a level: not scaled
    short = frame.iloc[:73]  # a fifth of a year counts five times
    assert yearly_figure(short, "denials_flight_ban", 200, 200) == pytest.approx(short["denials_flight_ban"].sum() * 5)


@pytest.mark.parametrize("text", ["denials_flight_ban", "x=1", "denials_flight_ban=0", "denials_flight_ban=lots"])
def test_bad_targets_are_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="--target"):
        calibrate("china_scs", [text], ["score.contagion=0:0.1"], agents=100, days=5, out=tmp_path / "x", jobs=1)


def model_targets() -> list[str]:
    """Targets made by the model itself at TRUTH, on the seeds a calibration of 2 replicates uses (1 and 2)."""
    figures: dict[str, list[float]] = {"blacklist_entries_court": [], "denials_flight_ban": []}
    for seed in (1, 2):
        overrides = [f"{key}={value}" for key, value in TRUTH.items()]
        scenario = load_scenario("china_scs", seed=seed, overrides=overrides, **SIZE)
        metrics = Simulation(scenario, threads=1, traced=0).run()
        for name, values in figures.items():
            values.append(yearly_figure(metrics, name, SIZE["agents"], PEOPLE))
    return [f"{name}={float(np.mean(values))!r}" for name, values in figures.items()]


def test_calibration_recovers_the_parameters_that_made_its_targets_and_resumes(tmp_path: Path) -> None:
    targets = model_targets()
    vary = [f"{key}=0.005:0.06" for key in TRUTH]
    folder, written = tmp_path / "calibration", tmp_path / "fitted.toml"
    result = calibrate("china_scs", targets, vary, population=PEOPLE, budget=12, reps=2, out=folder, jobs=2,
                       write=written, name="fitted", **SIZE)  # fmt: skip
    for key, value in TRUTH.items():  # started from china_scs's 0.02 and 0.005
        assert result.best[key] == pytest.approx(value, rel=0.03), key
    assert np.all(np.abs(result.fits["relative_error"]) < 0.02)
    assert len(result.trials) <= 12 and result.trials["misfit"].min() == pytest.approx(
        float(np.sum(np.log1p(result.fits["relative_error"]) ** 2))
    )
    # The written scenario is china_scs with the fitted values and the calibration's size.
    text = written.read_text()
    assert "trustsim calibrate china_scs --target blacklist_entries_court=" in text
    table = tomllib.loads(text)
    assert table["extends"] == "china_scs" and table["run"] == {"agents": 20_000, "days": 200}
    fitted = load_scenario(written)
    assert fitted.name == "fitted"
    assert fitted.behaviours["late_payment"].escalation == result.best["behaviours.late_payment.escalation"]
    # Repeating the command retraces the same trials from the store: no run is run again.
    runs = query(folder, "SELECT count(*) AS n FROM runs")["n"].iloc[0]
    again = calibrate("china_scs", targets, vary, population=PEOPLE, budget=12, reps=2, out=folder, jobs=1,
                      write=tmp_path / "again.toml", name="fitted", **SIZE)  # fmt: skip
    assert query(folder, "SELECT count(*) AS n FROM runs")["n"].iloc[0] == runs
    assert again.best == result.best
    pd.testing.assert_frame_equal(again.trials, result.trials)


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=600,
                          **kwargs)  # fmt: skip


def test_calibrate_prints_its_tables_and_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    small = ["--agents", "300", "--days", "20", "--jobs", "1", "--quiet"]
    done = cli("calibrate", "china_scs", "--target", "denials_internet_throttle=1000", "--vary",
               "sanctions.internet_throttle.attempt_rate=0.1:1", "--budget", "3", "--reps", "2", *small,
               "--out", str(tmp_path / "c"), "--write", str(tmp_path / "fit.toml"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "best values: sanctions.internet_throttle.attempt_rate" in done.stdout and "fit of each target" in done.stdout
    )
    assert load_scenario(tmp_path / "fit.toml").name == "china_scs_calibrated"
    scored = cli("calibrate", "china_scs", "--target", "blacklisted_share=0.01", "--reps", "2", *small,
                 "--out", str(tmp_path / "s"))  # fmt: skip
    assert scored.returncode == 0 and "blacklisted_share" in scored.stdout and "written" not in scored.stdout
    whole = cli("calibrate", "china_scs", "--target", "blacklist_exits=50", "--vary",
                "blacklist.blacklist_exit_days=10:60", "--budget", "3", *small, "--out", str(tmp_path / "w"),
                "--write", str(tmp_path / "whole.toml"))  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    assert isinstance(tomllib.loads((tmp_path / "whole.toml").read_text())["blacklist"]["blacklist_exit_days"], int)
    broken = ["--base", 'network={generator="file", path="missing.csv"}', "--vary", "score.contagion=0:0.1"]
    for args, message in [
        (["--target", "blacklisted=3", *broken, "--agents", "300", "--days", "5"], "failed (InputFileError"),
        (["--target", "blacklisted=3", "--write", "nofolder/x.toml", "--vary", "score.contagion=0:1"], "--write"),
        (["--target", "blacklisted=3", "--name", "9lives", "--vary", "score.contagion=0:1"], "--name '9lives'"),
        (["--target", "nosuch=1", "--vary", "score.contagion=0:1"], "not a metric of this scenario"),
        (["--target", "blacklisted=-3"], "a positive VALUE"),
        (["--target", "blacklisted=3", "--vary", "score.contagion=1:0"], "LO must be below HI"),
        (["--target", "blacklisted=3", "--vary", "score.nosuch=0:1"], "unknown key"),
        (["--target", "blacklisted=3", "--budget", "0"], "--budget: must be at least 1"),
        (["--target", "blacklisted=3", "--population", "0"], "--population"),
    ]:
        bad = cli("calibrate", "china_scs", *args, "--quiet", cwd=tmp_path)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1 and message in lines[0], (args, bad.stderr)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == ["c", "experiments", "fit.toml", "s", "w", "whole.toml"]  # only the failed-run one ran


def test_comparing_two_different_systems_reads_sensibly(tmp_path: Path) -> None:
    done = cli("compare", "china_2018", "uk_credit", "--reps", "2", "--agents", "2000", "--days", "60", "--jobs", "2",
               "--quiet", "--no-report", "--out", str(tmp_path / "c"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "different societies (population, regions differ)" in text
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") > 3}
    assert "denials_flight_ban" in rows and "denials_mortgage_refusal" in rows  # each side's own sanctions
    assert rows["denials_mortgage_refusal"].split("│")[2].strip() == "–"  # china_2018 has no mortgage refusals


PUBLISHED_2018 = {"denials_flight_ban": 17.46e6, "denials_rail_ban": 5.47e6, "blacklisted": 9.59e6}
"""docs/scenarios/china_2018.md: 2018's refused flight and high-speed rail tickets, the list entering 2018."""


def test_china_2018_reproduces_the_published_2018_figures_over_ten_seeds(tmp_path: Path) -> None:
    targets = [f"{name}={value!r}" for name, value in PUBLISHED_2018.items()]
    result = calibrate("china_2018", targets, population=1.4e9, reps=10, out=tmp_path / "check", jobs=2)
    assert result.written is None and len(result.per_run) == 10
    fits = result.fits.set_index("target")
    assert np.all(np.abs(fits["relative_error"]) < 0.05), fits
    share = PUBLISHED_2018["blacklisted"] * (1 + fits.loc["blacklisted", "relative_error"]) / 1.4e9
    assert 0.005 <= share <= 0.01  # a blacklist of 0.5–1% of the population
