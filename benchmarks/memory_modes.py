"""What the credit file costs: the score's two memories side by side, in one run of this script.

``uk_credit`` keeps a credit file (``score.memory = "expiry"``: each day's points stay
``memory_days`` days, then drop off). The same scenario with exponential recovery
instead (``memory = "recovery"``, a half-life that forgets a record about as fast on
average) does the same work but for the file. Each variant runs in its own process, so
that its peak memory is its own; the script prints agent-steps per second, peak
memory, the records on file at the end, and the ratios.

    python benchmarks/memory_modes.py                     # 200,000 agents, 730 days
    python benchmarks/memory_modes.py --agents 1000000 --days 365
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

VARIANTS = {"expiry (credit file)": "expiry", "recovery": "recovery"}


def measure(agents: int, days: int, memory: str) -> dict[str, float]:
    """One run in this process: wall seconds of the simulation, peak memory and records on file."""
    import resource

    from trustsim.engine import Simulation
    from trustsim.scenario import read_raw, scenario_from_raw

    raw = read_raw("uk_credit")
    if memory == "recovery":  # drop the file, forget with a half-life of memory_days · ln 2 / 2
        memory_days = raw["score"].pop("memory_days")
        raw["score"]["memory"] = "recovery"
        raw["score"]["recovery_half_life_days"] = memory_days * math.log(2) / 2
    scenario = scenario_from_raw(raw, agents=agents, days=days)
    simulation = Simulation(scenario, traced=0)
    simulation.step()  # compile and warm up outside the timing
    started = time.perf_counter()
    simulation.run()
    seconds = time.perf_counter() - started
    entries = simulation.credit_file.entries if simulation.credit_file is not None else 0
    return {
        "seconds": seconds,
        "agent_steps_per_s": agents * (days - 1) / seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "records": entries,
    }


def main() -> None:
    """Run both variants, each in a fresh process, and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.agents, args.days, args.child)))
        return
    results = {}
    for name, memory in VARIANTS.items():
        command = [sys.executable, __file__, "--agents", str(args.agents), "--days", str(args.days),
                   "--child", memory]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"uk_credit, {args.agents:,} agents × {args.days} days, each variant in its own process")
    print(f"{'memory':<22}{'agent-steps/s':>16}{'peak MiB':>10}{'records on file':>17}")
    for name, r in results.items():
        print(f"{name:<22}{r['agent_steps_per_s']:>16,.0f}{r['peak_mib']:>10,.0f}{r['records']:>17,}")
    expiry, recovery = results["expiry (credit file)"], results["recovery"]
    print(f"expiry / recovery: speed {expiry['agent_steps_per_s'] / recovery['agent_steps_per_s']:.2f}×, "
          f"peak memory {expiry['peak_mib'] / recovery['peak_mib']:.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
