"""What seeing costs: the trace kept for the report's story, the report itself, and a dashboard redraw.

Each simulation runs in a fresh subprocess (its own peak RSS), side by side in one
invocation, with ratios to the untraced run, since these machines are noisy.

    python benchmarks/report.py                      # 1M agents x 120 days
    python benchmarks/report.py --agents 100000 --days 365
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from trustsim.api import peak_memory_bytes
from trustsim.engine import Simulation
from trustsim.scenario import load_scenario

agents, days, traced = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
baseline = peak_memory_bytes()
simulation = Simulation(load_scenario("china_scs", agents=agents, days=days, seed=1), traced=traced)
started = time.perf_counter()
simulation.run()
seconds = time.perf_counter() - started
print(json.dumps({"simulate": seconds, "peak": peak_memory_bytes() - baseline}))
"""


def simulate(agents: int, days: int, traced: int) -> dict[str, float]:
    """Step a simulation in a fresh process; its stepping seconds and peak memory."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(agents), str(days), str(traced)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def record_cost(agents: int) -> tuple[float, int]:
    """Milliseconds one day's :meth:`Trace.record` takes (mean of 200), and the panel size."""
    from trustsim.engine import Simulation
    from trustsim.scenario import load_scenario

    simulation = Simulation(load_scenario("china_scs", agents=agents, days=3, seed=1))
    simulation.step()
    started = time.perf_counter()
    for _ in range(200):
        simulation.trace.record(simulation.world, simulation.today)
    return 1000 * (time.perf_counter() - started) / 200, int(simulation.trace.agents.size)


def report_costs(agents: int, days: int) -> dict[str, float]:
    """Write a run, then time its report and the figures a dashboard redraw builds."""
    import pandas as pd

    import trustsim
    from trustsim.report import write_report
    from trustsim.report.figures import RUN_FIGURES

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        result = trustsim.run("china_scs", agents=agents, days=days, seed=1, out=out)
        started = time.perf_counter()
        page = write_report(out)
        built = time.perf_counter() - started
        metrics, scenario = pd.read_parquet(out / "metrics.parquet"), result.manifest["scenario"]
        live = ("score_distribution", "blacklist", "wrongful", "chilling", "isolation")
        started = time.perf_counter()
        for _ in range(5):
            for name in live:
                RUN_FIGURES[name](metrics, scenario).to_plotly_json()
        redraw = (time.perf_counter() - started) / 5
        return {
            "report": built, "report_bytes": page.stat().st_size, "write": result.manifest["wall_seconds"]["write"],
            "trace_bytes": (out / "trace.parquet").stat().st_size, "redraw": redraw,
        }  # fmt: skip


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the fastest is shown")
    args = parser.parse_args()
    n, t = args.agents, args.days
    panels = {"untraced (traced=0)": 0, "traced (1,024 agents, default)": 1024}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in panels}
    for _ in range(args.repeats):  # alternating, so that a slow spell of the machine hits both
        for label, traced in panels.items():
            runs[label].append(simulate(n, t, traced))
    rows = {label: min(found, key=lambda row: row["simulate"]) for label, found in runs.items()}
    plain = rows["untraced (traced=0)"]
    print(f"china_scs, {n:,} agents x {t} days, one fresh process each, fastest of {args.repeats}")
    print(f"{'configuration':<32}{'sim s':>8}{'agent-steps/s':>15}{'vs untraced':>13}{'peak MiB':>10}")
    for label, row in rows.items():
        sim = row["simulate"]
        print(f"{label:<32}{sim:>8.2f}{n * t / sim:>15,.0f}{sim / plain['simulate']:>12.3f}x"
              f"{row['peak'] / 2**20:>10,.0f}")  # fmt: skip
    record_ms, panel = record_cost(n)
    day_ms = 1000 * plain["simulate"] / t
    print(f"Trace.record alone: {record_ms:.2f} ms a day for {panel:,} agents, "
          f"{100 * record_ms / day_ms:.2f}% of an untraced day ({day_ms:.0f} ms)")
    costs = report_costs(n, t)
    print(
        f"run written in {costs['write']:.2f} s (trace.parquet {costs['trace_bytes'] / 2**20:.1f} MiB); "
        f"report.html built in {costs['report']:.2f} s ({costs['report_bytes'] / 2**20:.1f} MiB); "
        f"a dashboard redraw (5 figures of {t} days) {1000 * costs['redraw']:.0f} ms"
    )


if __name__ == "__main__":
    main()
