"""Speed of the CPU engine on the reference scenario: agent-steps per second and peak memory.

Each measurement runs in a fresh subprocess (so peak RSS is that run's own) after a
warm-up that fills numba's on-disk cache. Sizes and thread counts are compared side
by side in one invocation, since these machines are noisy; repeat with --repeats and
read the medians.

    python benchmarks/speed.py                      # 10k and 100k agents x 365 days, 1 and 2 threads
    python benchmarks/speed.py --sizes 1000000 --days 365 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time, numba
import trustsim
from trustsim.api import peak_memory_bytes
from trustsim.engine import Simulation
from trustsim.store import agent_table
agents, days = int(sys.argv[1]), int(sys.argv[2])
s = trustsim.load_scenario("china_scs", agents=agents, days=days, seed=1)
t0 = time.perf_counter(); sim = Simulation(s); t1 = time.perf_counter()
sim.run(); t2 = time.perf_counter()
agent_table(sim.world.population, s, sim.world.active_degree()); t3 = time.perf_counter()
print(json.dumps({"build": t1 - t0, "simulate": t2 - t1, "tables": t3 - t2, "threads": numba.get_num_threads(),
                  "peak_rss": peak_memory_bytes()}))
"""


def measure(agents: int, days: int, threads: int) -> dict[str, float]:
    """One run in a subprocess with ``threads`` numba threads."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, "-c", CHILD, str(agents), str(days)], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, warm the cache, measure and print one line per configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    measure(2000, 3, 1)  # compile once into numba's cache
    print(f"china_scs, {args.days} days, median of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'agents':>11} {'threads':>7} {'build s':>8} {'sim s':>8} {'tables s':>8} "
          f"{'agent-steps/s':>14} {'peak RSS MiB':>12} {'speed-up':>8}")  # fmt: skip
    for agents in args.sizes:
        base = None
        for threads in args.threads:
            runs = [measure(agents, args.days, threads) for _ in range(args.repeats)]
            med = {key: statistics.median(r[key] for r in runs) for key in ("build", "simulate", "tables", "peak_rss")}
            rate = agents * args.days / med["simulate"]
            base = base or rate
            print(f"{agents:>11,} {threads:>7} {med['build']:>8.2f} {med['simulate']:>8.2f} {med['tables']:>8.2f} "
                  f"{rate:>14,.0f} {med['peak_rss'] / 2**20:>12,.0f} {rate / base:>7.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
