"""trustsim against an idiomatic Mesa model of the same scenario: agreement first, then speed.

Runs the reference scenario (default ``china_scs``, 10,000 agents x 100 days) with
trustsim for several seeds and with the Mesa peer model (``mesa_china_scs.py``) for a
few seeds. The two use different random number generators, so they can only agree
statistically: each Mesa value of a headline metric, on a mid-run day and on the last
day, must lie within ``mean ± max(4·sd, floor)`` of trustsim's seed distribution.
Only when every headline check passes are the timings reported as a speed ratio;
otherwise the script exits 1.

    python benchmarks/peers/compare.py
    python benchmarks/peers/compare.py --agents 2000 --days 50 --trustsim-seeds 10 --mesa-seeds 2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import numba
import pandas as pd
from mesa_china_scs import run_mesa

from trustsim.engine import Simulation
from trustsim.scenario import Scenario, load_scenario

EVENT_PREFIXES = ("denials_", "committed_", "observed_", "misattributed_", "caught_", "penalised_", "blacklist_")
"""Columns that count events of one day; they are compared as running totals up to the checked day."""

STATE_HEADLINE = ("score_mean", "blacklisted", "wrongly_sanctioned", "ever_wrongly_sanctioned", "ever_sanctioned")
DIAGNOSTIC_STATE = ("off_grid", "advised", "emigrated", "active_edges")

SCORE_FLOOR = 0.25
"""Absolute tolerance floor for mean scores (points)."""
COUNT_FLOOR = 3.0
"""Absolute tolerance floor for counts (agents, instances, edges)."""
WIDTH = 4.0
"""Tolerance in trustsim seed standard deviations."""


@dataclass
class Check:
    """One metric on one day: trustsim's seed distribution, its band, and the Mesa values in it or not."""

    metric: str
    day: int
    headline: bool
    reference: list[float]
    peer: list[float]

    @property
    def mean(self) -> float:
        """Mean over trustsim seeds."""
        return statistics.fmean(self.reference)

    @property
    def sd(self) -> float:
        """Sample standard deviation over trustsim seeds."""
        return statistics.stdev(self.reference) if len(self.reference) > 1 else 0.0

    @property
    def tolerance(self) -> float:
        """Half-width of the band: ``max(WIDTH·sd, floor)``."""
        floor = SCORE_FLOOR if self.metric.startswith("score") else COUNT_FLOOR
        return max(WIDTH * self.sd, floor)

    @property
    def passed(self) -> bool:
        """Whether every Mesa value lies within the band."""
        return all(abs(value - self.mean) <= self.tolerance for value in self.peer)


def timed_runs(
    run: Callable[[Scenario], pd.DataFrame], name: str, agents: int, days: int, seeds: list[int]
) -> tuple[list[pd.DataFrame], list[float]]:
    """Run ``run`` (build + simulate) once per seed; the metrics frames and wall seconds of each."""
    frames, walls = [], []
    print("  wall s by seed:", end="", flush=True)
    for seed in seeds:
        scenario = load_scenario(name, agents=agents, days=days, seed=seed)
        started = time.perf_counter()
        frames.append(run(scenario))
        walls.append(time.perf_counter() - started)
        print(f" {walls[-1]:.2f}", end="", flush=True)
    print()
    return frames, walls


def run_trustsim(scenario: Scenario) -> pd.DataFrame:
    """Build and run trustsim's engine in memory; its daily metrics."""
    return Simulation(scenario).run()


def value_on(frame: pd.DataFrame, column: str, day: int) -> float:
    """A state metric on ``day``, or an event metric's running total through ``day``."""
    if column.startswith(EVENT_PREFIXES):
        return float(frame[column].iloc[: day + 1].sum())
    return float(frame[column].iloc[day])


def build_checks(reference: list[pd.DataFrame], peer: list[pd.DataFrame], days_checked: list[int]) -> list[Check]:
    """Headline checks (score, list, sanctions) and diagnostic checks (every mechanism's counts)."""
    columns = set(reference[0].columns) & set(peer[0].columns)
    headline = [*STATE_HEADLINE, *sorted(c for c in columns if c.startswith("denials_"))]
    diagnostic = [c for c in peer[0].columns if c in columns and c.startswith(EVENT_PREFIXES[1:])]
    diagnostic += [c for c in DIAGNOSTIC_STATE if c in columns]
    checks = []
    for metrics, is_headline in ((headline, True), (diagnostic, False)):
        for metric in metrics:
            for day in days_checked:
                checks.append(
                    Check(
                        metric=metric,
                        day=day,
                        headline=is_headline,
                        reference=[value_on(f, metric, day) for f in reference],
                        peer=[value_on(f, metric, day) for f in peer],
                    )
                )
    return checks


def label(check: Check) -> str:
    """The metric's name, with Σ for a running total of an event count."""
    return ("Σ " if check.metric.startswith(EVENT_PREFIXES) else "") + check.metric


def print_table(title: str, checks: list[Check], verdicts: tuple[str, str]) -> None:
    """One row per check: trustsim mean ± sd, the band's half-width, Mesa's values and the verdict."""
    print(f"\n{title}")
    header = f"{'metric':<34} {'day':>4} {'trustsim mean':>14} {'sd':>9} {'± tol':>9}  {'mesa values':<28} result"
    print(header)
    print("-" * len(header))
    for c in checks:
        peer = ", ".join(f"{v:.2f}" if c.metric.startswith("score") else f"{v:.0f}" for v in c.peer)
        verdict = verdicts[0] if c.passed else verdicts[1]
        print(f"{label(c):<34} {c.day:>4} {c.mean:>14.2f} {c.sd:>9.2f} {c.tolerance:>9.2f}  {peer:<28} {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Run both models, check agreement, print timings; 0 when every headline check passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="china_scs", help="scenario name or file (default china_scs)")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--trustsim-seeds", type=int, default=30, help="trustsim runs, seeds 1..n (default 30)")
    parser.add_argument("--mesa-seeds", type=int, default=3, help="Mesa runs, seeds 1..n (default 3)")
    parser.add_argument("--mid-day", type=int, default=None, help="the mid-run day checked (default days/2)")
    parser.add_argument("--strict", action="store_true", help="fail on diagnostic checks too")
    parser.add_argument("--threads", type=int, default=None, help="numba threads for trustsim (default: numba's)")
    args = parser.parse_args(argv)
    if args.trustsim_seeds < 2 or args.mesa_seeds < 1:
        parser.error("need at least 2 trustsim seeds (for a spread) and 1 Mesa seed")
    last = args.days - 1
    mid = min(args.mid_day if args.mid_day is not None else args.days // 2, last)
    days_checked = sorted({mid, last})
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    load_before = os.getloadavg()

    print(f"scenario {args.scenario}: {args.agents:,} agents x {args.days} days")
    print(
        f"python {platform.python_version()}, trustsim {version('trustsim')} "
        f"(numba {numba.__version__}), mesa {version('mesa')}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"load average at start (1/5/15 min): {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")

    print("\ntrustsim warm-up (loads numba's compiled kernels; not timed)", flush=True)
    run_trustsim(load_scenario(args.scenario, agents=min(args.agents, 1000), days=min(args.days, 5), seed=1))
    print(
        f"numba threading layer {numba.threading_layer()}, {numba.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )
    print(f"trustsim, {args.trustsim_seeds} seeds", flush=True)
    ref_frames, ref_walls = timed_runs(
        run_trustsim, args.scenario, args.agents, args.days, list(range(1, args.trustsim_seeds + 1))
    )
    print(f"Mesa, {args.mesa_seeds} seeds", flush=True)
    peer_frames, peer_walls = timed_runs(
        run_mesa, args.scenario, args.agents, args.days, list(range(1, args.mesa_seeds + 1))
    )

    checks = build_checks(ref_frames, peer_frames, days_checked)
    headline = [c for c in checks if c.headline]
    diagnostic = [c for c in checks if not c.headline]
    print(
        f"\nAgreement: each Mesa value must lie within trustsim mean ± max({WIDTH:g}·sd, floor) "
        f"(floor {SCORE_FLOOR} points for scores, {COUNT_FLOOR:g} for counts; Σ = running total of a daily count)"
    )
    print_table("Headline metrics (gate the speed report)", headline, ("PASS", "FAIL"))
    print_table(
        "Diagnostics: every mechanism's counts" + (" (gating: --strict)" if args.strict else " (not gating)"),
        diagnostic,
        ("ok", "FAIL" if args.strict else "outside"),
    )
    gating = checks if args.strict else headline
    failed = [c for c in gating if not c.passed]
    outside = sum(not c.passed for c in diagnostic)
    print(
        f"\nheadline: {sum(c.passed for c in headline)}/{len(headline)} pass; "
        f"diagnostics: {len(diagnostic) - outside}/{len(diagnostic)} within band"
    )

    load_after = os.getloadavg()
    print(f"load average at end (1/5/15 min): {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if failed:
        print(f"\nFAIL: {len(failed)} check(s) outside the band; no speed ratio is reported.")
        for c in failed:
            print(f"  {label(c)} day {c.day}: trustsim {c.mean:.2f} ± {c.tolerance:.2f}, mesa {c.peer}")
        return 1

    steps = args.agents * args.days
    ref_wall = statistics.median(ref_walls)
    peer_wall = statistics.median(peer_walls)
    print(f"\nPASS: the models agree. Speed at {args.agents:,} agents x {args.days} days (build + simulate):")
    for name, wall, walls in (("trustsim", ref_wall, ref_walls), ("Mesa", peer_wall, peer_walls)):
        print(
            f"  {name:<9} median {wall:8.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, {len(walls)} runs)"
            f"  {steps / wall:>12,.0f} agent-steps/s"
        )
    print(f"  speed ratio (median Mesa wall / median trustsim wall): {peer_wall / ref_wall:.1f}x")
    if max(ref_walls) > 3 * min(ref_walls):
        print(
            f"  note: trustsim's run times spread {min(ref_walls):.2f}-{max(ref_walls):.2f} s: other processes are "
            "competing for the cores; with numba's OpenMP layer try OMP_WAIT_POLICY=PASSIVE or --threads 1 "
            f"(best-case ratio here: {peer_wall / min(ref_walls):.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
