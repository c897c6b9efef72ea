"""Experiment throughput: a sweep through Dask against the same runs one after another.

    python benchmarks/experiments.py                    # 200 runs of 10,000 agents x 365 days
    python benchmarks/experiments.py --runs 20 --days 100

The sweep varies ``score.contagion`` over ``--runs`` levels (one seed each). The
baseline runs exactly those runs, in this process, one after another, through the
same pure function the Dask workers call. Both are timed in this one invocation.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from trustsim.api import peak_memory_bytes
from trustsim.experiments import sweep
from trustsim.experiments.design import factorial, parse_levels, seeds
from trustsim.experiments.execution import run_one
from trustsim.scenario import read_raw


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its ended child processes (the local cluster's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    """Print both timings and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    step = 0.2 / args.runs
    setting = f"score.contagion=0:{step * (args.runs - 1):.12g}:{step:.12g}"
    key, levels = parse_levels(setting)
    assert len(levels) == args.runs, len(levels)
    specs = factorial("china_scs", [(key, levels)], seeds(1, 1))
    base = read_raw("china_scs")
    with tempfile.TemporaryDirectory() as scratch:
        before = _cpu_seconds()
        started = time.perf_counter()
        runs = sweep(
            "china_scs", [setting], agents=args.agents, days=args.days, out=Path(scratch) / "e", jobs=args.jobs
        )
        parallel = time.perf_counter() - started
        own, workers = (after - first for after, first in zip(_cpu_seconds(), before, strict=True))
    assert (runs["status"] == "done").all() and len(runs) == args.runs
    started = time.perf_counter()
    for spec in specs:
        assert run_one(base, spec, args.agents, args.days)["status"] == "done"
    serial = time.perf_counter() - started
    steps = args.runs * args.agents * args.days
    print(f"{args.runs} runs of china_scs, {args.agents:,} agents x {args.days} days each; {os.cpu_count()} cores")
    print(f"{'':<34}{'wall s':>9}{'runs/min':>10}{'agent-steps/s':>15}")
    label = "one after another (this process)"
    print(f"{label:<34}{serial:>9.1f}{args.runs / serial * 60:>10.1f}{steps / serial:>15,.0f}")
    print(f"{f'sweep, Dask LocalCluster x{args.jobs}':<34}{parallel:>9.1f}{args.runs / parallel * 60:>10.1f}"
          f"{steps / parallel:>15,.0f}")  # fmt: skip
    print(f"CPU during the sweep: this process (client, scheduler, writing) {own:.1f} s, "
          f"the worker processes {workers:.1f} s, against {args.jobs * parallel:.1f} core-seconds")  # fmt: skip
    print(f"speed-up {serial / parallel:.2f}x (includes starting and stopping the cluster); "
          f"peak memory of this process {peak_memory_bytes() / 2**20:,.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
