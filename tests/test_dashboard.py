"""The dashboard without a browser: the live run's worker, who bears it, the ego network, the levers, the command."""

from __future__ import annotations

import io
import itertools
import math
import re
import socket
import threading
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from conftest import PATIENCE, scenario
from trustsim import cli_dashboard
from trustsim.dashboard import levers, who
from trustsim.dashboard import live as live_module
from trustsim.dashboard.ego import default_agent, ego_network, figure, layout
from trustsim.dashboard.live import LiveRun, Snapshot, Status, Throttle, headline
from trustsim.disparity import FLOWS, SHOWN
from trustsim.engine import Simulation
from trustsim.errors import ScenarioError, TrustsimError
from trustsim.groups import COLUMNS, dimensions, rows_of
from trustsim.scenario import load_scenario, read_raw
from trustsim.world import World

SMALL = {"agents": 2000, "days": 30}


def small(*overrides: str, days: int = 30) -> object:
    return scenario("china_scs", *overrides, agents=2000, days=days, seed=3)


@pytest.fixture
def reference() -> pd.DataFrame:
    """The uninterrupted run of ``small()``."""
    return Simulation(small()).run()




# ---------------------------------------------------------------- the live run


def test_steps_pauses_and_starts_lose_or_repeat_no_day(reference: pd.DataFrame) -> None:
    seen: list[Snapshot] = []
    run = LiveRun(small(), on_update=seen.append)
    try:
        run.step()
        run.step()
        run.start()
        run.wait_until(lambda s: s.days_done >= 3, PATIENCE)
        run.pause()
        run.step()
        run.start()
        snapshot = run.sync(PATIENCE)
    finally:
        run.close()
    assert snapshot.status is Status.FINISHED
    assert snapshot.progress == "day 30 / 30"
    pd.testing.assert_frame_equal(snapshot.metrics, reference)
    assert [s.version for s in seen] == sorted({s.version for s in seen})  # delivered in order, none twice
    assert seen[-1] is snapshot


def test_each_step_is_one_day_and_later_commands_never_cancel_it() -> None:
    run = LiveRun(small())
    try:
        for _ in range(3):
            run.step()
        run.pause()
        snapshot = run.sync(PATIENCE)
        assert (snapshot.days_done, snapshot.status) == (3, Status.PAUSED)
        assert len(snapshot.metrics) == 3
    finally:
        run.close()


def test_pause_stops_the_run_at_the_end_of_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    reached, release = threading.Event(), threading.Event()

    class Gated(Simulation):
        """Holds the worker at the end of day 3 until the test has pressed Pause."""

        def step(self, seconds: dict[str, list[float]] | None = None) -> None:
            super().step(seconds)
            if self.days_done == 3:
                reached.set()
                assert release.wait(PATIENCE)

    monkeypatch.setattr(live_module, "Simulation", Gated)
    run = LiveRun(small())
    try:
        run.start()
        assert reached.wait(PATIENCE)
        run.pause()
        release.set()
        paused = run.sync(PATIENCE)
        assert (paused.status, paused.days_done, len(paused.metrics)) == (Status.PAUSED, 3, 3)
        assert run.snapshot is paused
    finally:
        release.set()
        run.close()


def test_reset_gives_a_fresh_day_0_and_takes_a_new_scenario(reference: pd.DataFrame) -> None:
    run = LiveRun(small())
    try:
        for _ in range(4):
            run.step()
        run.reset()
        fresh = run.sync(PATIENCE)
        assert (fresh.status, fresh.days_done, len(fresh.metrics), fresh.ego) == (Status.READY, 0, 0, None)
        assert all(math.isnan(value) for value in fresh.figures.values())
        run.step()
        pd.testing.assert_frame_equal(run.sync(PATIENCE).metrics, reference.iloc[:1])
        other = small("score.contagion=0")
        run.reset(other)
        run.step()
        after = run.sync(PATIENCE)
        assert after.scenario is other
        pd.testing.assert_frame_equal(after.metrics, Simulation(other).run().iloc[:1])
    finally:
        run.close()


class Paced:
    """A fake clock and a display in lockstep with the live run's worker, so the redraws are a function of the inputs.

    A day moves the clock by 1 and a redraw by ``redraw``. The worker begins a day (or the
    build) only once the display has drawn the last snapshot, so while the display draws
    nothing but the drawing moves the clock: how busy the machine is changes nothing.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, redraw: float = 0.0) -> None:
        self.now = 0.0
        self.redraw = redraw
        self.drawn: list[tuple[Snapshot, float, float]] = []  # each snapshot drawn, with when it began and ended
        self.run: LiveRun | None = None
        paced = self

        class Lockstep(Simulation):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                paced.wait_for_display()
                super().__init__(*args, **kwargs)

            def step(self, seconds: dict[str, list[float]] | None = None) -> None:
                paced.wait_for_display()
                super().step(seconds)
                paced.now += 1

        monkeypatch.setattr(live_module, "Simulation", Lockstep)

    def live_run(self, scenario: object, redraw_interval: float) -> LiveRun:
        """The live run this display and clock drive."""
        self.run = LiveRun(scenario, on_update=self.draw, redraw_interval=redraw_interval, clock=lambda: self.now)
        return self.run

    def draw(self, snapshot: Snapshot) -> None:
        began = self.now
        self.now += self.redraw
        self.drawn.append((snapshot, began, self.now))

    def wait_for_display(self) -> None:
        assert self.run is not None
        self.run.wait_delivered(self.run.snapshot.version, PATIENCE)


@pytest.mark.parametrize(("interval", "redraw"), [(5, 0), (0, 3), (2, 3), (4, 1)])
def test_redraws_are_throttled_however_fast_days_go(monkeypatch: pytest.MonkeyPatch, interval: int,
                                                    redraw: int) -> None:  # fmt: skip
    paced = Paced(monkeypatch, redraw)
    run = paced.live_run(small(days=100), redraw_interval=interval)
    try:
        run.start()
        last = run.sync(PATIENCE)
    finally:
        run.close()
    every = max(interval, redraw)  # in days: the display rests that long after each redraw
    days = [snapshot.days_done for snapshot, _, _ in paced.drawn]
    assert days == [0, 0, *range(every, 100, every), 100]  # building, started, one every `every` days, finished
    assert [snapshot.version for snapshot, _, _ in paced.drawn] == list(range(1, run.updates + 1))
    assert paced.drawn[-1][0] is last and last.status is Status.FINISHED
    throttled = paced.drawn[1:-1]
    rests = [began - ended for (_, _, ended), (_, began, _) in itertools.pairwise(throttled)]
    assert rests == [every] * (len(throttled) - 1)  # a slow display (redraw > interval) is busy half the time


def test_the_throttle_rests_the_display_as_long_as_it_drew_and_at_least_the_interval() -> None:
    throttle = Throttle(0.5)
    assert throttle.due(0.0)  # nothing drawn yet
    throttle.redrawn(1.0, 3.0)  # a 2 s redraw: the display then rests 2 s
    assert not throttle.due(4.75) and throttle.due(5.0)
    throttle.redrawn(5.0, 5.25)  # a quick one: the interval rules
    assert not throttle.due(5.625) and throttle.due(5.75)


def test_a_frozen_clock_gives_only_the_start_and_end_redraws() -> None:
    run = LiveRun(small(), clock=lambda: 0.0, redraw_interval=0.25)
    try:
        run.start()
        run.sync(PATIENCE)
    finally:
        run.close()
    assert run.updates == 3  # building, running, finished


def test_a_display_still_drawing_gets_only_the_latest_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    drawing, release = threading.Event(), threading.Event()
    delivered: list[Snapshot] = []

    class AfterTheFirstDrawing(Simulation):
        """Built once the display is drawing the first snapshot ("building"), so that is the one it holds."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            assert drawing.wait(PATIENCE)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(live_module, "Simulation", AfterTheFirstDrawing)

    def held(snapshot: Snapshot) -> None:
        """The first redraw lasts until the test releases it: the whole run goes on meanwhile."""
        delivered.append(snapshot)
        drawing.set()
        assert release.wait(PATIENCE)

    run = LiveRun(small(days=60), on_update=held, redraw_interval=0.0)
    try:
        run.start()
        assert drawing.wait(PATIENCE)
        finished = run.wait_until(lambda s: s.status is Status.FINISHED, PATIENCE)
        release.set()
        last = run.sync(PATIENCE)
    finally:
        release.set()
        run.close()
    assert last is finished and last.days_done == 60
    assert run.updates == 3  # building, running, finished: no throttled snapshot while the display was busy
    assert [s.version for s in delivered] == [1, 3]  # the one being drawn, then straight to the latest


def test_failures_show_as_one_line_and_the_worker_goes_on() -> None:
    run = LiveRun(scenario("china_scs", agents=2_000_000_000, days=30))  # the real memory check refuses it
    try:
        run.start()
        failed = run.sync(PATIENCE)
        assert (failed.status, failed.built) == (Status.FAILED, False)
        assert "need about" in failed.error and "\n" not in failed.error
        assert "--" not in failed.error and "run.agents" not in failed.error
        assert "the largest run that fits has about" in failed.error
        assert re.search(r"\(set the Agents slider to [\d,]+\)", failed.error), failed.error
        run.step(small())  # nothing built: the new scenario applies at once
        after = run.sync(PATIENCE)
        assert (after.days_done, after.status, after.scenario.run.agents) == (1, Status.PAUSED, 2000)
    finally:
        run.close()


def test_a_day_that_fails_half_way_leaves_nothing_to_go_on_with(monkeypatch: pytest.MonkeyPatch) -> None:
    class Breaking(Simulation):
        def step(self, seconds: dict[str, list[float]] | None = None) -> None:
            if self.days_done == 2:
                raise RuntimeError("boom")
            super().step(seconds)

    monkeypatch.setattr(live_module, "Simulation", Breaking)
    run = LiveRun(small())
    try:
        for _ in range(3):
            run.step()
        failed = run.sync(PATIENCE)
        assert (failed.status, failed.built, failed.days_done, failed.error) == (
            Status.FAILED, False, 0, "RuntimeError: boom")  # fmt: skip
        run.save("never-written")
        assert "nothing to save yet" in run.sync(PATIENCE).error
    finally:
        run.close()


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the live run's Simulation count how many societies are built."""
    builds = [0]

    class Counted(Simulation):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            builds[0] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(live_module, "Simulation", Counted)
    return builds


def test_a_superseded_start_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    builds = _counting_builds(monkeypatch)
    run = LiveRun(small())
    try:
        with live_module.STEP_LOCK:  # the worker waits in the first build while the commands queue up
            run.step()
            run.wait_until(lambda s: s.status is Status.BUILDING, PATIENCE)
            run.reset()
            run.start()  # start, pause, reset in quick succession
            run.pause()
            run.reset()
            run.start(small(days=5))  # a double click on Start at day 0
            run.start(small(days=5))
        final = run.sync(PATIENCE)
    finally:
        run.close()
    assert builds[0] == 2  # the step's and the last start's
    assert (final.status, final.days_done) == (Status.FINISHED, 5)


def test_close_drops_queued_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    _counting_builds(monkeypatch)
    run = LiveRun(small())
    with live_module.STEP_LOCK:
        for _ in range(50):
            run.step()
        run.wait_until(lambda s: s.status is Status.BUILDING, PATIENCE)
        run.close(0)
    run.close(PATIENCE)
    assert not run._worker.is_alive()
    assert run.snapshot.days_done <= 1


def test_the_ego_network_follows_the_chosen_agent() -> None:
    run = LiveRun(small())
    try:
        run.step()
        assert run.sync(PATIENCE).ego is not None
        run.choose_agent(17)
        assert run.sync(PATIENCE).ego.agent == 17
        run.choose_agent(10**6)
        bad = run.sync(PATIENCE)
        assert bad.ego is None and "agent must be 0 to 1999" in bad.error
    finally:
        run.close()


def test_save_writes_a_run_directory_with_its_report(tmp_path: Path) -> None:
    run = LiveRun(small())
    try:
        early = run.save(tmp_path / "too-early")
        assert "nothing to save yet" in run.sync(PATIENCE).error
        assert isinstance(early.exception(), TrustsimError)
        for _ in range(5):
            run.step()
        saved = run.save(tmp_path / "run")
        snapshot = run.sync(PATIENCE)
    finally:
        run.close()
    result = saved.result()
    assert snapshot.saved == str(tmp_path / "run") and snapshot.error is None
    written = {path.name for path in result.run_dir.iterdir()}
    assert {"manifest.json", "metrics.parquet", "agents.parquet", "report.html"} <= written
    assert result.manifest["days_done"] == 5 and not result.complete
    pd.testing.assert_frame_equal(result.metrics, snapshot.metrics)


def test_headline_figures(reference: pd.DataFrame) -> None:
    frame = reference.iloc[:2].copy()  # a real metrics table, with the figures' inputs set by hand
    frame[["blacklisted", "ever_wrongly_sanctioned", "isolated", "dissent_committed"]] = [[1, 0, 0, 3], [4, 2, 1, 3]]
    frame[["stored_bytes", "dissent_unchilled"]] = [[1.0, 4.0], [2.0, 4.0]]
    assert headline(frame) == {"blacklisted": 4, "ever_wrongly_sanctioned": 2, "chilling_effect": 0.25,
                               "isolated": 1, "stored_bytes": 2.0}  # fmt: skip


# ---------------------------------------------------------------- who bears it

BUSY = ("blacklist.blacklist_score=980", "blacklist.blacklist_exit_score=1100", "adaptation.emigrate_rate=0.05",
        "run.breakdown_every=12")  # fmt: skip
"""A society where, within 12 days, some are listed and some households have left (day 12 is a breakdown day)."""
SOCIETY = ("alive", "blacklisted", "wrongly_sanctioned", "emigrated")
"""Columns of the groups rows that are also society-wide metrics (each dimension's groups sum to them; the groups'
ever-columns count emigrants too, the metrics' only the alive: docs/model.md §15)."""


def test_the_snapshot_carries_the_groups_rows_of_its_day() -> None:
    busy = scenario("china_family", *BUSY, agents=2000, days=30, seed=3)  # with age bands and households
    run = LiveRun(busy)
    try:
        assert run.snapshot.groups.empty
        for _ in range(12):
            run.step()
        snapshot = run.sync(PATIENCE)
    finally:
        run.close()
    groups, today = snapshot.groups, snapshot.metrics.iloc[-1]
    assert today["blacklisted"] > 0 and today["alive"] < busy.run.agents  # the sums below are not trivial
    assert set(groups["day"]) == {today["day"]}
    assert groups.groupby("dimension", sort=False)["group"].agg(list).to_dict() == dimensions(busy)
    sums = groups.groupby("dimension")[["agents", *SOCIETY, "ever_sanctioned"]].sum()
    assert (sums["agents"] == busy.run.agents).all()
    for column in SOCIETY:
        assert (sums[column] == today[column]).all(), column
    assert (sums["ever_sanctioned"] >= today["ever_sanctioned"]).all() and sums["ever_sanctioned"].nunique() == 1
    recorded = Simulation(busy)  # on a breakdown day the live rows are groups.parquet's (flows aside)
    for _ in range(12):
        recorded.step()
    state = [column for column in COLUMNS if column not in FLOWS]
    pd.testing.assert_frame_equal(groups[state], recorded.groups.frame()[state])


def test_the_groups_are_counted_once_a_day_and_a_failure_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[int] = []

    def counting(scenario: Any, t: int, inputs: Any) -> pd.DataFrame:
        counted.append(t)
        if t == 3:
            raise RuntimeError("boom")
        return rows_of(scenario, t, inputs)

    monkeypatch.setattr(live_module, "rows_of", counting)
    run = LiveRun(small())
    try:
        for _ in range(3):
            run.step()
        run.choose_agent(5)  # a snapshot of the same day: the rows are not counted again
        assert run.sync(PATIENCE).ego.agent == 5
        assert counted == [0, 1, 2]
        run.step()
        failed = run.sync(PATIENCE)
        run.step()
        after = run.sync(PATIENCE)
    finally:
        run.close()
    assert (failed.days_done, failed.error, failed.groups.empty) == (4, "who bears it: RuntimeError: boom", True)
    assert (after.days_done, after.error, set(after.groups["day"])) == (5, None, {4})


def test_the_panel_shows_the_rates_of_the_days_done() -> None:
    run = LiveRun(small())
    try:
        shown = {0: run.snapshot}
        for day in range(1, 11):
            run.step()
            if day in (1, 10):
                shown[day] = run.sync(PATIENCE)
    finally:
        run.close()
    quintiles = dimensions(shown[0].scenario)["income_quintile"]
    tables = {day: who.panel_rates(s.groups, s.scenario, "income_quintile") for day, s in shown.items()}
    assert tables[0].isna().all().all() and tables[0].index.tolist() == quintiles
    assert who.disparity_line(shown[0].groups, "income_quintile") == who.EMPTY_LINE
    for day in (1, 10):
        rows = shown[day].groups.set_index("dimension").loc["income_quintile"]
        assert tables[day]["blacklisted"].tolist() == (rows["blacklisted"] / rows["alive"]).tolist()
        assert tables[day]["emigrated"].tolist() == (rows["emigrated"] / rows["agents"]).tolist()
        assert who.disparity_line(shown[day].groups, "income_quintile").startswith(f"After day {day}, ")
    assert not tables[1].equals(tables[10])  # the panel's data follow the run
    for day, snapshot in shown.items():
        drawn = who.figure(snapshot.groups, snapshot.scenario, "income_quintile", 900)
        assert [trace.name for trace in drawn.data] == list(SHOWN.values())
        for trace, column in zip(drawn.data, SHOWN, strict=True):
            assert list(trace.y) == who.group_words("income_quintile", quintiles)
            np.testing.assert_array_equal(np.asarray(trace.x, dtype=float), tables[day][column].to_numpy())
        assert drawn.layout.title.text == "By income quintile" + (f", after day {day}" if day else "")


def _quintile_rows(**counts: list[int]) -> pd.DataFrame:
    """Groups rows of day 6 for the income quintiles, 200 agents each (all alive), with the given counts."""
    rows = pd.DataFrame({column: [0] * 5 for column in COLUMNS})
    rows["day"], rows["dimension"], rows["group"] = 6, "income_quintile", [str(q) for q in range(5)]
    rows["agents"] = rows["alive"] = 200
    for column, values in counts.items():
        rows[column] = values
    return rows


def test_the_disparity_line_names_the_highest_and_lowest_groups() -> None:
    wrongly = _quintile_rows(ever_sanctioned=[9, 9, 9, 9, 9], ever_wrongly_sanctioned=[8, 4, 4, 2, 4])
    assert who.disparity_line(wrongly, "income_quintile") == (
        "After day 7, ever wrongly sanctioned by income quintile: Q1 (poorest) 4.0%, 4 times Q4 1.0%; "
        "a gap of 3 percentage points.")  # fmt: skip
    sanctioned = _quintile_rows(ever_sanctioned=[1, 1, 1, 1, 0])
    assert who.disparity_line(sanctioned, "income_quintile") == (
        "After day 7, ever sanctioned by income quintile (nobody wrongly yet): Q1 (poorest) 0.50% against none in "
        "Q5 (richest); a gap of 0.5 percentage points.")  # fmt: skip
    assert who.disparity_line(_quintile_rows(), "income_quintile") == "After day 7, nobody has been sanctioned yet."


def test_the_dimension_choices_follow_the_scenario() -> None:
    plain, family = load_scenario("china_scs"), load_scenario("china_family")
    assert list(who.dimension_choices(plain).values()) == list(dimensions(plain))
    assert who.dimension_choices(family)["age band"] == "age_band"
    assert who.chosen_dimension(family, "age_band") == "age_band"
    assert who.chosen_dimension(plain, "age_band") == who.DEFAULT_DIMENSION  # the scenario has no ages
    assert who.group_words("cashless", ["false", "true"]) == ["uses cash", "cashless"]


# ---------------------------------------------------------------- the ego network


@pytest.fixture(scope="module")
def world_with_cuts() -> World:
    """A small society where many friendships were cut (a high unfriend rate, a list most people are on)."""
    simulation = Simulation(load_scenario("china_scs", overrides=["blacklist.blacklist_score=995",
                            "adaptation.unfriend_rate=0.3"], agents=1500, days=20, seed=5))  # fmt: skip
    simulation.run()
    return simulation.world


def _row(world: World, i: int) -> tuple[set[int], set[int]]:
    ids, live = world.network.row(i)
    return set(ids[live].tolist()), set(ids[~live].tolist())


def test_rings_match_the_csr_rows(world_with_cuts: World) -> None:
    world = world_with_cuts
    agent = next(i for i in range(1500) if _row(world, i)[1] and _row(world, i)[0])
    ego = ego_network(world, agent, cap=10**6)
    active, cut = _row(world, agent)
    ring = dict(zip(ego.nodes.tolist(), ego.ring.tolist(), strict=True))
    assert ring[agent] == 0 and ego.nodes[0] == agent
    assert {v for v, r in ring.items() if r == 1} == active | cut
    second = set().union(*(set().union(*_row(world, f)) for f in active | cut)) - active - cut - {agent}
    assert {v for v, r in ring.items() if r == 2} == second
    assert len(ego.nodes) == len(set(ego.nodes.tolist()))


def test_cut_edges_are_marked_and_every_edge_appears_once(world_with_cuts: World) -> None:
    world = world_with_cuts
    agent = next(i for i in range(1500) if len(_row(world, i)[1]) >= 2)
    ego = ego_network(world, agent)
    pairs = [(int(ego.nodes[a]), int(ego.nodes[b])) for a, b in ego.edges.tolist()]
    assert len({frozenset(p) for p in pairs}) == len(pairs)
    net = world.network
    edge_active = {(int(u), int(v)): bool(on) for u, v, on in zip(net.src, net.dst, world.edge_active, strict=True)}
    for (u, v), marked in zip(pairs, ego.active.tolist(), strict=True):
        assert marked == edge_active[(min(u, v), max(u, v))]
    active, cut = _row(world, agent)
    to_agent = {v if u == agent else u: on for (u, v), on in zip(pairs, ego.active.tolist(), strict=True)
                if agent in (u, v)}  # fmt: skip
    assert to_agent == {v: True for v in active} | {v: False for v in cut}
    assert ego.friends == len(active)
    drawn = figure(ego, (0, 1300))
    dashed = next(trace for trace in drawn.data if trace.line.dash == "dash")
    assert len(dashed.x) == 3 * int((~ego.active).sum())


def test_ring_two_is_capped_and_the_layout_is_rings(world_with_cuts: World) -> None:
    ego = ego_network(world_with_cuts, 3, cap=7)
    assert (ego.ring == 2).sum() == 7
    xy = layout(ego)
    assert np.allclose(np.hypot(xy[:, 0], xy[:, 1]), ego.ring)
    assert np.array_equal(xy, layout(ego_network(world_with_cuts, 3, cap=7)))


def test_ring_one_is_capped_and_the_title_says_so(world_with_cuts: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustsim.dashboard import ego as ego_module

    monkeypatch.setattr(ego_module, "RING1_CAP", 3)
    agent = next(i for i in range(1500) if sum(map(len, _row(world_with_cuts, i))) > 3)
    ego = ego_network(world_with_cuts, agent)
    ever = sum(map(len, _row(world_with_cuts, agent)))
    assert (ego.ring == 1).sum() == 3 and ego.ever_friends == ever
    assert f"3 of {ever} friends drawn" in figure(ego, (0, 1300)).layout.title.text


def test_the_default_agent_is_a_listed_one(world_with_cuts: World) -> None:
    pop = world_with_cuts.population
    chosen = default_agent(world_with_cuts)
    assert pop.blacklisted[chosen] and not pop.emigrated[chosen]
    with pytest.raises(ValueError, match="agent must be 0 to 1499"):
        ego_network(world_with_cuts, 1500)


# ---------------------------------------------------------------- levers and uploads


def test_levers_read_the_scenario_and_leave_it_alone_when_unmoved() -> None:
    raw = read_raw("china_scs")
    values = levers.defaults(raw)
    assert values == {"camera": 0.4, "false_match": 0.01, "review": 0.002, "contagion": 0.01, "blacklist": 600.0,
                      "unfriend": 0.01, "half_life": 365.0, "escalation": 0.02}  # fmt: skip
    assert levers.build(raw, values, **SMALL) == load_scenario("china_scs", **SMALL)


def test_each_lever_moves_its_keys() -> None:
    raw = read_raw("china_scs")
    moved = {"camera": 0.8, "false_match": 0.05, "review": 0.01, "contagion": 0.0, "blacklist": 700.0,
             "unfriend": 0.05, "half_life": 0.0, "escalation": 0.01}  # fmt: skip
    s = levers.build(raw, moved, **SMALL)
    assert s.channels.camera.schedule[0].coverage == 0.8
    assert (s.observation.false_match, s.observation.review_per_capita) == (0.05, 0.01)
    assert (s.score.contagion, s.score.recovery_half_life_days) == (0.0, None)
    assert (s.blacklist.blacklist_score, s.adaptation.unfriend_rate) == (700.0, 0.05)
    assert {name: b.escalation for name, b in s.behaviours.items() if b.escalation is not None} == {
        "late_payment": 0.01, "dissent": 0.01}  # fmt: skip
    assert levers.defaults(levers.apply(raw, moved)) == moved | {"half_life": 0.0}


def test_camera_coverage_scales_every_schedule_keeping_its_shape() -> None:
    raw = read_raw("china_scs")
    raw["channels"]["camera"] = {"schedule": [{"day": 0, "coverage": 0.1}, {"day": 10, "coverage": 0.5}],
                                 "region_schedules": {"r1": [{"day": 0, "coverage": 0.25}]}}  # fmt: skip
    camera = levers.build(raw, {"camera": 0.25}, **SMALL).channels.camera
    assert [p.coverage for p in camera.schedule] == [0.05, 0.25]
    assert camera.region_schedules["r1"][0].coverage == 0.125
    raw["channels"]["camera"] = {"schedule": []}
    assert levers.build(raw, {"camera": 0.3}, **SMALL).channels.camera.schedule[0].coverage == 0.3


def test_an_invalid_lever_setting_is_a_one_line_problem() -> None:
    with pytest.raises(ScenarioError) as caught:
        levers.build(read_raw("china_scs"), {"false_match": 0.99}, **SMALL)
    assert len(caught.value.problems) == 1
    assert "false_match + false_non_match must be at most 1" in caught.value.problems[0]


def test_uploads_are_read_and_their_problems_name_the_file() -> None:
    raw = levers.read_upload("mine.toml", b'extends = "china_scs"\nname = "mine"\n[score]\ncontagion = 0.05\n')
    assert levers.build(raw, {}, **SMALL).score.contagion == 0.05
    for name, data, expected in (
        ("mine.toml", b"[score\n", "mine.toml: not valid TOML"),
        ("mine.toml", b'extends = "nowhere.toml"\n', "file not found"),
        ("mine.txt", b"", "mine.txt: not a .toml file"),
        ("big.toml", b"#" * (levers.UPLOAD_LIMIT + 1), "at most"),
    ):
        with pytest.raises(ScenarioError) as caught:
            levers.read_upload(name, data)
        assert expected in caught.value.problems[0]
        assert "trustsim-upload-" not in " ".join(caught.value.problems)


def test_lever_values_never_fail_on_odd_tables() -> None:
    odd = ({"score": 5, "channels": 5, "behaviours": [1]}, {"channels": {"camera": 5}},
           {"observation": {"false_match": "many"}}, {"score": {"contagion": float("inf")}},
           {"blacklist": {"blacklist_score": float("nan")}}, {"observation": {"false_match": 10**400}})  # fmt: skip
    for raw in odd:
        assert all(value is None or math.isfinite(value) for value in levers.defaults(raw).values())
    assert levers.defaults({"score": {"contagion": float("nan")}})["contagion"] is None


def test_the_blacklist_threshold_keeps_its_gap_to_the_exit_score() -> None:
    raw = read_raw("china_scs")  # listed below 600, off the list above 750
    moved = levers.build(raw, {"blacklist": 700.0}, **SMALL).blacklist
    assert (moved.blacklist_score, moved.blacklist_exit_score) == (700.0, 850.0)
    top = levers.build(raw, {"blacklist": 1250.0}, **SMALL).blacklist
    assert (top.blacklist_score, top.blacklist_exit_score) == (1250.0, 1300.0)  # the score's maximum
    assert top.blacklist_exit_score >= top.blacklist_score


@pytest.mark.parametrize(("data", "expected"), [
    (b'[run]\nagents="many"\n', "run.agents: input should be a valid integer"),
    (b"[run]\nagents=inf\n", "run.agents"),
    (b"[run]\ndays=nan\n", "run.days"),
    (b"score=5\n", "score: input should be a valid dictionary"),
    (b"channels=5\n", "channels: input should be a valid dictionary"),
    (b"[channels]\ncamera=5\n", "channels.camera: input should be a valid dictionary"),
    (b"behaviours=[1]\n", "behaviours: input should be a valid dictionary"),
    (b'[network]\ngenerator="file"\npath="edges.csv"\n', "network.path must be an absolute path"),
])  # fmt: skip
def test_invalid_uploads_are_one_line_problems(data: bytes, expected: str) -> None:
    from trustsim.dashboard.app import receive

    data = b'extends = "china_scs"\n' + data
    upload, problems = receive({"name": "mine.TOML", "size": len(data), "file_obj": io.BytesIO(data)})
    assert upload is None and len(problems) == 1
    assert problems[0].startswith("mine.TOML: ") and expected in problems[0]
    assert "trustsim-upload-" not in problems[0] and "\n" not in problems[0]


def test_uploads_without_run_settings_or_nested_deeply_are_refused() -> None:
    with pytest.raises(ScenarioError) as caught:
        levers.read_upload("deep.toml", b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    assert caught.value.problems == ["deep.toml: nested too deeply to be a scenario file"]
    raw = read_raw("china_scs")
    del raw["run"]
    with pytest.raises(ScenarioError, match="run: missing"):
        levers.read_upload("norun.toml", _toml(raw).encode())


def _toml(table: dict[str, object]) -> str:
    """A scenario table as TOML (enough for the shipped ones)."""
    import tomli_w

    return tomli_w.dumps(table)


def test_a_big_upload_is_refused_before_it_is_read() -> None:
    from trustsim.dashboard.app import receive

    class Unreadable(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise AssertionError("read before the size was checked")

    upload, problems = receive({"name": "big.toml", "size": 5_000_000, "file_obj": Unreadable()})
    assert upload is None and problems == ["big.toml: 5,000,000 bytes; a scenario file is at most 1,000,000 bytes"]


@pytest.mark.parametrize(("value", "limits", "step", "shown"), [
    (0.0012, (0.0, 0.02), 0.0005, 0.001),
    (655.0, (0.0, 1300.0), 10.0, 660.0),
    (2500.0, (1000.0, 1e6), 1000.0, 3000.0),
    (500.0, (500.0, 1e6), 1000.0, 500.0),
    (5e6, (1000.0, 5e6), 1000.0, 5e6),
    (0.4, (0.0, 1.0), 0.01, 0.4),
])  # fmt: skip
def test_a_slider_snapping_an_unmoved_value_is_not_a_move(value: float, limits: tuple[float, float], step: float,
                                                          shown: float) -> None:  # fmt: skip
    from trustsim.dashboard.app import moved_by_user, slider_position

    assert slider_position(value, limits, step) == shown
    assert not moved_by_user(value, shown, limits, step)
    assert moved_by_user(value, min(limits[1], shown + step), limits, step) or shown == limits[1]
    assert moved_by_user(value, max(limits[0], shown - step), limits, step) or shown == limits[0]
    assert moved_by_user(None, shown, limits, step)


# ---------------------------------------------------------------- the command


def test_the_command_refuses_a_busy_port_in_one_line() -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_dashboard.register(app)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["dashboard", "--port", str(port), "--no-browser"])
    assert result.exit_code == 2
    expected = f"error: --port {port}: already in use on 127.0.0.1; choose another port"
    assert result.output.strip().splitlines() == [expected]
    assert "Traceback" not in result.output


def test_user_exported_solara_settings_win_but_the_app_is_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("SOLARA_KERNEL_CULL_TIMEOUT", "1h")
    monkeypatch.setenv("SOLARA_APP", "someone.else")
    for name in set(cli_dashboard.SOLARA_SETTINGS) - {"SOLARA_KERNEL_CULL_TIMEOUT", "SOLARA_APP"}:
        monkeypatch.delenv(name, raising=False)
    cli_dashboard.configure_environment()
    assert os.environ["SOLARA_KERNEL_CULL_TIMEOUT"] == "1h"
    assert os.environ["SOLARA_APP"] == cli_dashboard.APP
    assert os.environ["SOLARA_MODE"] == "production"


def test_a_shared_host_gets_a_warning() -> None:
    assert cli_dashboard.exposure_warning("127.0.0.1") is None
    assert cli_dashboard.exposure_warning("localhost") is None
    assert cli_dashboard.exposure_warning("::1") is None
    warning = cli_dashboard.exposure_warning("0.0.0.0")
    assert warning is not None and "\n" not in warning and "network.path" in warning


def test_the_command_refuses_an_unknown_host() -> None:
    assert "not an address of this machine" in (cli_dashboard.port_problem("no-such-host.invalid", 8765) or "")


def test_a_live_run_leaves_a_core_to_the_display() -> None:
    assert live_module.ui_threads(load_scenario("china_scs", agents=2000)) == 1
    big = load_scenario("china_scs", agents=10**7)
    assert live_module.ui_threads(big) == max(1, numba.get_num_threads() - 1)


# ---------------------------------------------------------------- the page's pieces (no browser)


def test_figures_are_shown_briefly() -> None:
    from trustsim.dashboard.app import figure_text, lever_text

    assert figure_text("blacklisted", float("nan")) == "–"
    assert figure_text("blacklisted", 12345.0) == "12,345"
    assert figure_text("chilling_effect", 0.1234) == "12.3%"
    assert figure_text("stored_bytes", 193_500_004_288_000.0) == "194 TB"
    assert (lever_text(0.002, 0.0005), lever_text(600.0, 10.0), lever_text(None, 1.0)) == ("0.0020", "600", "n/a")


def test_the_sliders_scenario_or_its_problems() -> None:
    from trustsim.dashboard.app import Settings, scenario_of

    raw = read_raw("china_scs")
    settings = Settings.of(raw)
    assert (settings.agents, settings.days, settings.seed) == (100_000, 365, 1)
    with pytest.raises(ScenarioError, match="run: missing"):
        Settings.of({key: value for key, value in raw.items() if key != "run"})
    valid, problems = scenario_of(raw, settings)
    assert valid == load_scenario("china_scs") and problems == []
    invalid, problems = scenario_of(raw, settings.with_value("false_match", 0.99))
    assert invalid is None and len(problems) == 1 and "false_match + false_non_match" in problems[0]


def test_charts_are_drawn_from_day_0_and_updated_in_place() -> None:
    import plotly.graph_objects as go

    from trustsim.dashboard.app import CHART_WIDTH, CHARTS, chart_figures, redraw

    run = LiveRun(small())
    try:
        empty = dict(chart_figures(run.snapshot))
        run.step()
        run.step()
        two_days = dict(chart_figures(run.sync(PATIENCE)))
    finally:
        run.close()
    assert list(empty) == list(two_days) == list(CHARTS)
    assert all(f.layout.width == CHART_WIDTH for f in two_days.values())
    widget = go.FigureWidget()
    layout = redraw(widget, empty["blacklist"], None)
    traces = list(widget.data)
    redraw(widget, two_days["blacklist"], layout)
    assert [id(t) for t in widget.data] == [id(t) for t in traces]  # the same traces, new values
    assert list(widget.data[0].x) == [0, 1]


def test_the_ego_network_leaves_out_the_family() -> None:
    """An edge to an adult of one's own household is family, not a (cut) friendship: not drawn in ring 1."""
    from trustsim.dashboard.ego import ego_network

    s = scenario("china_family", agents=3000, days=2)
    sim = Simulation(s)
    member_of = sim.households.member_of
    net = sim.world.network
    checked = 0
    for agent in range(200):
        row = net.row(agent)[0]
        family = int(np.sum(member_of[row] == member_of[agent]))
        ego = ego_network(sim.world, agent)
        ring1 = ego.nodes[ego.ring == 1]
        assert not np.any(member_of[ring1] == member_of[agent]), agent
        assert ego.ever_friends == len(row) - family
        checked += family > 0
    assert checked > 20  # ring neighbours are mostly the same household: the rule was exercised
