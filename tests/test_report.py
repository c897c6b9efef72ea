"""Reports: self-contained, complete, drawing the numbers of the run (the browser: test_report_browser.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import trustsim
from conftest import cli
from trustsim.report import build_report, figures, write_report
from trustsim.report.page import Section, render
from trustsim.report.records import NEVER
from trustsim.report.run_report import _records
from trustsim.report.story import _periods, choose_agent, narrative, present

HARSH = ["score.contagion=0.2", "blacklist.blacklist_score=990", "blacklist.blacklist_exit_score=995"]
DAYS = 40


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run in which agents are listed, sanctioned and refused (report written by the CLI)."""
    out = tmp_path_factory.mktemp("report") / "run"
    args = ["run", "china_scs", "--agents", "4000", "--days", str(DAYS), "--seed", "5", "--out", str(out), "--quiet"]
    for setting in HARSH:
        args += ["--set", setting]
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return out


def test_a_run_writes_a_self_contained_report(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    assert page.count("<script") == page.count("</script>")
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)  # nothing loaded from anywhere
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1  # plotly.js embedded exactly once
    for name in (*figures.RUN_FIGURES, "agent_story"):
        assert f'data-figure-id="{name}"' in page, name
        assert f'data-figure="{name}" data-format="svg"' in page
    assert not list(run_dir.glob(".*.tmp"))
    text = re.sub(r"<script.*?</script>", "", page, flags=re.DOTALL)
    assert not re.search(r"docs/|\.md\b|\.\./", text)  # a reader of the page has no files of the project
    assert text.count("<div class='table'>") == text.count("<table")  # every table scrolls within the page


def test_the_record_table_keeps_the_sanctions_a_record_brings() -> None:
    scenario = trustsim.load_scenario("china_scs").resolved()
    section = _records(scenario)
    table = section.tables[0][1]
    shown = [name for name in scenario["sanctions"] if name in table.columns]
    assert shown == ["dating_demotion"]  # two late payments (-50) reach 902.8: below dating_demotion's 950 only
    assert (table["dating_demotion"] != NEVER).any()
    left_out = [name for name in scenario["sanctions"] if name not in shown]
    assert f"left out of the table: {', '.join(left_out)}." in section.paragraphs[0]


def test_figures_draw_the_metrics(run_dir: Path) -> None:
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    scenario = json.loads((run_dir / "manifest.json").read_text())["scenario"]
    listed = figures.blacklist(metrics, scenario).data[0]
    np.testing.assert_array_equal(listed.y, metrics["blacklisted"])
    bands = figures.score_distribution(metrics, scenario).data
    np.testing.assert_array_equal(bands[0].y, metrics["score_p90"])
    np.testing.assert_array_equal(bands[1].y, metrics["score_p10"])
    cumulative = figures.denials(metrics, scenario).data[0]
    assert cumulative.y[-1] == metrics[f"denials_{next(iter(scenario['sanctions']))}"].sum()
    yearly = figures.yearly_denials(metrics, scenario)
    assert list(yearly.columns) == [f"year 1 ({DAYS} days)"]
    total = sum(metrics[f"denials_{s}"].sum() for s in scenario["sanctions"])
    assert yearly.loc["all sanctions"].iloc[0] == total > 0
    wrongful = {trace.name: trace for trace in figures.wrongful(metrics, scenario).data}
    assert wrongful["ever sanctioned (right scale)"].yaxis == "y2"  # its own scale: the wrongful lines stay visible
    assert {wrongful[name].yaxis for name in ("wrongly sanctioned today", "ever wrongly sanctioned")} == {None}
    np.testing.assert_array_equal(wrongful["ever wrongly sanctioned"].y, metrics["ever_wrongly_sanctioned"])
    sources = figures.wrongful_sources(metrics, scenario).data
    caught, stood = sources[0].y, sources[1].y
    assert sum(stood) > 0  # the harsh run has misattributions that stand
    np.testing.assert_array_equal(caught, [metrics[f"caught_{b}"].sum() for b in sources[0].x])
    misattributed = [metrics[f"misattributed_{b}"].sum() for b in sources[0].x]
    np.testing.assert_array_equal(np.asarray(caught) + np.asarray(stood), misattributed)


def test_byte_units_keep_numbers_below_a_thousand() -> None:
    assert figures.byte_unit(6.4e15) == (1e15, "petabytes")
    assert figures.byte_unit(999e9) == (1e9, "gigabytes")
    assert figures.byte_unit(12) == (1.0, "bytes")


def test_the_story_is_of_the_first_listed_traced_agent_and_adds_up(run_dir: Path) -> None:
    trace = pd.read_parquet(run_dir / "trace.parquet")
    scenario = json.loads((run_dir / "manifest.json").read_text())["scenario"]
    choice = choose_agent(trace)
    assert choice is not None and choice.listed
    first_listing = trace[trace.blacklisted].day.min()
    assert trace[(trace.id == choice.agent) & trace.blacklisted].day.min() == first_listing
    story = trace[trace.id == choice.agent]
    text = " ".join(narrative(trace, choice.agent, scenario, {"outspoken": True}))
    assert f"Agent #{choice.agent} is an outspoken agent" in text
    assert f"listed by a court on day {first_listing}" in text or f"listed by score on day {first_listing}" in text
    left = story[story.emigrated].day.min() if story.emigrated.any() else DAYS
    listed_days = int((story.blacklisted & (story.day <= left)).sum())
    assert f"listed for {listed_days} days" in text
    refusals = {s: int(story[f"denied_{s}"].sum()) for s in scenario["sanctions"]}
    for sanction, count in refusals.items():
        assert (f"{sanction} ×{count}" in text) == (count > 0)


def test_a_society_with_nobody_listed_tells_the_lowest_score() -> None:
    trace = pd.DataFrame({"day": [0, 0, 1, 1], "id": [4, 9, 4, 9], "blacklisted": [False] * 4,
                          "emigrated": [False] * 4, "score": [990.0, 995.0, 970.0, 980.0]})  # fmt: skip
    choice = choose_agent(trace, "traced outspoken")
    assert choice is not None and choice.agent == 4 and not choice.listed
    assert "None of the 2 traced outspoken agents" in choice.reason and "fell lowest (970 on day 1)" in choice.reason
    flat = trace.assign(score=1000.0)
    unchanged = choose_agent(flat)
    assert unchanged is not None and unchanged.agent == 4 and "no traced score fell" in unchanged.reason
    assert choose_agent(trace.iloc[:0]) is None


def test_an_emigrants_story_ends_the_day_they_leave() -> None:
    """Their state is frozen after they leave: a listing must not go on counting."""
    days = np.arange(6)
    trace = pd.DataFrame({"day": np.tile(days, 2), "id": np.repeat([1, 2], 6),
                          "blacklisted": [False, True, True, True, True, True, False, False, True, True, True, True],
                          "emigrated": [False, False, True, True, True, True] + [False] * 6})  # fmt: skip
    assert present(trace).tolist() == [True, True, True, False, False, False] + [True] * 6
    choice = choose_agent(trace)
    assert choice is not None and choice.agent == 1 and choice.listed


def test_listed_periods_are_contiguous_runs() -> None:
    days = np.arange(10)
    flags = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert _periods(days, flags) == [(1, 2), (5, 5), (7, 9)]
    assert _periods(days, np.zeros(10, dtype=bool)) == []


def test_a_stopped_run_is_reported_on_the_days_done(tmp_path: Path) -> None:
    def stop(t: int) -> None:
        if t == 4:
            raise KeyboardInterrupt

    result = trustsim.run("china_scs", agents=1500, days=30, out=tmp_path / "run", on_day=stop)
    assert not result.complete
    page = build_report(tmp_path / "run")
    assert "interrupted, report on the days done" in page and "5 of 30 days" in page


def test_report_command_rebuilds_and_refuses_what_is_not_a_result(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "report.html").unlink()
    done = cli("report", str(run_dir))
    assert done.returncode == 0 and (run_dir / "report.html").is_file()
    for target, message in ((tmp_path / "missing", "no such directory"), (tmp_path, "not a trustsim run")):
        done = cli("report", str(target))
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_no_report_option_and_experiment_reports(tmp_path: Path) -> None:
    done = cli("run", "baseline", "--agents", "500", "--days", "3", "--out", str(tmp_path / "r"), "--quiet",
               "--no-report")  # fmt: skip
    assert done.returncode == 0 and not (tmp_path / "r" / "report.html").exists()
    sweep = tmp_path / "sweep"
    done = cli("sweep", "china_scs", "--set", "score.contagion=0,0.2", "--reps", "2", "--agents", "800", "--days",
               "10", "--jobs", "1", "--out", str(sweep), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (sweep / "report.html").read_text()
    assert 'data-figure-id="sweep"' in page and "Response to score.contagion" in page
    compare = tmp_path / "compare"
    done = cli("compare", "baseline", "china_scs", "--reps", "2", "--agents", "800", "--days", "10", "--jobs", "1",
               "--out", str(compare), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = write_report(compare).read_text()
    assert 'data-figure-id="comparison"' in page and 'data-figure-id="trajectories"' in page
    for folder in (sweep, compare):  # the same figures from Python
        experiment = trustsim.load(folder)
        assert isinstance(experiment, trustsim.Experiment) and len(experiment.runs) == 4
        drawn = experiment.plot()
        expected = {"sweep"} if experiment.command == "sweep" else {"comparison", "trajectories"}
        assert expected <= set(drawn)
        for name, figure in drawn.items():
            assert f'data-figure-id="{name}"' in (folder / "report.html").read_text()
            assert isinstance(figure, go.Figure) and figure.data


def test_a_run_plots_the_reports_figures_in_python(run_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    result = trustsim.load(run_dir)
    assert isinstance(result, trustsim.Result)
    headline = result.plot()
    assert list(headline) == list(figures.HEADLINE)
    np.testing.assert_array_equal(result.plot("blacklist").data[0].y, result.metrics["blacklisted"])
    page = (run_dir / "report.html").read_text()
    assert all(f'data-figure-id="{name}"' in page for name in headline)  # the report draws the same figures
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    headline._ipython_display_()  # what Jupyter calls to show the result of a cell
    assert shown == list(headline.values())
    with pytest.raises(trustsim.TrustsimError, match="no figure 'blacklisted'; this run's figures are score_dis"):
        result.plot("blacklisted")
    assert result.plot("bearing_income_quintile").data  # the "who bears it" figures by their report names
    story = result.story()
    assert f"Agent #{story.agent}" in " ".join(story.sentences) and 'data-figure-id="agent_story"' in page
    assert story.reason in page  # the report's own choice of agent, in its words
    other = int(result.trace["id"].max())
    assert result.story(other).agent == other
    with pytest.raises(trustsim.TrustsimError, match="agent 999999 is not traced"):
        result.story(999_999)
    with pytest.raises(trustsim.TrustsimError, match="not a trustsim run"):
        trustsim.load(tmp_path)


def test_text_from_files_and_commands_is_escaped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli("run", "baseline", "--agents", "600", "--days", "3", "--out", str(out), "--quiet",
               "--set", 'description="<script>alert(1)</script><img src=x onerror=alert(2)>"')  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (out / "report.html").read_text()
    assert "<img src=x" not in page and "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    section = render("t", "s", [Section("x", paragraphs=["<b onclick=x>hi</b>"])], "f")
    assert "<b onclick" not in section and "&lt;b onclick=x&gt;hi&lt;/b&gt;" in section


def test_a_simulation_saved_before_its_first_day_is_not_reported(tmp_path: Path) -> None:
    scenario = trustsim.load_scenario("baseline", agents=300, days=5)
    trustsim.save_simulation(trustsim.Simulation(scenario), tmp_path / "saved")
    done = cli("report", str(tmp_path / "saved"))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines == [f"error: {tmp_path / 'saved'}: no day has been simulated yet; "
                                              "nothing to report"], done.stderr  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").write_text("{}"), "no resolved scenario in it"),
        (lambda d: (d / "manifest.json").write_text("{"), "unreadable manifest"),
        (lambda d: _edit_manifest(d, lambda m: m["scenario"].pop("tiers")), "its scenario is not valid (tiers"),
        (lambda d: (d / "metrics.parquet").write_bytes(b"PAR1 not really"), "metrics.parquet: unreadable"),
        (lambda d: (d / "trace.parquet").write_bytes(b"PAR1" * 30), "trace.parquet: unreadable"),
        (lambda d: (d / "trace.parquet").replace(d / "metrics.parquet"), "metrics.parquet: not this run's table"),
    ],
)
def test_a_damaged_run_directory_gets_one_line(tmp_path: Path, damage: Any, message: str) -> None:
    out = tmp_path / "run"
    trustsim.run("baseline", agents=400, days=3, out=out)
    damage(out)
    done = cli("report", str(out))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr


def _edit_manifest(run_dir: Path, edit: Any) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    edit(manifest)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


def test_sensitivity_report_and_one_stopped_part_way(tmp_path: Path) -> None:
    folder = tmp_path / "sens"
    done = cli("sensitivity", "china_scs", "--vary", "score.contagion=0:0.2", "--vary",
               "blacklist.blacklist_score=900:990", "--samples", "2", "--agents", "600", "--days", "8",
               "--jobs", "1", "--out", str(folder), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr
    page = (folder / "report.html").read_text()
    assert 'data-figure-id="sensitivity"' in page and "Sobol" in page
    design = json.loads((folder / "experiment.json").read_text())
    import duckdb

    with duckdb.connect(str(folder / "catalog.duckdb")) as catalog:
        catalog.execute("DELETE FROM runs WHERE run_id = (SELECT max(run_id) FROM runs)")
    page = build_report(folder)
    assert "Not enough finished runs to analyse yet" in page and "7 of 8 runs finished" in page
    (folder / "experiment.json").write_text(json.dumps(design | {"command": "frobnicate"}))
    done = cli("report", str(folder))
    assert done.returncode == 2 and "not a trustsim experiment design" in done.stderr


def test_an_old_checkpoint_says_it_is_from_an_older_trustsim(tmp_path: Path) -> None:
    trustsim.run("baseline", agents=300, days=4, checkpoint_every=2, out=tmp_path / "run")
    path = sorted((tmp_path / "run" / "checkpoints").glob("*.npz"))[-1]
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes()) | {"format": 3}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    done = cli("run", "baseline", "--from", str(tmp_path / "old.npz"), "--days", "6", "--quiet")
    assert done.returncode == 2 and "written by an older trustsim (format 3" in done.stderr
