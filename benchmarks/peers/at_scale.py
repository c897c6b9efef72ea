"""trustsim against the Mesa peer at one size: the speed ratio where trustsim is meant to run.

``compare.py`` checks first that the two models agree (at 10,000 agents, where many
seeds of each are cheap) and then times them there; at that size trustsim's fixed costs
(compiled kernels loaded, a day's parallel loops started) weigh on a run of a few
hundredths of a second a day. This script times both at the size of issue 19's target,
1,000,000 agents by default, in one process each, one after the other:

* trustsim: build, then every day of the year (``--trustsim-days``, default 365), after
  an untimed small run that loads numba's cached kernels;
* Mesa: build, then ``--mesa-days`` days (default 3), each timed: a Mesa year at a
  million agents takes hours, so its year is *projected* as build + days × the mean
  day measured. The early days are the cheapest of Mesa's year (its lists, unfriending
  and sanctions grow with the blacklist), so the projection favours Mesa.

The ratio printed is of agent-steps per second over build + simulation, the measure of
``compare.py``. Run ``compare.py`` for the agreement that makes the ratio meaningful.

    python benchmarks/peers/at_scale.py
    python benchmarks/peers/at_scale.py --agents 100000 --mesa-days 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import numba
from mesa_china_scs import SocialCreditModel

from trustsim.engine import Simulation
from trustsim.scenario import load_scenario


def time_trustsim(agents: int, days: int, seed: int) -> tuple[float, float]:
    """Seconds to build and to simulate ``days`` days of ``china_scs`` with trustsim."""
    warm = Simulation(load_scenario("china_scs", agents=2_000, days=5, seed=seed))
    while not warm.finished:
        warm.step()
    started = time.perf_counter()
    simulation = Simulation(load_scenario("china_scs", agents=agents, days=days, seed=seed))
    built = time.perf_counter()
    while not simulation.finished:
        simulation.step()
    return built - started, time.perf_counter() - built


def time_mesa(agents: int, days: int, seed: int) -> tuple[float, list[float]]:
    """Seconds to build the Mesa model and to simulate each of its first ``days`` days."""
    scenario = load_scenario("china_scs", agents=agents, days=max(days, 2), seed=seed)
    started = time.perf_counter()
    model = SocialCreditModel(scenario)
    build = time.perf_counter() - started
    day_seconds = []
    for _ in range(days):
        begun = time.perf_counter()
        model.step()
        day_seconds.append(time.perf_counter() - begun)
    return build, day_seconds


def peak_gib() -> float:
    """This process's peak resident memory so far, GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> int:
    """Time both engines at one size and print the ratio; trustsim's run first, in a process of its own."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--trustsim-days", type=int, default=365)
    parser.add_argument("--mesa-days", type=int, default=3)
    parser.add_argument("--year", type=int, default=365, help="days of the year both are compared over")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("trustsim", "mesa"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only is None:
        return _both(args)
    if args.only == "trustsim":
        build, simulate = time_trustsim(args.agents, args.trustsim_days, args.seed)
        print(f"trustsim {build:.3f} {simulate:.3f} {args.trustsim_days} {peak_gib():.3f}")
    else:
        build, day_seconds = time_mesa(args.agents, args.mesa_days, args.seed)
        print(f"mesa {build:.3f} {' '.join(f'{s:.3f}' for s in day_seconds)} {peak_gib():.3f}")
    return 0


def _run_alone(args: argparse.Namespace, engine: str) -> list[str]:
    # Each engine in a fresh process, so that neither's memory or threads weigh on the other.
    import subprocess

    command = [sys.executable, __file__, "--only", engine, "--agents", str(args.agents), "--seed", str(args.seed),
               "--trustsim-days", str(args.trustsim_days), "--mesa-days", str(args.mesa_days)]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return output.split("\n")[-2].split()


def _both(args: argparse.Namespace) -> int:
    print(f"china_scs, {args.agents:,} agents; numba threads {numba.config.NUMBA_NUM_THREADS}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    fields = _run_alone(args, "trustsim")
    t_build, t_sim, t_days, t_peak = float(fields[1]), float(fields[2]), int(fields[3]), float(fields[4])
    fields = _run_alone(args, "mesa")
    m_build, m_days, m_peak = float(fields[1]), [float(s) for s in fields[2:-1]], float(fields[-1])
    t_year = t_build + t_sim / t_days * args.year
    m_day = statistics.fmean(m_days)
    m_year = m_build + m_day * args.year
    print(f"{'':10} {'build s':>9} {'days':>5} {'s a day':>9} {'year s':>10} {'agent-steps/s':>14} {'peak GiB':>9}")
    trustsim_how = "measured" if t_days == args.year else "projected"
    for name, build, days, day, year, peak, how in (
        ("trustsim", t_build, t_days, t_sim / t_days, t_year, t_peak, trustsim_how),
        ("mesa", m_build, len(m_days), m_day, m_year, m_peak, "projected"),
    ):
        rate = args.agents * args.year / year
        print(f"{name:10} {build:9.2f} {days:5d} {day:9.4f} {year:10.1f} {rate:14,.0f} {peak:9.2f}  ({how} year)")
    print(f"mesa's days: {' '.join(f'{s:.1f}' for s in m_days)} s")
    print(f"trustsim / mesa, agent-steps per second over build + {args.year} days: {m_year / t_year:,.0f}x "
          f"(target >= 1000x); load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
