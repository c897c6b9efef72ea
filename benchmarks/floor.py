"""Floor benchmark: the least time a china_scs day can take on this machine, part by part.

A day of the full model cannot be faster than the sum of three costs it cannot avoid:

* **draws** — docs/model.md §3 needs a uniform for every behaviour of every agent every
  day; one Philox4x32-10 block gives four (§9), so ``ceil(B / 4)`` blocks an agent
  (compute-bound);
* **gather** — §5 needs every agent's friends' start-of-day scores: on the ring lattice a
  contiguous window masked by the lattice word's live bits, then one read per CSR slot,
  a random, far read for a rewired small-world tie (latency-bound);
* **stream** — every other state array read and written once (bandwidth-bound; the
  bytes of ``scale.py``'s model minus the gather's).

This script times each alone, in kernels that do nothing else, on the real network and
population of a ``china_scs`` run, in one process, and prints them next to the engine's
own per-phase times measured in the same process, so the output says how far the
engine is from what the hardware allows and how far that floor is from a target.

    python benchmarks/floor.py                      # 1,000,000 agents, 40 days
    python benchmarks/floor.py --agents 10000000 --days 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numba as nb
import numpy as np

from scale import bytes_per_agent_step  # benchmarks/ is the script's folder, so on sys.path
from trustsim.day import CHUNK
from trustsim.engine import Simulation
from trustsim.network import ID_BITS, Links, row_start
from trustsim.rng import LANES, block_words, lane_uniform
from trustsim.scenario import load_scenario

PHASES = {
    "A": "A behaviour",
    "B": "B observation",
    "C": "C score",
    "D": "D sanctions",
    "E": "E adaptation",
    "metrics": "metrics",
}


@nb.njit(parallel=True, cache=True)
def _draws(n: int, blocks: int, t: int, rate: float) -> int:
    # Block-major within chunks, as phase A: the inner loop vectorises; four uniforms a block.
    hits = 0
    for chunk in nb.prange((n + CHUNK - 1) // CHUNK):
        local = 0
        for block in range(blocks):
            for i in range(chunk * CHUNK, min(n, chunk * CHUNK + CHUNK)):
                w0, w1, w2, w3 = block_words(1, 7, t, i, block)
                local += (lane_uniform(w0) < rate) + (lane_uniform(w1) < rate) + (lane_uniform(w2) < rate)
                local += lane_uniform(w3) < rate
        hits += local
    return hits


@nb.njit(parallel=True, cache=True)
def _gather(links: Links, score: np.ndarray, out: np.ndarray) -> None:
    # The lattice window, one vectorised loop per distance over unsigned indices (as phase
    # C); then every CSR slot once, summed per agent.
    n = out.shape[0]
    half, ring, neighbours = links.half, links.ring, links.neighbours
    for block in nb.prange((n + 1023) // 1024):
        lo, hi = block * 1024, min(n, block * 1024 + 1024)
        first, width = np.uint64(lo), np.uint64(hi - lo)
        for k in range(width):
            out[first + k] = 0.0
        if lo >= half and hi + half <= n:  # the ring's two end blocks are left out
            for j in range(1, half + 1):
                behind, ahead, bit = np.uint64(lo - j), np.uint64(lo + j), np.uint16(j - 1)
                for k in range(width):
                    live_behind = np.int32((ring[behind + k] >> bit) & np.uint16(1))
                    live_ahead = np.int32((ring[first + k] >> bit) & np.uint16(1))
                    out[first + k] += (np.float64(score[behind + k]) * np.float64(live_behind)
                                       + np.float64(score[ahead + k]) * np.float64(live_ahead))  # fmt: skip
        for i in range(first, np.uint64(hi)):
            total = out[i]
            for slot in range(row_start(links, i), row_start(links, i + 1)):
                total += score[neighbours[slot] & ID_BITS]
            out[i] = total


@nb.njit(parallel=True, cache=True)
def _stream(read: np.ndarray, written: np.ndarray) -> None:
    for i in nb.prange(read.shape[0]):
        written[i] = read[i] * 0.5 + 1.0


def _stream_seconds(words: int, repeats: int) -> float:
    # Read 8 B and write 8 B per element.
    read, written = np.ones(words), np.empty(words)
    return _median_seconds(lambda: _stream(read, written), repeats)


def _median_seconds(work: Callable[[], object], repeats: int) -> float:
    work()  # compile / warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Time the floor's parts and the engine's phases; print both per day and per 365 days."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=40, help="engine days timed (medians are per day)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    scenario = load_scenario("china_scs", agents=args.agents, days=args.days, seed=1)
    simulation = Simulation(scenario)
    nb.set_num_threads(simulation.threads)
    world = simulation.world
    n, blocks = args.agents, -(-len(scenario.behaviours) // LANES)
    links = world.network.links
    score = world.population.score
    gathered = np.empty(n)
    # State other than the gather, in bytes per agent: scale.py's model of an agent-step
    # less the gather's 8 B per CSR slot (a 4-byte id and a 4-byte score) and its lattice word.
    slots_per_agent = links.neighbours.shape[0] / n
    stream_bytes = bytes_per_agent_step() - 8 * slots_per_agent - links.ring.nbytes / n
    parts = {
        f"draws ({blocks} Philox blocks/agent)": _median_seconds(
            lambda: _draws(n, blocks, 3, 0.01), args.repeats
        ),
        f"gather (lattice k/2={links.half}, {slots_per_agent:.1f} slots/agent)": _median_seconds(
            lambda: _gather(links, score, gathered), args.repeats
        ),
        f"stream ({stream_bytes:.0f} B/agent)": _stream_seconds(int(n * stream_bytes / 16), args.repeats),
    }

    phase_seconds: dict[str, list[float]] = {}
    while not simulation.finished:
        simulation.step(phase_seconds)

    per_year = 365
    print(f"china_scs, {n:,} agents, {simulation.threads} threads; load average {os.getloadavg()[0]:.2f}")
    print(f"{'floor part':<34} {'ms/day':>8} {'s/365 d':>8}")
    for name, seconds in parts.items():
        print(f"{name:<34} {1e3 * seconds:8.1f} {per_year * seconds:8.1f}")
    floor = sum(parts.values())
    print(f"{'floor (sum)':<34} {1e3 * floor:8.1f} {per_year * floor:8.1f}")
    print(f"{'engine phase (median of days)':<34} {'ms/day':>8} {'s/365 d':>8}")
    medians = {key: statistics.median(times[1:] or times) for key, times in phase_seconds.items()}
    for key, seconds in medians.items():
        print(f"{PHASES[key]:<34} {1e3 * seconds:8.1f} {per_year * seconds:8.1f}")
    engine = sum(medians.values())
    print(f"{'engine (sum)':<34} {1e3 * engine:8.1f} {per_year * engine:8.1f}   {engine / floor:.2f}x the floor")


if __name__ == "__main__":
    main()
