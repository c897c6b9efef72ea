"""The GPU backend at country scale: seconds per day, agent-steps per second, GPU memory, bandwidth share.

For each population it prints the memory plan, then (when the plan fits the card)
builds the society on the host, copies it to the GPU and times the days:

* **s/day** and **agent-steps/s**: wall time of ``Simulation.step`` (kernels plus the
  metrics row), after one warm-up day that compiles the kernels;
* **GPU GiB**: the card's memory in use after the run (``total - free``);
* **bandwidth share**: the day's minimal memory traffic, divided by the card's copy
  bandwidth *measured in the same run* (a device-to-device copy of 4 GiB), as a
  fraction of the measured day. The minimal traffic is every per-agent array read
  and written once and every CSR slot read twice (phase C's gather of friends'
  scores, phase E's count of touched friends): ``2·(bytes per agent)·N + 2·(bytes
  per edge)·E``. 100% would mean the day moved no byte more than it must.

A CPU run of the first population (same scenario, same seed, all cores) is timed in
the same invocation for the ratio. Run it on the GPU machine:

    python benchmarks/gpu.py                                   # 10M, 100M, 1.41B agents
    python benchmarks/gpu.py --agents 10000000 --days 10 --cpu-days 3
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu.py --agents 2000 --days 2 --cpu-days 2   # a dry run
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from numba import cuda

from trustsim.engine import Simulation
from trustsim.gpu import require_gpu
from trustsim.gpu.common import SIMULATED
from trustsim.gpu.plan import bytes_per_agent, bytes_per_edge, memory_plan
from trustsim.memory import MemoryBudgetError, expected_csr_edges
from trustsim.scenario import load_scenario


def copy_bandwidth(gib: float = 4.0) -> float:
    """Device-to-device copy bandwidth in bytes per second (read plus write), best of 5."""
    if SIMULATED:
        return float("nan")
    n = int(gib * 2**30 / 8 / 2)
    source = cuda.device_array(n, dtype=np.float64)
    target = cuda.device_array(n, dtype=np.float64)
    best = float("inf")
    for _ in range(5):
        cuda.synchronize()
        started = time.perf_counter()
        target.copy_to_device(source)
        cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    del source, target
    return 2 * n * 8 / best


def gpu_memory_used() -> float:
    """GiB in use on the card."""
    if SIMULATED:
        return float("nan")
    free, total = cuda.current_context().get_memory_info()
    return (total - free) / 2**30


def time_days(agents: int, days: int, backend: str) -> tuple[float, float, int]:
    """Seconds per day (after a warm-up day), build seconds and edges of a run."""
    scenario = load_scenario("china_scs", agents=agents, days=days + 1, seed=1)
    started = time.perf_counter()
    simulation = Simulation(scenario, traced=0, backend=backend)
    built = time.perf_counter() - started
    simulation.step()  # compiles the kernels
    if backend == "gpu":
        cuda.synchronize()
    started = time.perf_counter()
    while not simulation.finished:
        simulation.step()
    if backend == "gpu":
        cuda.synchronize()
    per_day = (time.perf_counter() - started) / days
    edges = simulation.memory_plan.edges if simulation.memory_plan is not None else 0
    return per_day, built, edges


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[10_000_000, 100_000_000, 1_410_000_000])
    parser.add_argument("--days", type=int, default=10, help="timed days per population (after a warm-up day)")
    parser.add_argument("--cpu-days", type=int, default=3, help="timed days of the CPU run (0: none)")
    args = parser.parse_args()
    name, free = require_gpu()
    bandwidth = copy_bandwidth()
    print(f"device: {name}; {free / 2**30:.1f} GiB free; measured copy bandwidth {bandwidth / 1e9:,.0f} GB/s")
    print(f"china_scs, seed 1, {args.days} timed days after a warm-up day; numba {numba.__version__}")
    print(f"{'agents':>15} {'plan GiB':>9} {'build s':>8} {'s/day':>8} {'agent-steps/s':>15} {'GPU GiB':>8} "
          f"{'bw share':>9} {'365 days':>9}")  # fmt: skip
    first_per_day = None
    for agents in args.agents:
        scenario = load_scenario("china_scs", agents=agents, days=args.days + 1, seed=1)
        plan = memory_plan(scenario, expected_csr_edges(scenario, agents), free, name)
        if not plan.fits:
            print(f"{agents:>15,} {plan.total / 2**30:>9.1f}  does not fit ({free / 2**30:.1f} GiB free): not run")
            continue
        try:
            per_day, built, edges = time_days(agents, args.days, "gpu")
        except MemoryBudgetError as err:
            print(f"{agents:>15,} {plan.total / 2**30:>9.1f}  host memory: {err}")
            continue
        traffic = 2 * bytes_per_agent(scenario) * agents + 2 * bytes_per_edge() * edges
        share = traffic / bandwidth / per_day
        first_per_day = first_per_day or (agents, per_day)
        print(f"{agents:>15,} {plan.total / 2**30:>9.1f} {built:>8.1f} {per_day:>8.3f} {agents / per_day:>15,.0f} "
              f"{gpu_memory_used():>8.1f} {share:>9.1%} {per_day * 365:>8.0f}s")  # fmt: skip
    if args.cpu_days and first_per_day is not None:
        agents, gpu_day = first_per_day
        cpu_day, _, _ = time_days(agents, args.cpu_days, "cpu")
        print(f"CPU ({numba.get_num_threads()} threads), {agents:,} agents: {cpu_day:.3f} s/day, "
              f"{agents / cpu_day:,.0f} agent-steps/s; GPU/CPU speed-up {cpu_day / gpu_day:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
