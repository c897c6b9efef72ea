"""How much memory a run needs, measured against what the machine has, before anything is allocated.

The estimate adds up the arrays a run holds, their sizes derived from where they are
declared (the state table :data:`trustsim.population.STATE`, the day's scratch of
:meth:`trustsim.day.Day.allocate`, the region index of :mod:`trustsim.world`, the
network's :func:`trustsim.network.network_dtypes`), and takes the larger of its two peaks:

* **building**: the population plus what the network generator holds at its peak
  (:func:`build_bytes`: the small world builds its rows from the lattice's known shape;
  the other generators sort every edge key; ``benchmarks/scale.py`` prints estimate and
  measured peak side by side);
* **writing**: everything a running simulation holds plus one batch of the agent table
  that ``agents.parquet`` is written in (:data:`trustsim.store.AGENT_ROWS_PER_BATCH` rows);

plus what the runtime adds (compiled kernels, Arrow buffers).

A run is refused when that peak, plus a 10% margin, exceeds the memory available now
(``MemAvailable`` of ``/proc/meminfo``, or less when a cgroup limit says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustsim.day import scratch_bytes_per_agent
from trustsim.errors import Setting, TrustsimError
from trustsim.mechanisms.credit_file import CreditFile, expected_file_bytes
from trustsim.metrics import columns as metric_columns
from trustsim.network import lattice_half, network_bytes
from trustsim.population import state_bytes_per_agent
from trustsim.scenario import Scenario
from trustsim.trace import DEFAULT_PANEL, trace_columns
from trustsim.world import world_bytes_per_agent

BUILD_BYTES_PER_EDGE = 64
"""What the generators that sort every edge key (scale-free, regional, edge files) hold at their
peak, the network included, per edge (measured: 64 ± 3 B)."""

RUNTIME_BYTES = 192 * 2**20
"""What a run adds beyond its arrays once trustsim is imported: compiled kernels loaded from
numba's cache, pyarrow's and pandas' buffers (measured: 100–150 MiB)."""

MARGIN = 1.10
"""Headroom on top of the estimate: the interpreter, numba's and pyarrow's own buffers."""


class MemoryBudgetError(TrustsimError):
    """A run that would not fit in the memory available."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part."""

    agents: int
    edges: int
    population: int
    network: int
    scratch: int
    metrics: int
    build_peak: int
    write_peak: int

    @property
    def total(self) -> int:
        """The peak the run reaches (the larger of building and writing), the runtime and the margin."""
        return int((max(self.build_peak, self.write_peak) + RUNTIME_BYTES) * MARGIN)

    def summary(self) -> dict[str, float]:
        """Bytes an agent of what a running simulation holds (state, network, the day's scratch), and the peak."""
        per_agent = {"state": self.population, "network": self.network, "scratch": self.scratch}
        rounded = {f"{name}_bytes_per_agent": round(size / self.agents, 1) for name, size in per_agent.items()}
        return rounded | {"bytes_per_agent": round(sum(per_agent.values()) / self.agents, 1),
                          "estimated_peak_bytes": self.total}  # fmt: skip


def build_bytes(scenario: Scenario, n_agents: int, edges: int) -> int:
    """Bytes the network generator holds at its peak, the finished network included.

    The small world (:func:`trustsim.network.small_world`) holds, while it rewires, the
    lattice's state (a byte per lattice edge), the degrees and the rewired keys with their
    hash set (up to 40 bytes a rewiring); then its network, the lattice's state, two
    more row starts of the rewired edges (8 bytes an agent beyond the network's) and their
    keys, ends and sorted copies (44 bytes a rewiring). A small world too wide for lattice bits, and the other
    generators, hold :data:`BUILD_BYTES_PER_EDGE` (with the lattice's state for the first).
    """
    spec = scenario.network
    generic = edges * BUILD_BYTES_PER_EDGE + (n_agents + 1) * 8
    if spec.generator != "small_world":
        return generic
    half = spec.k // 2
    rewired = math.ceil(spec.p * n_agents * half)
    rewiring = n_agents * (half + 4) + 40 * rewired
    lattice = expected_lattice_edges(scenario, n_agents)
    if not lattice_half(spec):  # too wide for lattice words: every edge sorted into CSR
        return max(rewiring, generic + n_agents * half)
    held = network_bytes(n_agents, edges, lattice, lattice=True)
    return max(rewiring, held + n_agents * (half + 8) + 44 * rewired)


def expected_lattice_edges(scenario: Scenario, n_agents: int) -> int:
    """Edges a small world holds as lattice bits (:func:`trustsim.network.lattice_half`), a lower bound: its
    lattice less the expected rewirings and six standard deviations (0 for the other generators)."""
    half = lattice_half(scenario.network)
    if not half:
        return 0
    lattice = n_agents * half
    p = float(scenario.network.p)
    rewired = lattice * p + 6 * math.sqrt(lattice * p * (1 - p)) + 1
    return max(0, lattice - math.ceil(rewired))


def expected_csr_edges(scenario: Scenario, n_agents: int) -> int:
    """Edges the scenario's network will hold in CSR slots (not as lattice bits), an upper bound."""
    return expected_edges(scenario, n_agents) - expected_lattice_edges(scenario, n_agents)


def expected_edges(scenario: Scenario, n_agents: int) -> int:
    """Edges the scenario's network will have with ``n_agents`` agents (an upper bound for files)."""
    spec = scenario.network
    if spec.generator == "small_world":
        return n_agents * (spec.k // 2)
    if spec.generator == "scale_free":
        return n_agents * spec.m
    if spec.generator == "regional_sbm":
        return math.ceil(n_agents * spec.mean_degree / 2)
    return _edge_file_rows(Path(spec.path))


def _edge_file_rows(path: Path) -> int:
    """Rows of an edge file: exact for Parquet (from its footer), bounded by size for CSV."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        return path.stat().st_size // 4  # "1,2\n" is the shortest row
    except Exception:  # an unreadable file is reported when the network is read
        return 0


def traced_agents(n_agents: int, outspoken_share: float) -> int:
    """An upper bound on the trace's panel (:func:`trustsim.trace.choose_panel`): the outspoken, at most
    :data:`~trustsim.trace.DEFAULT_PANEL`; everybody up to that when nobody may be outspoken."""
    expected = n_agents * outspoken_share
    if expected < 20:  # P(nobody outspoken) ≥ e^-20 is not negligible: the panel may fall back to everybody
        return min(n_agents, DEFAULT_PANEL)
    return min(n_agents, DEFAULT_PANEL, math.ceil(expected + 8 * math.sqrt(expected)))


def estimate(
    scenario: Scenario,
    n_agents: int | None = None,
    days: int | None = None,
    *,
    edges: int | None = None,
    restoring: bool = False,
    table_agents: int | None = None,
) -> MemoryEstimate:
    """Bytes a run of ``scenario`` needs (with ``n_agents`` agents and ``days`` days if given).

    ``edges`` replaces the expected number of edges (a checkpoint knows it); ``restoring``
    means the state comes from a checkpoint, with no network generator to run;
    ``table_agents`` is how many agents ``agents.parquet`` holds (a sample, or all by default).
    """
    n = scenario.run.agents if n_agents is None else n_agents
    t = scenario.run.days if days is None else days
    b = len(scenario.behaviours)
    edges = expected_edges(scenario, n) if edges is None else edges
    population = n * state_bytes_per_agent(b, scenario.ages is not None)
    if scenario.households is not None:  # households.py: the household of each agent; start and children of each
        population += n * (4 + 8 + 2)
    lattice = min(edges, expected_lattice_edges(scenario, n))
    network = network_bytes(n, edges, lattice, lattice=lattice_half(scenario.network) > 0)
    # The day's outcomes and the score's second buffer; the active degree and the region index.
    scratch = n * scratch_bytes_per_agent(b)
    scratch += math.ceil(n * world_bytes_per_agent())
    if scenario.score.expires:
        scratch += n * CreditFile.BYTES_PER_AGENT + expected_file_bytes(scenario, n, t)
    n_columns = 1 + len(metric_columns(scenario))  # with the day
    metrics = 2 * t * n_columns * 8  # the preallocated columns and the frame made from them
    # trace.py: a panel of at most DEFAULT_PANEL agents, its columns and the long frame made from them
    # (with its day and id).
    traced = traced_agents(n, scenario.population.outspoken_share)
    traced_bytes = sum(np.dtype(kind).itemsize for kind in trace_columns(scenario).values()) + 16
    metrics += 2 * t * traced * traced_bytes
    # agents.parquet is written one batch of rows at a time (store.AGENT_ROWS_PER_BATCH), so
    # one batch is held: its numeric columns go to Arrow without a copy; the per-behaviour
    # columns are widened to float64, and ids, tiers, counterfactual score and Parquet buffers added.
    from trustsim.store import AGENT_ROWS_PER_BATCH  # here: the store imports the engine, which imports this

    rows = n if table_agents is None else min(n, table_agents)
    agent_table = min(rows, AGENT_ROWS_PER_BATCH) * (64 + 16 * b)
    return MemoryEstimate(
        agents=n,
        edges=edges,
        population=population,
        network=network,
        scratch=scratch,
        metrics=metrics,
        build_peak=0 if restoring else population + build_bytes(scenario, n, edges) + metrics,
        write_peak=population + network + scratch + metrics + agent_table,
    )


def available_bytes() -> int:
    """Memory this process may still take: ``MemAvailable``, capped by a cgroup v2 or v1 limit."""
    candidates = [_meminfo_available()]
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            candidates.append(max(0, limit - usage))
    known = [value for value in candidates if value is not None]
    return min(known) if known else 2**62


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def largest_fitting_agents(scenario: Scenario, budget: int) -> int:
    """The most agents whose run fits in ``budget`` bytes (0 when even 2 agents do not)."""
    low, high = 1, 2**31 - 1
    if estimate(scenario, 2).total > budget:
        return 0
    while low < high:  # the estimate grows with the number of agents
        middle = (low + high + 1) // 2
        if estimate(scenario, middle).total <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def require_memory(
    scenario: Scenario,
    budget: int | None = None,
    *,
    edges: int | None = None,
    restoring: bool = False,
    table_agents: int | None = None,
) -> MemoryEstimate:
    """Raise :class:`MemoryBudgetError` if the run does not fit in ``budget`` (default: available now).

    ``edges``, ``restoring`` and ``table_agents`` are as for :func:`estimate`.
    """
    needed = estimate(scenario, edges=edges, restoring=restoring, table_agents=table_agents)
    budget = available_bytes() if budget is None else budget
    if needed.total <= budget:
        return needed
    what = f"{scenario.run.agents:,} agents × {scenario.run.days:,} days of {scenario.name}"
    head = f"{what} need about {_gib(needed.total)} of memory, but {_gib(budget)} is available"
    fitting = largest_fitting_agents(scenario, budget)
    if fitting < 2:
        raise MemoryBudgetError(f"{head}; the daily metrics alone do not fit: lower {{0}}", Setting("run.days"))
    most = _round_down(fitting)
    raise MemoryBudgetError(f"{head}; the largest run that fits has about {most:,} agents ({{0}})",
                            Setting("run.agents", most))  # fmt: skip


def _round_down(n: int) -> int:
    """Two significant figures, rounded down, so the suggestion fits."""
    if n < 100:
        return n
    scale = 10 ** (len(str(n)) - 2)
    return n // scale * scale


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"
