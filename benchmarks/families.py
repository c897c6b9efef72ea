"""Families benchmark: china_family against china_scs, side by side, per phase.

china_family is china_scs with households, dependants and ages (docs/model.md §14) and
its breakdown by group every 30 days (§15): its cost is the family in contagion and
chilling, the age factor, the children counts and the groups rows. Each run is a fresh
subprocess (its own peak RSS); the two scenarios alternate in one sitting, since these
machines are noisy. Prints, per run, seconds per phase, agent-steps per second and peak
RSS, then the median ratio china_family / china_scs of the simulate time (the target:
at most 1.3).

    python benchmarks/families.py                         # 1M agents x 365 days, 2 repeats
    python benchmarks/families.py --agents 100000 --days 90 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time
from trustsim.engine import Simulation
from trustsim.scenario import load_scenario
scenario = load_scenario(sys.argv[1], agents=int(sys.argv[2]), days=int(sys.argv[3]), seed=1)
started = time.perf_counter()
simulation = Simulation(scenario)
build = time.perf_counter() - started
seconds = {}
started = time.perf_counter()
while not simulation.finished:
    simulation.step(seconds)
simulate = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"build": build, "simulate": simulate, "peak_rss": rss,
                  "phases": {k: sum(v) for k, v in seconds.items()}}))
"""

SCENARIOS = ("china_scs", "china_family")


def run(scenario: str, agents: int, days: int) -> dict[str, float]:
    """One run in a fresh process; its timings."""
    out = subprocess.run([sys.executable, "-c", CHILD, scenario, str(agents), str(days)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both scenarios alternately and print each run and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    steps = args.agents * args.days
    print(f"{args.agents:,} agents x {args.days} days, {args.repeats} repeat(s), alternating")
    header = f"{'scenario':<14}{'build s':>9}{'simulate s':>12}{'agent-steps/s':>16}{'peak MiB':>10}   phases (s)"
    print(header)
    simulate: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for _ in range(args.repeats):
        for name in SCENARIOS:
            r = run(name, args.agents, args.days)
            simulate[name].append(r["simulate"])
            phases = " ".join(f"{k} {v:.2f}" for k, v in r["phases"].items())
            print(f"{name:<14}{r['build']:>9.2f}{r['simulate']:>12.2f}{steps / r['simulate']:>16,.0f}"
                  f"{r['peak_rss'] / 2**20:>10,.0f}   {phases}", flush=True)  # fmt: skip
    ratios = [f / s for f, s in zip(simulate["china_family"], simulate["china_scs"], strict=True)]
    print(f"china_family / china_scs simulate time: median {statistics.median(ratios):.3f} "
          f"(each pair: {', '.join(f'{r:.3f}' for r in ratios)}; target ≤ 1.3)")  # fmt: skip


if __name__ == "__main__":
    main()
