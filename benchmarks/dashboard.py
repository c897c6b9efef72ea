"""What the live dashboard costs a run: the background worker with throttled redraws against the bare engine.

Side by side in one invocation (alternating, fastest of ``--repeats``), since these
machines are noisy: the same scenario stepped by :class:`trustsim.Simulation` alone,
and by :class:`trustsim.dashboard.live.LiveRun` whose update callback builds the
dashboard's five live figures and serialises them as the page would receive them.

    python benchmarks/dashboard.py                    # 100,000 agents x 60 days
"""

from __future__ import annotations

import argparse
import json
import time

from plotly.utils import PlotlyJSONEncoder

from trustsim.api import peak_memory_bytes
from trustsim.dashboard.app import chart_figures
from trustsim.dashboard.live import LiveRun, Snapshot, Status, ui_threads
from trustsim.engine import Simulation
from trustsim.scenario import Scenario, load_scenario


def bare(scenario: Scenario) -> float:
    """Seconds to build and run the scenario with the dashboard's thread count and no display."""
    started = time.perf_counter()
    Simulation(scenario, threads=ui_threads(scenario), traced=0).run()
    return time.perf_counter() - started


def live(scenario: Scenario) -> tuple[float, int, float]:
    """Seconds to the last day under the dashboard's worker, the redraws made and their mean seconds."""
    redraws: list[float] = []

    def display(snapshot: Snapshot) -> None:
        started = time.perf_counter()
        for _, figure in chart_figures(snapshot):
            json.dumps(figure.to_plotly_json() if not isinstance(figure, str) else figure, cls=PlotlyJSONEncoder)
        redraws.append(time.perf_counter() - started)

    run = LiveRun(scenario, on_update=display)
    started = time.perf_counter()
    run.start()
    while run.snapshot.status not in (Status.FINISHED, Status.FAILED):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    run.close()
    return seconds, len(redraws), sum(redraws) / max(len(redraws), 1)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    scenario = load_scenario("china_scs", agents=args.agents, days=args.days, seed=1)
    bare(load_scenario("china_scs", agents=2000, days=3))  # load the compiled kernels once
    plain, shown = [], []
    for _ in range(args.repeats):
        plain.append(bare(scenario))
        shown.append(live(scenario))
    fastest = min(plain)
    seconds, redraws, redraw = min(shown)
    steps = args.agents * args.days
    print(f"china_scs, {args.agents:,} agents x {args.days} days, {ui_threads(scenario)} thread(s), "
          f"fastest of {args.repeats}")  # fmt: skip
    print(f"{'configuration':<36}{'seconds':>9}{'agent-steps/s':>15}{'vs bare':>9}")
    print(f"{'engine alone':<36}{fastest:>9.2f}{steps / fastest:>15,.0f}{1:>8.2f}x")
    print(f"{'dashboard worker + live redraws':<36}{seconds:>9.2f}{steps / seconds:>15,.0f}{seconds / fastest:>8.2f}x")
    print(f"{redraws} redraws in {seconds:.1f} s ({redraws / seconds:.1f} per second), "
          f"{1000 * redraw:.0f} ms each (five figures built and serialised); "
          f"peak memory {peak_memory_bytes() / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
