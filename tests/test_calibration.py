"""trustsim calibrate: yearly figures, the round trip from model-made targets back to their parameters, resuming."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

import trustsim
from trustsim.engine import Simulation
from trustsim.errors import TrustsimError
from trustsim.experiments import calibrate
from trustsim.experiments.calibration import (
    CalibrationError,
    Target,
    calibrated_raw,
    check_defined,
    group_figure,
    parse_target,
    plan,
    target_figure,
    yearly_figure,
)
from trustsim.experiments.catalog import query
from trustsim.groups import COLUMNS as GROUP_COLUMNS
from trustsim.scenario import load_scenario, read_raw

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


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("rate:ever_sanctioned:age_band=18–29=0.25", "rate:ever_sanctioned:age_band=18–29", 0.25),
        ("gap:ever_wrongly_sanctioned:income_quintile=1e-3", "gap:ever_wrongly_sanctioned:income_quintile", 0.001),
        ("disparity:sanctioned:region=1.5", "disparity:sanctioned:region", 1.5),
        ("rate:denials:region=r0=3", "rate:denials:region=r0", 3.0),  # a flow's rate may exceed 1
    ],
)
def test_a_group_target_takes_its_value_after_the_last_equals_sign(text: str, name: str, value: float) -> None:
    assert parse_target(text) == Target(name, value)


@pytest.mark.parametrize(
    ("scenario", "text", "message"),
    [
        ("china_family", "rate:ever_sanctioned:age_band=18–29", "expected QUANTITY=VALUE with a positive VALUE"),
        ("china_family", "gap:sanctioned:region=0", "expected QUANTITY=VALUE with a positive VALUE"),
        ("china_family", "ratio:sanctioned:region=2", "is not a groups quantity: write disparity:COLUMN:DIMENSION"),
        ("china_family", "rate:nosuch:region=r0=0.1", "'nosuch' is not a groups.parquet column with a rate"),
        ("china_family", "rate:sanctioned:region=0.1", "a rate names one group"),
        ("china_family", "disparity:sanctioned:region=0.5", "so at least 1 (got 0.5)"),
        ("china_family", "gap:ever_sanctioned:region=1.5", "its gap is at most 1 (got 1.5)"),
        ("china_scs", "rate:ever_sanctioned:age_band=18–29=0.25", "no dimension 'age_band' in this scenario"),
        ("china_family", "rate:ever_sanctioned:age_band=18–99=0.25", "no group '18–99' in age_band; choose from 18–29"),
        ("china_family", "gap:sanctioned:region=0.1 --target gap:sanctioned:region=0.2", "a target is given twice"),
    ],
)
def test_bad_group_targets_are_refused_before_any_run(scenario: str, text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="--target") as refused:
        calibrate(scenario, text.split(" --target "), ["score.contagion=0:0.1"], agents=100, days=5,
                  out=tmp_path / "x", jobs=1)  # fmt: skip
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "x").exists()


def groups_table() -> pd.DataFrame:
    """Two row days of a run's groups rows: age bands 18–29 and 30–44, and one region."""
    columns = ("day", "dimension", "group", "agents", "alive", "sanctioned", "ever_sanctioned", "denials")
    rows = [
        (29, "age_band", "18–29", 100, 90, 30, 10, 5),
        (29, "age_band", "30–44", 200, 200, 10, 10, 1),
        (29, "region", "r0", 300, 290, 40, 20, 6),
        (59, "age_band", "18–29", 100, 80, 20, 40, 7),  # 20 emigrated: 80 alive of 100
        (59, "age_band", "30–44", 200, 200, 10, 20, 3),
        (59, "region", "r0", 300, 280, 30, 60, 10),
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for column in GROUP_COLUMNS:
        if column not in frame:
            frame[column] = 1.0 if column in ("score_mean", "wrongful_points") else 0
    return frame[list(GROUP_COLUMNS)]


def test_a_group_target_is_its_quantity_on_the_last_row_day_and_is_not_scaled() -> None:
    groups = groups_table()
    assert group_figure(groups, "rate:ever_sanctioned:age_band=18–29") == pytest.approx(40 / 100)  # over agents
    assert group_figure(groups, "rate:sanctioned:age_band=18–29") == pytest.approx(20 / 80)  # over the alive
    assert group_figure(groups, "rate:denials:age_band=18–29") == pytest.approx((5 + 7) / 100)  # a flow: summed
    assert group_figure(groups, "gap:ever_sanctioned:age_band") == pytest.approx(0.4 - 0.1)
    assert group_figure(groups, "disparity:ever_sanctioned:age_band") == pytest.approx(4.0)
    assert group_figure(groups, "rate:ever_sanctioned:region=r0") == pytest.approx(0.2)
    metrics = pd.DataFrame({"day": [0], "alive": [300], "blacklisted": [3]})
    # A level: the same for any population, unlike a metric's yearly figure.
    assert target_figure("rate:ever_sanctioned:age_band=18–29", metrics, groups, 300, 3e9) == pytest.approx(0.4)
    assert target_figure("blacklisted", metrics, None, 300, 3e9) == pytest.approx(3e7)


def test_a_group_target_undefined_in_a_run_says_why_and_what_to_do() -> None:
    targets = [Target("blacklisted", 5.0), Target("rate:ever_sanctioned:age_band=18–29", 0.2),
               Target("disparity:sanctioned:region", 2.0)]  # fmt: skip
    per_run = pd.DataFrame({"seed": [1, 2], "blacklisted": [np.nan, 4.0], targets[1].name: [0.1, 0.2],
                            targets[2].name: [1.5, np.inf]})  # fmt: skip
    with pytest.raises(CalibrationError) as infinite:
        check_defined(per_run, targets, "x=1")  # a metric's NaN is not a groups quantity's business
    assert str(infinite.value) == (
        "calibrate: --target disparity:sanctioned:region is infinite in the run with x=1, seed 2: the lowest "
        "group's rate of sanctioned is 0, so the ratio is infinite; target gap:sanctioned:region instead, or run "
        "more --agents or --days so that every group has some"
    )
    per_run[targets[1].name] = [0.1, np.nan]
    with pytest.raises(CalibrationError, match=r"18–29 is undefined \(NaN\) .* seed 2: group 18–29 has no agents"):
        check_defined(per_run, targets, "x=1")
    check_defined(per_run.iloc[:1], targets[:2], "x=1")  # all defined: nothing to say


def test_a_ratio_that_is_infinite_in_a_run_stops_the_calibration(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"disparity:ever_sanctioned:age_band is infinite .* seed 1"):
        calibrate("china_family", ["disparity:ever_sanctioned:age_band=2"], reps=2, agents=300, days=3,
                  out=tmp_path / "c", jobs=1)  # fmt: skip


GROUP_TARGET = "rate:ever_sanctioned:age_band=18–29"
LATE = "behaviours.late_payment.base_rate"
GROUP_SIZE = {"agents": 2000, "days": 60}


def group_target_at(rate: float) -> float:
    """The group target made by the model at a late-payment base rate, on the seeds of 2 replicates from seed 1."""
    values = []
    for seed in (1, 2):
        scenario = load_scenario("china_family", seed=seed, overrides=[f"{LATE}={rate}"], **GROUP_SIZE)
        simulation = Simulation(scenario, threads=1, traced=0)
        simulation.run()
        values.append(group_figure(simulation.groups.frame(), GROUP_TARGET))
    return float(np.mean(values))


def test_calibration_recovers_the_parameter_that_made_a_group_target(tmp_path: Path) -> None:
    observed = group_target_at(0.004)  # china_family's own rate is 0.002: the target is some 50% higher
    assert 0.25 < observed < 0.45 and group_target_at(0.002) < 0.8 * observed
    written = tmp_path / "fitted.toml"
    result = calibrate("china_family", [f"{GROUP_TARGET}={observed!r}"], [f"{LATE}=0.0005:0.02"], budget=8,
                       reps=2, seed=1, out=tmp_path / "c", jobs=2, write=written, name="fitted",
                       **GROUP_SIZE)  # fmt: skip
    assert result.best[LATE] == pytest.approx(0.004, rel=0.05)
    fit = result.fits.set_index("target").loc[GROUP_TARGET]
    assert fit["observed"] == observed and abs(fit["relative_error"]) < 0.02
    assert list(result.per_run.columns) == ["seed", GROUP_TARGET] and len(result.trials) <= 8
    # The header lists the group target's fit, and its command gives back the same target.
    text = written.read_text()
    assert f"#   {GROUP_TARGET}: observed {observed:,.6g}, simulated " in text
    command = shlex.split(text.splitlines()[1].removeprefix("#"))
    given = [command[i + 1] for i, word in enumerate(command) if word == "--target"]
    assert [parse_target(t) for t in given] == [Target(GROUP_TARGET, observed)]
    assert load_scenario(written).behaviours["late_payment"].base_rate == result.best[LATE]


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
    result = calibrate("china_scs", targets, vary, population=PEOPLE, budget=16, reps=2, out=folder, jobs=2,
                       write=written, name="fitted", **SIZE)  # fmt: skip
    for key, value in TRUTH.items():  # started from china_scs's 0.02 and 0.005
        assert result.best[key] == pytest.approx(value, rel=0.03), key
    assert np.all(np.abs(result.fits["relative_error"]) < 0.02)
    assert len(result.trials) <= 16 and result.trials["misfit"].min() == pytest.approx(
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
    again = calibrate("china_scs", targets, vary, population=PEOPLE, budget=16, reps=2, out=folder, jobs=1,
                      write=tmp_path / "again.toml", name="fitted", **SIZE)  # fmt: skip
    assert query(folder, "SELECT count(*) AS n FROM runs")["n"].iloc[0] == runs
    assert again.best == result.best
    pd.testing.assert_frame_equal(again.trials, result.trials)


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=600,
                          **kwargs)  # fmt: skip


def test_the_calibrated_file_sets_keys_of_several_entries_of_one_table(tmp_path: Path) -> None:
    """Two behaviours fitted (and a third overridden): the written file starts each entry with its first key."""
    vary = ["behaviours.late_payment.escalation=0.001:0.05", "behaviours.jaywalk.base_rate=0.01:0.03"]
    planned = plan("china_scs", read_raw("china_scs"), ["blacklisted=5"], vary, population=None, reps=1, agents=300,
                   days=5, seed=None, design={})  # fmt: skip
    best = {"behaviours.late_payment.escalation": 0.03, "behaviours.jaywalk.base_rate": 0.02}
    table = calibrated_raw(planned, best, ["behaviours.dissent.points=-60"], "fitted", "two behaviours", "china_scs",
                           (300, 5, None))  # fmt: skip
    assert set(table["behaviours"]) == {"late_payment", "jaywalk", "dissent"}
    path = tmp_path / "fitted.toml"
    path.write_text(tomli_w.dumps(table))
    fitted = load_scenario(path)
    assert fitted.behaviours["jaywalk"].base_rate == 0.02 and fitted.behaviours["dissent"].points == -60
    assert fitted.behaviours["jaywalk"].points == load_scenario("china_scs").behaviours["jaywalk"].points


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
    with pytest.raises(TrustsimError, match="a calibration, which has no report"):
        trustsim.load(tmp_path / "c")
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
        (["--target", "rate:ever_sanctioned:age_band=18–29=0.2"], "no dimension 'age_band' in this scenario"),
        (["--target", "blacklisted=-3"], "a positive VALUE"),
        (["--target", "blacklisted=3", "--vary", "score.contagion=1:0"], "LO must be below HI"),
        (["--target", "blacklisted=3", "--vary", "score.nosuch=0:1"], "unknown key"),
        (["--target", "blacklisted=3", "--vary", "behaviours.littering.escalation=0.001:0.1"],
         "--vary behaviours.littering.escalation=0.001:0.1: behaviours.littering.escalation: china_scs has no "
         "behaviour 'littering'; its behaviours are jaywalk"),
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
    assert "different societies (ages, population, regions differ)" in text  # uk_credit's adults have ages
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
