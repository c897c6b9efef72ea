"""A simulation driven by a background worker thread, for the dashboard (no Solara here).

:class:`LiveRun` owns one :class:`trustsim.Simulation` and one worker thread. Every
command (start, pause, step, reset, save, choose the ego agent) only queues work or
raises a flag and returns at once, so a user interface calling it never waits for a
day to finish; the worker alone builds, steps, reads and saves the simulation, one
command after the other, so no day is lost or done twice however the commands
interleave. Pause takes effect at the end of the day being simulated.

After changes the worker makes an immutable :class:`Snapshot` (status, days done,
the metrics so far, headline figures, the ego network, the groups rows of "who bears
it"). While a run goes on snapshots are *throttled*: a new one is made only once the
last one has been delivered and ``max(redraw_interval, time the last on_update took)``
seconds have passed since that delivery ended (:class:`Throttle`, which reads every time
from the injected clock), plus one whenever a command ends; so
however fast days go, a slow display (five charts of a long run) spends at most about
half the time redrawing. The groups rows are counted only for a snapshot, not every day. A
second thread hands the snapshots to ``on_update``, so the worker never waits for a
redraw: a display slower than the snapshots gets the latest one and skips those it had
no time for.

Numba's threading layer is not safe for parallel kernels launched from several Python
threads at once, so every building, stepping, counting of groups and saving in the
process holds the module-wide :data:`STEP_LOCK`: several dashboard sessions take turns, a day each.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numba
import pandas as pd

from trustsim.api import Result
from trustsim.dashboard.ego import RING2_CAP, EgoNetwork, default_agent, ego_network
from trustsim.engine import AGENTS_PER_THREAD, Simulation
from trustsim.errors import Setting, TrustsimError, setting_words
from trustsim.groups import empty_groups, group_inputs, rows_of
from trustsim.metrics import Metrics
from trustsim.scenario import Scenario
from trustsim.summary import headline as summary_headline

logger = logging.getLogger(__name__)

STEP_LOCK = threading.Lock()
"""Held by whoever builds, steps, counts the groups of or saves a simulation in this process (one at a time)."""

REDRAW_INTERVAL = 0.3
"""Default least time between two throttled updates while a run goes on (seconds)."""


class Status(StrEnum):
    """Where a live run stands."""

    READY = "ready"  # nothing built yet: day 0
    BUILDING = "building"  # drawing the society
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"


def headline(metrics: pd.DataFrame) -> dict[str, float]:
    """The dashboard's headline figures (:func:`trustsim.summary.headline`'s) after ``metrics`` (NaN before day 1)."""
    if metrics.empty:
        return dict.fromkeys(HEADLINE, math.nan)
    figures = summary_headline(metrics)
    return {name: figures[name] for name in HEADLINE}


HEADLINE = ("blacklisted", "ever_wrongly_sanctioned", "chilling_effect", "isolated", "stored_bytes")
"""Names of the headline figures, in display order."""


def empty_metrics(scenario: Scenario) -> pd.DataFrame:
    """A metrics table with the scenario's columns and no rows (day 0)."""
    return Metrics(scenario, 0).frame()


@dataclass(frozen=True, eq=False)
class Snapshot:
    """What a user interface shows of a live run at one moment (never changed once made; compared by identity)."""

    version: int
    status: Status
    scenario: Scenario
    days_done: int
    metrics: pd.DataFrame
    ego: EgoNetwork | None = None
    error: str | None = None
    saved: str | None = None
    figures: dict[str, float] = field(default_factory=dict)
    groups: pd.DataFrame = field(default_factory=empty_groups)  # live_groups(): the state after the last day
    built: bool = False  # a society exists (False at day 0 and after a failure: Reset or Start builds anew)

    @property
    def days(self) -> int:
        """Days the scenario runs for."""
        return self.scenario.run.days

    @property
    def progress(self) -> str:
        """``"day X / T"``."""
        return f"day {self.days_done} / {self.days}"


def live_groups(simulation: Simulation) -> pd.DataFrame:
    """The groups rows (:func:`trustsim.groups.rows_of`) of the state after the simulation's last day; none at day 0.

    Any day, not only breakdown days: one parallel pass over the agents, with the
    simulation's threads, so the caller holds :data:`STEP_LOCK`. Its ``denials`` and
    ``wrongful_points`` count since the last breakdown day (the state columns are the day's).
    """
    if simulation.days_done == 0:
        return empty_groups()
    world = simulation.world
    inputs = group_inputs(world.population, simulation.today.outcomes.status, world.households)
    previous = numba.get_num_threads()
    numba.set_num_threads(simulation.threads)
    try:
        return rows_of(simulation.scenario, simulation.days_done - 1, inputs)
    finally:
        numba.set_num_threads(previous)


def ui_threads(scenario: Scenario) -> int:
    """Threads for a simulation beside a user interface: as a run would use, but one core is left to the display.

    The server's redraws and the browser (often on the same machine) need a core, or the
    page stops answering while the run goes on. Results do not depend on the thread count.
    """
    wanted = max(1, scenario.run.agents // AGENTS_PER_THREAD)
    return max(1, min(wanted, numba.get_num_threads() - 1))


CONTROLS = {"run.agents": "Agents", "run.days": "Days", "run.seed": "Seed"}
"""The page's control for each run setting an error may name."""


def page_words(setting: Setting) -> str:
    """A setting as the page lets the user change it.

    ``the Days slider``; with a value, ``set the Agents slider to 5,600`` (the message around it says whether
    that is a most or a least).
    """
    control = CONTROLS.get(setting.key)
    if control is None:
        return setting_words(setting)
    kind = "field" if setting.key == "run.seed" else "slider"
    if setting.value is None:
        return f"the {control} {kind}"
    return f"set the {control} {kind} to {setting.value:,}"


def one_line(err: BaseException) -> str:
    """A one-line description of an error, naming settings as the page's controls."""
    if isinstance(err, TrustsimError):
        return "; ".join(err.lines(page_words))
    text = (str(err).splitlines() or [""])[0]
    return f"{type(err).__name__}: {text}".rstrip(": ")


def save_run(simulation: Simulation, out: str | Path, lock: AbstractContextManager[Any] | None = None) -> Result:
    """Write ``simulation`` as a normal run directory ``out`` with its ``report.html``; the run's Result.

    ``lock`` is held while the simulation is read (not while the report is drawn).
    """
    from trustsim.api import save_simulation
    from trustsim.report import write_report
    from trustsim.store import REPORT

    with lock if lock is not None else nullcontext():
        result = save_simulation(simulation, out)
    if simulation.days_done > 0 and not (result.run_dir / REPORT).exists():  # day 0: nothing to report yet
        write_report(result.run_dir)
    return result


@dataclass
class Throttle:
    """When a throttled snapshot is due, from readings of the live run's clock only (tests pass a fake clock).

    Due once ``max(interval, the last redraw's duration)`` has passed since the last redraw ended:
    a display slower than ``interval`` rests as long as it draws, so it is busy about half the time.
    """

    interval: float
    last_end: float = -math.inf  # when the display last finished drawing
    redraw_seconds: float = 0.0  # how long that drawing took

    def due(self, now: float) -> bool:
        """Whether the display has rested long enough at ``now``."""
        return now - self.last_end >= max(self.interval, self.redraw_seconds)

    def redrawn(self, started: float, ended: float) -> None:
        """The display drew a snapshot from ``started`` to ``ended``."""
        self.redraw_seconds = ended - started
        self.last_end = ended


@dataclass
class _Command:
    """A unit of work for the worker."""

    kind: str  # "run", "reset", "save", "publish", "sync", "close"
    epoch: int = 0
    days: int | None = None  # for "run": how many days at most (None: to the end)
    scenario: Scenario | None = None
    path: Path | None = None
    done: Future[Any] | None = None


class LiveRun:
    """One simulation stepped by a background worker; every method returns at once.

    ``on_update(snapshot)`` is called from the worker thread. ``clock`` (seconds) is
    what throttling measures; tests pass a fake one. ``ego_cap`` caps the
    friends-of-friends in the ego network.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        on_update: Callable[[Snapshot], None] | None = None,
        redraw_interval: float = REDRAW_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        ego_cap: int = RING2_CAP,
    ) -> None:
        self.on_update = on_update
        self.throttle = Throttle(redraw_interval)
        self.clock = clock
        self.ego_cap = ego_cap
        self.updates = 0
        self._scenario = scenario
        self._simulation: Simulation | None = None
        self._status = Status.READY
        self._ego_agent: int | None = None
        self._saved: str | None = None
        self._epoch = 0
        self._builds = 0  # societies built so far: which one a cached count is of
        self._groups: tuple[int, int, pd.DataFrame] | None = None  # the last live_groups(): build, day, rows
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._snapshot = Snapshot(0, Status.READY, scenario, 0, empty_metrics(scenario), figures=headline(
            empty_metrics(scenario)))  # fmt: skip
        self._delivery = threading.Condition()
        self._delivered = 0
        self._closed = False
        self._closing = False  # close() was called: queued commands are dropped
        self._worker = threading.Thread(target=self._serve, name="trustsim-live", daemon=True)
        self._notifier = threading.Thread(target=self._notify, name="trustsim-live-updates", daemon=True)
        self._worker.start()
        self._notifier.start()

    # ------------------------------------------------------------------ commands

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot (the one last given to ``on_update``)."""
        return self._snapshot

    @property
    def ego_agent(self) -> int | None:
        """The agent whose ego network is drawn (None: a listed agent if any, else agent 0)."""
        return self._ego_agent

    def start(self, scenario: Scenario | None = None) -> None:
        """Run to the last day, until paused or another command comes; builds the society first if needed.

        ``scenario``, if given, replaces the live run's scenario when nothing is built yet.
        """
        self._put(_Command("run", self._interrupt(), scenario=scenario))

    def pause(self) -> None:
        """Stop at the end of the day being simulated."""
        self._interrupt()

    def step(self, scenario: Scenario | None = None) -> None:
        """Simulate exactly one more day; a run going on pauses first (later commands never cancel a step).

        ``scenario`` is as for :meth:`start`.
        """
        self._put(_Command("run", self._interrupt(), days=1, scenario=scenario))

    def reset(self, scenario: Scenario | None = None) -> None:
        """Discard the simulation: back to day 0, with ``scenario`` if given (built on the next start)."""
        self._put(_Command("reset", self._interrupt(), scenario=scenario))

    def save(self, out: str | Path) -> Future[Any]:
        """Pause, then write the run directory ``out`` with its report; the future holds the Result."""
        done: Future[Any] = Future()
        self._put(_Command("save", self._interrupt(), path=Path(out), done=done))
        return done

    def choose_agent(self, agent: int | None) -> None:
        """Draw ``agent``'s ego network from now on (None: a listed agent if any, else agent 0)."""
        self._ego_agent = agent
        self._put(_Command("publish"))

    def sync(self, timeout: float | None = None) -> Snapshot:
        """Wait until every command given so far is done and its last snapshot delivered; that snapshot.

        For tests and scripts; a user interface never needs to wait.
        """
        done: Future[Any] = Future()
        self._put(_Command("sync", done=done))
        done.result(timeout)
        snapshot = self._snapshot
        self.wait_delivered(snapshot.version, timeout)
        return snapshot

    def wait_until(self, condition: Callable[[Snapshot], bool], timeout: float | None = None) -> Snapshot:
        """Wait until the latest snapshot satisfies ``condition``; that snapshot (it may not be delivered yet).

        Wakes at every new snapshot, so ``condition`` should stay true once true (``days_done >= 3``,
        a status the run stays in): a snapshot replaced before this thread woke is not seen.
        :class:`TimeoutError` after ``timeout`` seconds.
        """
        with self._delivery:
            if not self._delivery.wait_for(lambda: condition(self._snapshot), timeout):
                raise TimeoutError(f"no snapshot satisfied the condition within {timeout} s")
            return self._snapshot

    def wait_delivered(self, version: int, timeout: float | None = None) -> None:
        """Wait until ``on_update`` has returned for snapshot ``version`` or a later one.

        Any thread may wait but the one that runs ``on_update`` (it would wait for itself).
        """
        with self._delivery:
            if not self._delivery.wait_for(lambda: self._delivered >= version, timeout):
                raise TimeoutError("on_update did not return in time")

    def close(self, timeout: float | None = None) -> None:
        """Stop the threads (after the day in progress, dropping queued commands) and forget the simulation."""
        self._closing = True
        self._commands.put(_Command("close", self._interrupt()))  # not _put: a worker already gone is no error
        self._worker.join(timeout)
        with self._delivery:
            self._closed = True
            self._delivery.notify_all()
        self._notifier.join(timeout)

    def _interrupt(self) -> int:
        """End any run in progress at the end of its day; the epoch of commands given from now on."""
        self._epoch += 1
        return self._epoch

    def _put(self, command: _Command) -> None:
        if not self._worker.is_alive():
            raise RuntimeError("this live run is closed")
        self._commands.put(command)

    # ------------------------------------------------------------------ worker

    def _serve(self) -> None:
        while True:
            command = self._commands.get()
            if command.kind == "close":
                self._simulation = None
                return
            if self._closing:
                if command.done is not None:
                    command.done.cancel()
                continue
            try:
                self._handle(command)
            finally:
                if command.done is not None and not command.done.done():
                    command.done.set_result(None)

    def _handle(self, command: _Command) -> None:
        """Do one command; a failure is shown as one line, and never stops the worker."""
        try:
            getattr(self, f"_do_{command.kind}")(command)
        except Exception as err:
            if command.kind == "run":  # a day that failed half-way leaves a simulation that must not go on
                self._simulation = None
                self._status = Status.FAILED
            try:
                self._publish(error=one_line(err))
            except Exception:
                logger.exception("could not show a failure")

    def _do_run(self, command: _Command) -> None:
        if command.days is None and self._epoch != command.epoch:
            return  # superseded before it began: building the society would be wasted
        if self._simulation is None and command.scenario is not None:
            self._scenario = command.scenario
        simulation = self._build()
        stop_at = None if command.days is None else simulation.days_done + command.days
        self._status = Status.RUNNING
        self._saved = None
        self._publish()
        while self._goes_on(simulation, command.epoch, stop_at):
            with STEP_LOCK:
                simulation.step()
            if self._goes_on(simulation, command.epoch, stop_at) and self._display_rested():
                self._publish()  # not after the last day: the command's own snapshot follows at once
        self._status = Status.FINISHED if simulation.finished else Status.PAUSED
        self._publish()

    def _goes_on(self, simulation: Simulation, epoch: int, stop_at: int | None) -> bool:
        """Whether a run command has another day to simulate: days left, and not paused (a step is never paused)."""
        if simulation.finished:
            return False
        return self._epoch == epoch if stop_at is None else simulation.days_done < stop_at

    def _display_rested(self) -> bool:
        """Whether a throttled snapshot is due: the last one delivered, and the display idle long enough since."""
        return self._delivered >= self._snapshot.version and self.throttle.due(self.clock())

    def _build(self) -> Simulation:
        if self._simulation is None:
            self._status = Status.BUILDING
            self._publish()
            with STEP_LOCK:
                self._simulation = Simulation(self._scenario, threads=ui_threads(self._scenario))
            self._builds += 1
        return self._simulation

    def _do_reset(self, command: _Command) -> None:
        self._simulation = None
        if command.scenario is not None:
            self._scenario = command.scenario
        self._status = Status.READY
        self._saved = None
        self._publish()

    def _do_save(self, command: _Command) -> None:
        assert command.path is not None and command.done is not None
        try:
            if self._simulation is None:
                raise TrustsimError("nothing to save yet: start or step the run first")
            result = save_run(self._simulation, command.path, STEP_LOCK)
        except Exception as err:
            command.done.set_exception(err)
            self._publish(error=one_line(err))
            return
        command.done.set_result(result)
        self._saved = str(result.run_dir)
        self._publish()

    def _do_publish(self, command: _Command) -> None:
        self._publish()

    def _do_sync(self, command: _Command) -> None:
        pass

    def _publish(self, *, error: str | None = None) -> None:
        """Make a snapshot of the simulation as it is and hand it to ``on_update``."""
        simulation = self._simulation
        metrics = simulation.metrics.frame() if simulation is not None else empty_metrics(self._scenario)
        snapshot = Snapshot(
            version=self._snapshot.version + 1, status=self._status, scenario=self._scenario,
            days_done=simulation.days_done if simulation is not None else 0, metrics=metrics,
            error=error, figures=headline(metrics), saved=self._saved, built=simulation is not None,
        )  # fmt: skip
        if simulation is not None:
            snapshot = self._with_groups(self._with_ego(snapshot, simulation), simulation)
        with self._delivery:
            self._snapshot = snapshot
            self.updates += 1
            self._delivery.notify_all()

    def _notify(self) -> None:
        """Hand the latest snapshot to ``on_update`` each time there is a newer one."""
        while True:
            with self._delivery:
                self._delivery.wait_for(lambda: self._closed or self._snapshot.version > self._delivered)
                if self._closed:
                    return
                snapshot = self._snapshot
            started = self.clock()
            if self.on_update is not None:
                try:
                    self.on_update(snapshot)
                except Exception:  # a broken display must not stop the run
                    logger.exception("on_update failed")
            self.throttle.redrawn(started, self.clock())
            with self._delivery:
                self._delivered = snapshot.version
                self._delivery.notify_all()

    def _with_ego(self, snapshot: Snapshot, simulation: Simulation) -> Snapshot:
        agent = self._ego_agent if self._ego_agent is not None else default_agent(simulation.world)
        try:
            return replace(snapshot, ego=ego_network(simulation.world, agent, self.ego_cap))
        except ValueError as err:
            return replace(snapshot, error=snapshot.error or str(err))

    def _with_groups(self, snapshot: Snapshot, simulation: Simulation) -> Snapshot:
        """The snapshot with the groups rows of its day (counted once per day; a failure is shown, not raised)."""
        if simulation.days_done == 0:
            return snapshot  # no rows yet (and no wait for the lock)
        cached = self._groups
        if cached is None or cached[:2] != (self._builds, simulation.days_done):
            try:
                with STEP_LOCK:
                    rows = live_groups(simulation)
            except Exception as err:  # the panel's failure must not stop the snapshots
                logger.exception("could not count the groups")
                return replace(snapshot, error=snapshot.error or f"who bears it: {one_line(err)}")
            cached = self._groups = (self._builds, simulation.days_done, rows)
        return replace(snapshot, groups=cached[2])
