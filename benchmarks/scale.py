"""Scale benchmark: china_scs at growing populations, against this machine's memory bandwidth.

For each size it prints build / simulate / write seconds, agent-steps per second, peak
RSS, and the share of the memory-bandwidth limit the simulation reaches: the machine's
bandwidth is measured in the same run (a STREAM-like triad with numba) and divided by
the bytes one agent-step must move at least (every state array read and written once,
one day's scratch read and written once, the lattice word of each agent, and per CSR
slot the neighbour id and the neighbour's score; the lattice friends' scores are a window
of the score array, already counted). Each run is a fresh subprocess, so peak RSS is its
own; runs are compared side by side in one invocation since these machines are noisy.
Read medians of --repeats.

    python benchmarks/scale.py                         # 10k, 100k, 1M x 365 days; 10M x 30 days
    python benchmarks/scale.py --sizes 10000000 --big-days 365 --repeats 1
    python benchmarks/scale.py --sizes 100000 --threads 1 2   # thread speed-up
    python benchmarks/scale.py --sizes 100000 1000000 --against ../before   # this tree vs another checkout

With ``--against DIR`` (a checkout of another commit, e.g. ``git worktree add ../before
HEAD~1``), each size is run with both trees alternately, in the same sitting, and a
line ``DIR`` follows each of this tree's with the ratio of their speeds.

At the end it prints every target of issue 19 with its status: measured where this
invocation ran the size, projected from the largest size it ran where said, from the
memory estimate and the GPU memory plan (both derived from the state table) for sizes
that are not run here, and "not measured here" for what needs another machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba as nb
import numpy as np

CHILD = """
import json, sys, trustsim
result = trustsim.run("china_scs", agents=int(sys.argv[1]), days=int(sys.argv[2]), seed=1, out=sys.argv[3])
m = result.manifest
print(json.dumps(dict(m["wall_seconds"], peak_rss=m["peak_memory_bytes"], threads=m["threads"],
                      source=trustsim.__file__)))
"""


@nb.njit(parallel=True)
def _triad(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    for i in nb.prange(a.shape[0]):
        a[i] = b[i] + 0.5 * c[i]


def memory_bandwidth(n_bytes: int = 3 * 2**29, repeats: int = 5) -> float:
    """Best of ``repeats`` STREAM triads (two reads, one write), in bytes per second."""
    n = n_bytes // 24
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    _triad(a, b, c)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _triad(a, b, c)
        best = min(best, time.perf_counter() - start)
    return 3 * 8 * n / best


STATIC = ("region", "income_decile", "traits", "frailty")
"""Attributes fixed at initialisation: read every day, never written."""
SPARSE_SCRATCH = ("landed_points", "landed_wrongful")
"""Day arrays touched only for the few agents a misattribution or a chilling friend reaches."""


def bytes_per_agent_step() -> float:
    """Least bytes one agent-day moves in the CPU engine's layout.

    Static attributes read once; every other state array read and written once; the
    day's per-agent scratch written and read once; the lattice word (its friends' scores are a
    window of the score array, read once already); per CSR slot the neighbour id (its sign
    bit the cut flag) and the neighbour's score.
    """
    from trustsim.engine import Simulation
    from trustsim.scenario import load_scenario

    n = 10_000
    sim = Simulation(load_scenario("china_scs", agents=n, days=1, seed=1))
    arrays = sim.world.population.arrays()
    static = sum(arrays[name].nbytes for name in STATIC) / n
    state = sum(a.nbytes for name, a in arrays.items() if name not in STATIC) / n
    day = sim.today
    scratch = sum(
        value.nbytes for name, value in (*day.outcomes._asdict().items(), ("score_next", day.score_next))
        if name not in SPARSE_SCRATCH
    ) / n  # fmt: skip
    network = sim.world.network
    slots = network.neighbours.shape[0] / n
    return static + 2 * state + 2 * scratch + network.ring.nbytes / n + slots * (4 + 4)


def measure(agents: int, days: int, threads: int, source: str | None = None) -> dict[str, float]:
    """One full run (build, simulate, write) in a subprocess with ``threads`` numba threads.

    ``source``: another checkout of trustsim, whose ``src/`` the run imports instead of this one's.
    """
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    if source is not None:
        env["PYTHONPATH"] = os.path.join(source, "src")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(agents), str(days), f"{tmp}/run"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if source is not None and not result.pop("source").startswith(os.path.abspath(source)):
        raise SystemExit(f"--against {source}: the run imported another trustsim; give a checkout with src/trustsim")
    result.pop("source", None)
    return result


def main() -> None:
    """Measure bandwidth, then every size and thread count; print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--big-days", type=int, default=30, help="days simulated for sizes of 10M agents and more (projected to --days)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[nb.config.NUMBA_NUM_THREADS],
        help="numba thread counts to run with (the engine uses fewer below 40,000 agents per thread; "
        "the thr column shows what it used)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", help="another checkout of trustsim, run alternately with this one (ratios)")
    args = parser.parse_args()
    trees: list[str | None] = [None] if args.against is None else [None, os.path.abspath(args.against)]
    for tree in trees:
        measure(2000, 3, 1, tree)  # fill numba's on-disk cache so that no measured run compiles
    bandwidth = memory_bandwidth()
    per_step = bytes_per_agent_step()
    limit = bandwidth / per_step
    print(f"china_scs x {args.days} days, median of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"memory bandwidth (triad) {bandwidth / 1e9:.1f} GB/s; >= {per_step:.0f} bytes per agent-step "
        f"-> limit {limit:,.0f} agent-steps/s"
    )
    print(
        f"{'agents':>11} {'days':>4} {'thr':>3} {'build s':>8} {'sim s':>8} {'write s':>8} "
        f"{f'sim s/{args.days}d':>11} {'agent-steps/s':>14} {'of limit':>9} {'peak RSS MiB':>12} {'vs first':>8}"
    )
    measured: dict[int, dict[str, float]] = {}
    for agents in args.sizes:
        days = args.big_days if agents >= 10_000_000 else args.days
        first = None
        for threads in args.threads:
            # Alternate the trees run by run, so that a noisy spell of the machine hits both.
            runs: dict[str | None, list[dict[str, float]]] = {tree: [] for tree in trees}
            for _ in range(args.repeats):
                for tree in trees:
                    runs[tree].append(measure(agents, days, threads, tree))
            for tree in trees:
                med = {key: statistics.median(r[key] for r in runs[tree])
                       for key in ("build", "simulate", "write", "peak_rss")}  # fmt: skip
                rate = agents * days / med["simulate"]
                if tree is None and agents not in measured:
                    measured[agents] = med | {"rate": rate, "days": days}
                first = first or rate
                label = "" if tree is None else f"  {args.against}"
                print(
                    f"{agents:>11,} {days:>4} {runs[tree][0]['threads']:>3} {med['build']:>8.2f} "
                    f"{med['simulate']:>8.2f} {med['write']:>8.2f} {agents * args.days / rate:>11.1f} {rate:>14,.0f} "
                    f"{100 * rate / limit:>8.1f}% {med['peak_rss'] / 2**20:>12,.0f} {rate / first:>7.2f}x{label}"
                )

    print_targets(measured, args.days)


GIB = 2**30
TARGETS_SECONDS = {1_000_000: 10.0, 10_000_000: 120.0, 100_000_000: 1800.0}
"""Issue 19's simulate-time targets per size, for 365 days (100M: the whole process)."""


def print_targets(measured: dict[int, dict[str, float]], days: int) -> None:
    """Every target of issue 19, its value here and whether it is met."""
    from trustsim.gpu.plan import memory_plan
    from trustsim.memory import estimate, expected_csr_edges
    from trustsim.scenario import load_scenario

    scenario = load_scenario("china_scs")
    rows: list[tuple[str, str, str, bool | None]] = []

    def year(agents: int) -> tuple[float | None, str]:
        if agents in measured:
            run = measured[agents]
            return agents * days / run["rate"], "measured" if run["days"] == days else f"from {run['days']} days"
        if measured:
            largest = max(measured)
            return agents * days / measured[largest]["rate"], f"projected from {largest:,}"
        return None, "not run"

    for agents, limit in TARGETS_SECONDS.items():
        seconds, how = year(agents)
        label = f"{agents:,} x {days} simulate s ({how})" + (" (target: whole process)" if agents >= 10**8 else "")
        rows.append((label, "-" if seconds is None else f"{seconds:,.1f}", f"<= {limit:,.0f}",
                     None if seconds is None else seconds <= limit))  # fmt: skip
    if 1_000_000 in measured:
        run = measured[1_000_000]
        whole = run["build"] + run["simulate"] * days / run["days"] + run["write"]
        rows.append((f"1,000,000 x {days} whole process s", f"{whole:.1f}", "<= 16", whole <= 16))
    for agents, limit in ((10_000_000, 2), (100_000_000, 16)):
        if agents in measured:
            peak = measured[agents]["peak_rss"] / GIB
            rows.append((f"{agents:,} peak memory GiB (measured)", f"{peak:.2f}", f"<= {limit}", peak <= limit))
    for agents, limit in ((10_000_000, 2), (100_000_000, 16)):
        needed = estimate(scenario, agents, days).total / GIB
        rows.append((f"{agents:,} peak memory GiB (estimate)", f"{needed:.1f}", f"<= {limit}", needed <= limit))
    per_agent = estimate(scenario, 1_000_000, days)
    total = (per_agent.population + per_agent.network + per_agent.scratch) / per_agent.agents
    rows.append((f"bytes an agent (state {per_agent.population / per_agent.agents:.0f}, network "
                 f"{per_agent.network / per_agent.agents:.0f}, scratch {per_agent.scratch / per_agent.agents:.0f})",
                 f"{total:.0f}", "<= 100", total <= 100))  # fmt: skip
    for agents, card, limit in ((1_410_000_000, "H200", 130), (100_000_000, "H100", 78)):
        sized = load_scenario("china_scs", agents=agents)
        plan = memory_plan(sized, expected_csr_edges(sized, agents), limit * GIB, card)
        rows.append((f"GPU plan {agents:,} agents on one {card} GiB", f"{plan.total / GIB:.1f}", f"<= {limit}",
                     plan.total <= limit * GIB))  # fmt: skip
    rows.append(("GPU 1.41 B x 365 s, 100 M x 365 s (benchmarks/gpu.py)", "-", "<= 300, <= 30", None))
    rows.append(("vs the Mesa peer (benchmarks/peers/compare.py)", "-", ">= 1000x", None))
    print("\ntargets of issue 19")
    width = max(len(row[0]) for row in rows)
    for label, value, target, met in rows:
        status = "not measured here" if met is None else ("met" if met else "NOT met")
        print(f"{label:<{width}} {value:>9} {target:>14}  {status}")


if __name__ == "__main__":
    main()
