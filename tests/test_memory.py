"""The memory estimate: runs that would not fit are refused before anything is allocated."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import scenario
from trustsim.engine import Simulation
from trustsim.memory import MemoryBudgetError, estimate, largest_fitting_agents, require_memory, traced_agents
from trustsim.network import NETWORK_ARRAYS
from trustsim.population import initialise
from trustsim.trace import DEFAULT_PANEL, choose_panel


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=900)


def test_an_absurd_number_of_agents_is_refused_with_the_largest_size_that_fits(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli("run", "china_scs", "--agents", "2000000000", "--out", str(out))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "2,000,000,000 agents × 365 days of china_scs need about" in lines[0]
    assert "the largest run that fits has about" in lines[0] and "(--agents " in lines[0]
    assert not out.exists()
    suggested = int(lines[0].rsplit("--agents ", 1)[1].rstrip(")"))
    assert 2 <= suggested < 2_000_000_000


def test_absurd_days_are_refused_naming_days_and_the_limit() -> None:
    done = cli("run", "china_scs", "--agents", "100", "--days", "100000000000000")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "run.days" in lines[0] and "less than or equal to 32767" in lines[0]


def test_the_largest_fitting_size_fits_and_a_tenth_more_does_not() -> None:
    s = scenario("china_scs")
    budget = 8 * 2**30
    n = largest_fitting_agents(s, budget)
    assert estimate(s, n).total <= budget < estimate(s, int(n * 1.1)).total
    with pytest.raises(MemoryBudgetError, match=f"run.agents = {str(n)[:2]}"):
        require_memory(scenario("china_scs", agents=2 * n), budget)
    assert require_memory(scenario("china_scs", agents=n // 2), budget).total <= budget


@pytest.mark.parametrize("name", ["china_scs", "baseline"])
def test_the_estimate_covers_every_array_a_built_simulation_holds(name: str) -> None:
    s = scenario(name, agents=50_000, days=100)
    sim = Simulation(s)
    held = sum(values.nbytes for values in sim.world.population.arrays().values())
    net = sim.world.network
    held += sum(getattr(net, a).nbytes for a in NETWORK_ARRAYS)
    held += sim.world.degree.nbytes + sum(  # the index's emigrated is the population's own array
        getattr(sim.world.regions, a).nbytes for a in ("members", "start", "tree", "tree_start", "alive")
    )
    held += sum(v.nbytes for v in (*sim.today.outcomes, *sim.today.tallies, sim.today.score_next))
    records = sum(v.nbytes for v in sim.metrics.values.values()) + sum(v.nbytes for v in sim.trace.values.values())
    e = estimate(s)
    assert e.edges == net.n_edges
    assert held <= e.population + e.network + e.scratch <= 1.5 * held  # the agents' arrays, tallies aside
    # The metrics rows and the trace's panel: the columns held, and at the end the frames made from them (twice
    # the columns), with the panel bounded by the outspoken's mean plus eight standard deviations.
    assert records <= e.metrics <= 4 * records
    table_batch = s.run.agents * (64 + 16 * len(s.behaviours))  # the batch of agents.parquet, made only at the end
    assert e.write_peak == e.population + e.network + e.scratch + e.metrics + table_batch


@pytest.mark.parametrize(("agents", "share"), [(50, 0.0), (3000, 0.01), (200_000, 0.01), (20_000, 0.5), (900, 0.001)])
def test_the_trace_bound_holds_the_panel_drawn(agents: int, share: float) -> None:
    s = scenario("china_scs", f"population.outspoken_share={share}", agents=agents, days=2)
    panel = choose_panel(initialise(s).flag("outspoken"), DEFAULT_PANEL)
    bound = traced_agents(agents, share)
    assert panel.size <= bound <= DEFAULT_PANEL
    assert bound <= 3 * max(panel.size, 20) or bound == min(agents, DEFAULT_PANEL)  # and not far above it


def test_a_sampled_agent_table_lets_a_run_fit_that_the_whole_table_would_not() -> None:
    """--agents-out sample=N: the agent table is budgeted at N rows (plus the traced agents), not all.

    With four friends an agent, so that writing, not building the network, is the run's peak.
    """
    from trustsim.api import RunOptions

    s = scenario("china_scs", "network.k=4", agents=2_000_000)
    table = RunOptions(agents_out="sample=5000").table_agents(s.run.agents)
    assert table == 5000 + DEFAULT_PANEL and RunOptions().table_agents(s.run.agents) == s.run.agents
    full, sampled = estimate(s), estimate(s, table_agents=table)
    assert sampled.total < full.total
    budget = (sampled.total + full.total) // 2
    with pytest.raises(MemoryBudgetError):
        require_memory(s, budget)
    assert require_memory(s, budget, table_agents=table).total <= budget


def test_the_estimate_counts_exactly_the_arrays_of_the_state_table_and_the_day() -> None:
    """One declaration of the state (population.STATE) and of the day's scratch; the estimate is derived from both."""
    from trustsim.day import scratch_bytes_per_agent
    from trustsim.population import STATE, state_bytes_per_agent

    s = scenario("china_scs", agents=1000, days=2)
    sim = Simulation(s)
    population = sim.world.population
    assert population._fields == tuple(STATE)
    assert all(a.dtype == STATE[name].dtype for name, a in population.arrays().items())
    assert estimate(s).population == 1000 * state_bytes_per_agent(6, False) == sum(a.nbytes for a in population)
    day = sim.today
    assert 1000 * scratch_bytes_per_agent(6) == sum(a.nbytes for a in day.outcomes) + day.score_next.nbytes
    # The manifest's bytes an agent are those of the arrays a running simulation holds.
    network = sim.world.network
    held = {"state": population, "network": tuple(getattr(network, a) for a in NETWORK_ARRAYS)}
    summary = estimate(s).summary()
    assert summary["state_bytes_per_agent"] == sum(a.nbytes for a in held["state"]) / 1000
    # The network's: the estimate counts the rewired edges (two 4-byte slots each) at their mean plus six
    # standard deviations, an upper bound; it is above the held bytes by less than that.
    above = summary["network_bytes_per_agent"] - sum(a.nbytes for a in held["network"]) / 1000
    assert 0 <= above <= (8 * 6 * math.sqrt(1000 * 5 * 0.1 * 0.9) + 8) / 1000 + 0.1
