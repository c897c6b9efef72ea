"""Running an experiment's runs on Dask: an embedded local cluster, or a remote one by address.

Each run is a pure function of (base scenario table, settings, seed) — :func:`run_one`
— submitted to a Dask client. At most a few runs per worker are in flight, and each
result is written to the experiment's store as it arrives, so memory stays bounded
whatever the number of runs. A run that raises is recorded as failed with its error
(the others go on); so is a run whose worker died. A cluster left with no worker stops
the experiment in one line (:func:`finished_runs`) rather than waiting for ever.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trustsim.engine import Simulation
from trustsim.errors import TrustsimError
from trustsim.experiments.analysis import run_metrics
from trustsim.experiments.catalog import ExperimentStore
from trustsim.experiments.design import RunSpec
from trustsim.scenario import scenario_from_raw

IN_FLIGHT_PER_WORKER = 2
"""Runs queued per worker: enough to keep it busy, few enough to bound memory."""

WORKERLESS_SECONDS = 60.0
"""How long an experiment waits for a run to finish before it checks that the cluster has a worker, and then for a
worker to join: with none it stops (a scheduler nobody serves, workers that cannot start) instead of waiting for
ever."""


class ClusterError(TrustsimError):
    """A Dask scheduler that cannot be reached, or a cluster with no worker to run on."""


def run_one(base: dict[str, Any], spec: RunSpec, agents: int | None, days: int | None) -> dict[str, Any]:
    """Simulate one run (one thread; results do not depend on it) and return its outcome, never raising."""
    started = time.perf_counter()
    outcome: dict[str, Any] = {"status": "done", "error": None, "metrics": None, "groups": None, "figures": {}}
    try:
        scenario = scenario_from_raw(base, overrides=run_overrides(spec, agents, days))
        outcome["seed"] = scenario.run.seed
        simulation = Simulation(scenario, threads=1, traced=0)  # the store keeps metrics and groups only
        metrics = simulation.run()
        outcome["metrics"] = parquet_bytes(metrics)  # encoded here, on the worker, not by the collecting process
        outcome["groups"] = parquet_bytes(simulation.groups.frame())
        outcome["figures"] = run_metrics(metrics)
    except Exception as err:  # a failed run is recorded, and the experiment goes on
        text = str(err).strip().splitlines()
        outcome["status"], outcome["error"] = "failed", f"{type(err).__name__}: {text[0] if text else ''}"
    outcome["wall_seconds"] = time.perf_counter() - started
    return outcome


def run_overrides(spec: RunSpec, agents: int | None, days: int | None) -> list[str]:
    """The run's size and seed, then its settings: a swept ``run.seed`` or ``run.agents`` wins."""
    sizes = [f"run.{key}={value}" for key, value in (("agents", agents), ("days", days)) if value is not None]
    return [*sizes, f"run.seed={spec.seed}", *spec.assignments()]


def parquet_bytes(table: pd.DataFrame) -> bytes:
    """A run's table (daily metrics, groups rows) as the bytes of a Parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    return bytes(sink.getvalue())


@contextlib.contextmanager
def dask_client(jobs: int | None, address: str | None) -> Iterator[Any]:
    """A client of the cluster at ``address``, or of a local cluster of ``jobs`` worker processes started here."""
    from distributed import Client, LocalCluster

    if address is not None:
        try:
            client = Client(address, timeout="30s")
        except (OSError, TimeoutError, ValueError) as err:
            raise ClusterError(
                f"--cluster {address}: no Dask scheduler answers there ({err}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS` (docs/experiments.md)"
            ) from None
        with client:
            yield client
        return
    if jobs is not None and jobs < 1:
        raise ClusterError(f"--jobs: must be at least 1 (got {jobs})")
    workers = jobs or os.cpu_count() or 1
    # One numba thread per worker, and idle OpenMP threads asleep: the workers share the cores.
    quiet_threads = {"NUMBA_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    # Only critical logs: as the cluster closes, a worker whose heartbeat finds the scheduler
    # gone logs an error on stderr, which would break the command line's one-line output. A
    # run that fails is recorded as failed in the store, with its error, whatever the logs say.
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.CRITICAL, env=quiet_threads,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def execute(
    specs: list[RunSpec],
    bases: dict[str, dict[str, Any]],
    store: ExperimentStore,
    sizes: tuple[int | None, int | None],
    client: Any,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Run on ``client`` the specs the store does not hold yet, recording each as it finishes.

    :class:`ClusterError` if the cluster has no worker left (the runs recorded so far stay: run it again).
    """
    finished = store.done()
    todo = [spec for spec in specs if spec.run_id not in finished]
    total, done = len(specs), len(specs) - len(todo)
    if on_progress is not None:
        on_progress(done, total)
    if not todo:
        return
    agents, days = sizes
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    queue = iter(todo)
    submitted: dict[Any, RunSpec] = {}

    def submit_next() -> None:
        spec = next(queue, None)
        if spec is not None:
            future = client.submit(run_one, bases[spec.scenario], spec, agents, days, pure=False)
            submitted[future] = spec

    for _ in range(workers * IN_FLIGHT_PER_WORKER):
        submit_next()
    while submitted:
        for future in finished_runs(client, list(submitted)):
            spec, outcome = submitted.pop(future), _outcome(future)
            future.release()
            store.record(_row(spec, outcome), outcome["metrics"], outcome["groups"])
            done += 1
            if on_progress is not None:
                on_progress(done, total)
            submit_next()


def finished_runs(client: Any, futures: list[Any]) -> list[Any]:
    """Those of ``futures`` that are finished (cancelled ones too), once one is.

    :class:`ClusterError` if no run finishes for :data:`WORKERLESS_SECONDS` and then no worker
    joins for as long again.
    """
    from distributed import wait
    from distributed.client import FuturesCancelledError

    while True:
        try:
            with client.as_current():
                return list(wait(futures, timeout=WORKERLESS_SECONDS, return_when="FIRST_COMPLETED").done)
        except FuturesCancelledError:  # recorded as failed runs by _outcome
            return [future for future in futures if future.status != "pending"]
        except TimeoutError:
            pass
        try:
            client.wait_for_workers(1, timeout=WORKERLESS_SECONDS)
        except TimeoutError:
            raise ClusterError(
                f"the Dask cluster has had no worker for {WORKERLESS_SECONDS:g} s, so no run can finish: start "
                "workers with `dask worker ADDRESS` (--cluster), or check that `python -c 'import trustsim'` works "
                "where they run; the runs done so far are kept, so run the command again"
            ) from None


def _outcome(future: Any) -> dict[str, Any]:
    """A finished run's outcome; a worker that died, or a task that could not run there, is a failed run."""
    try:
        outcome: dict[str, Any] = future.result()
    except Exception as err:
        outcome = {"status": "failed", "error": f"{type(err).__name__}: {err}", "metrics": None, "groups": None,
                   "figures": {}, "wall_seconds": float("nan")}  # fmt: skip
    return outcome


def _row(spec: RunSpec, outcome: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": spec.run_id, "scenario": spec.scenario, "rep": spec.rep, "seed": outcome.get("seed", spec.seed),
        "status": outcome["status"], "error": outcome["error"], "wall_seconds": outcome["wall_seconds"],
    }  # fmt: skip
    row |= dict(spec.settings)
    row |= outcome["figures"]
    return row
