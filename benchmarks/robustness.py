"""What robustness costs: checkpoints, resuming, --check, and how close the memory estimate comes.

Each configuration runs in a fresh subprocess (its own peak RSS), side by side in one
invocation, with ratios to the plain run, since these machines are noisy.

    python benchmarks/robustness.py                    # 1M agents x 60 days
    python benchmarks/robustness.py --agents 100000 --days 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from pathlib import Path
import trustsim
from trustsim.api import peak_memory_bytes
from trustsim.engine import Simulation
from trustsim.memory import estimate
from trustsim.scenario import load_scenario
from trustsim.store import checkpoints, read_checkpoint

agents, days, out, mode = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
baseline = peak_memory_bytes()
options = {"plain": {}, "check": {"check": True}}.get(mode, {})
if mode.startswith("every"):
    options = {"checkpoint_every": int(mode[5:])}
result = trustsim.run("china_scs", agents=agents, days=days, seed=1, out=out, **options)
m = result.manifest
row = dict(m["wall_seconds"], peak=m["peak_memory_bytes"] - baseline)
row["estimate"] = estimate(load_scenario("china_scs", agents=agents, days=days)).total
saved = checkpoints(out)
if saved:
    row["checkpoint_bytes"] = saved[-1].stat().st_size
    started = time.perf_counter()
    state = read_checkpoint(saved[-1])
    Simulation(load_scenario("china_scs", agents=agents, days=days, seed=1), start=state)
    row["restore"] = time.perf_counter() - started
print(json.dumps(row))
"""


def child(agents: int, days: int, mode: str) -> dict[str, float]:
    """Run one configuration in a fresh process and return its measurements."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(agents), str(days), str(Path(scratch) / "run"), mode],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    n, t = args.agents, args.days
    modes = ["plain", "every30", "every10", "check"]
    rows = {mode: child(n, t, mode) for mode in modes}
    plain = rows["plain"]
    print(f"china_scs, {n:,} agents x {t} days, one fresh process each")
    print(f"{'configuration':<24}{'build s':>9}{'sim s':>8}{'write s':>9}{'agent-steps/s':>15}{'vs plain':>10}"
          f"{'peak MiB':>10}{'estimate MiB':>14}{'est/peak':>10}")  # fmt: skip
    for mode, row in rows.items():
        label = {"plain": "plain run", "check": "--check", "every30": "--checkpoint-every 30",
                 "every10": "--checkpoint-every 10"}[mode]  # fmt: skip
        sim = row["simulate"]
        print(
            f"{label:<24}{row['build']:>9.2f}{sim:>8.2f}{row['write']:>9.2f}{n * t / sim:>15,.0f}"
            f"{sim / plain['simulate']:>9.2f}x{row['peak'] / 2**20:>10,.0f}{row['estimate'] / 2**20:>14,.0f}"
            f"{row['estimate'] / row['peak']:>10.2f}"
        )
    saved = rows["every10"]
    print(
        f"checkpoint: {saved['checkpoint_bytes'] / 2**20:,.0f} MiB ({saved['checkpoint_bytes'] / n:.0f} B/agent); "
        f"restoring a Simulation from it {saved['restore']:.2f} s vs building afresh {plain['build']:.2f} s"
    )


if __name__ == "__main__":
    main()
