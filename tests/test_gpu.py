"""The GPU backend against the CPU engine, draw for draw, and its parts on their own.

Under numba's CUDA simulator (the default here, see conftest.py) the kernels run as
Python on the CPU, so populations are tiny; ``NUMBA_ENABLE_CUDASIM=0`` runs the same
tests on a real GPU. ``test_kernels_compile_for_hopper`` compiles every kernel to
PTX for sm_90 (H100/H200) with the CUDA toolkit's NVVM, which the simulator does not.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numba import cuda

from conftest import cli, scenario
from trustsim.engine import Simulation
from trustsim.gpu.common import SIMULATED, flagged, thread_safe_simulator
from trustsim.gpu.metrics import device_percentiles
from trustsim.gpu.plan import GpuMemoryError, bytes_per_agent, bytes_per_edge, memory_plan
from trustsim.gpu.state import DeviceWorld

DAYS, HALF = 8, 4
thread_safe_simulator()  # for the kernels tested on their own, outside a Simulation

# Every mechanism fires within a few days among 300 agents: misattributions and a
# review short of capacity, courts, listings and exits, unfriending, opting out,
# advisers and emigration.
HARSH = (
    "observation.false_match=0.3",
    "observation.review_per_capita=0.01",
    "channels.camera.schedule=[{day=0, coverage=1.0}]",
    "behaviours.jaywalk.base_rate=0.2",
    "behaviours.dissent.base_rate=0.05",
    "behaviours.late_payment.escalation=0.5",
    "blacklist.blacklist_score=985",
    "blacklist.blacklist_exit_score=990",
    "blacklist.blacklist_exit_days=2",
    "blacklist.court_exit_rate=0.2",
    "adaptation.unfriend_rate=0.3",
    "adaptation.opt_out_rate=0.2",
    "adaptation.adviser_below=1000",
    "adaptation.adviser_rate=0.2",
    "adaptation.emigrate_min_decile=0",
    "adaptation.emigrate_rate=0.05",
    "population.outspoken_share=0.3",
)


# With households, ages and dependants (docs/model.md §14), and groups rows every 3 days (§15).
FAMILY = ("run.breakdown_every=3", "sanctions.private_school_ban.attempt_rate=0.5", "score.contagion=0.3")


def harsh(source: str = "china_scs") -> object:
    extra = FAMILY if source == "china_family" else ()
    return scenario(source, *HARSH, *extra, agents=300, days=DAYS, seed=11)


@pytest.fixture(scope="module", params=["china_scs", "china_family"])
def runs(request: pytest.FixtureRequest) -> dict[str, object]:
    """The harsh scenario on the CPU; on the GPU (state saved half-way); the CPU resuming the GPU's state."""
    s = harsh(request.param)
    cpu = Simulation(s, traced=64)
    cpu.run()
    gpu = Simulation(s, traced=64, backend="gpu")
    for _ in range(HALF):
        gpu.step()
    half_way = gpu.saved_state()
    gpu.run()
    resumed = Simulation(s, start=half_way)
    resumed.run()
    return {"cpu": cpu, "gpu": gpu, "resumed": resumed}


def assert_same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    """Integer and boolean columns identical, floats equal to 1e-9 relative (NaN where NaN)."""
    assert list(a.columns) == list(b.columns), what
    for name in a.columns:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        if x.dtype.kind in "iub" or x.dtype == object:
            assert np.array_equal(x, y), f"{what}: {name} differs: {x[x != y][:5]} vs {y[x != y][:5]}"
        else:
            assert np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True), f"{what}: {name} differs"


def agents_frame(simulation: Simulation) -> pd.DataFrame:
    from trustsim.store import agent_table

    population, degree = simulation.agent_state()
    return agent_table(population, simulation.scenario, degree).to_pandas()


def test_every_mechanism_fires(runs: dict[str, Simulation]) -> None:
    """The comparison below means something only if each mechanism did something."""
    m = runs["cpu"].metrics.frame()
    for column in (
        "misattributed_jaywalk", "caught_jaywalk", "blacklist_entries_court", "blacklist_entries_score",
        "blacklist_exits", "denials_flight_ban", "off_grid", "advised", "emigrated", "wrongly_sanctioned",
    ):  # fmt: skip
        assert m[column].sum() > 0, column
    assert m["review_backlog"].max() > 0
    assert m["active_edges"].iloc[-1] < m["active_edges"].iloc[0]
    if runs["cpu"].scenario.households is not None:
        assert m["children_affected_private_school_ban"].sum() > 0
        assert m["children_wrongly_affected_private_school_ban"].sum() > 0
        assert runs["cpu"].groups.frame()["denials"].sum() > 0


def test_gpu_metrics_equal_cpu(runs: dict[str, Simulation]) -> None:
    """Every count of every day identical; scores and other reals to float tolerance (docs/model.md §9)."""
    assert_same(runs["cpu"].metrics.frame(), runs["gpu"].metrics.frame(), "metrics")


def test_gpu_groups_equal_cpu(runs: dict[str, Simulation]) -> None:
    """The rows of groups.parquet (docs/model.md §15) agree, and a resumed run keeps the earlier rows."""
    cpu = runs["cpu"].groups.frame()
    assert len(cpu) > 0
    assert_same(cpu, runs["gpu"].groups.frame(), "groups")
    assert_same(cpu, runs["resumed"].groups.frame(), "resumed groups")


def test_gpu_agents_and_trace_equal_cpu(runs: dict[str, Simulation]) -> None:
    """The final state of every agent and the traced agents' days agree too."""
    assert_same(agents_frame(runs["cpu"]), agents_frame(runs["gpu"]), "agents")
    assert runs["gpu"].trace.agents.size == 64
    assert np.array_equal(runs["gpu"].trace.agents, runs["cpu"].trace.agents)
    assert_same(runs["cpu"].trace.frame(DAYS), runs["gpu"].trace.frame(DAYS), "trace")


def test_gpu_cuts_the_same_edges(runs: dict[str, Simulation]) -> None:
    """The network after unfriending and emigration: the same edges active on both backends."""
    cpu_world = runs["cpu"].world
    gpu_world = runs["gpu"].world.to_host()
    assert np.array_equal(cpu_world.edge_active, gpu_world.edge_active)
    assert np.array_equal(cpu_world.degree, gpu_world.degree)


def test_gpu_state_resumes_on_the_cpu(runs: dict[str, Simulation]) -> None:
    """A GPU checkpoint, taken half-way and finished on the CPU, gives the CPU's own run."""
    assert_same(runs["cpu"].metrics.frame(), runs["resumed"].metrics.frame(), "resumed metrics")
    assert_same(agents_frame(runs["cpu"]), agents_frame(runs["resumed"]), "resumed agents")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_device_percentiles_are_numpy_percentiles(seed: int) -> None:
    """Radix select on the device gives numpy's linear percentiles exactly, clusters and negatives included."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.full(150, 1000.0), rng.normal(0, 300, 150), [-0.0, 0.0, 1e-300, -1e300]])
    rng.shuffle(values)
    excluded = rng.random(values.size) < 0.2
    q = (0.0, 10.0, 50.0, 90.0, 100.0)
    got = device_percentiles(cuda.to_device(values), cuda.to_device(excluded), int((~excluded).sum()), q)
    assert got == [float(x) for x in np.percentile(values[~excluded], q)]
    one = device_percentiles(cuda.to_device(np.full(7, 3.5)), cuda.to_device(np.zeros(7, np.bool_)), 7, q)
    assert one == [3.5] * len(q)


def test_flagged_keeps_id_order() -> None:
    """The ordered compaction behind the review: the flagged ids, ascending, across blocks."""
    rng = np.random.default_rng(5)
    values = (rng.random(300) < 0.1).astype(np.uint8) * rng.integers(1, 4, 300).astype(np.uint8)
    got = flagged(cuda.to_device(values), 2).copy_to_host()
    assert np.array_equal(got, np.flatnonzero(values & 2))
    assert flagged(cuda.to_device(np.zeros(10, np.uint8)), 1).shape == (0,)


def test_memory_plan_counts_what_the_device_holds() -> None:
    """The plan's bytes per agent and per edge add up to the arrays actually allocated."""
    s = scenario("china_scs", agents=1000, days=3)
    simulation = Simulation(s, backend="gpu")
    world, day = simulation.world, simulation.today
    assert isinstance(world, DeviceWorld)
    partial = simulation.phases["A"].partial
    assert partial is simulation.metrics.reduce.partial  # one buffer of per-block sums, shared
    per_agent = [*world.population, world.degree, *day.outcomes, day.score_next, partial,
                 world.regions.members, world.regions.tree]  # fmt: skip
    net = world.network
    agent_bytes = sum(a.nbytes for a in per_agent) + sum(
        a.nbytes for a in (net.offsets, net.edge_start, net.ring, net.row_base, net.edge_base)
    )
    edge_bytes = net.neighbours.nbytes
    n, e = s.run.agents, simulation.memory_plan.edges
    assert abs(agent_bytes - n * bytes_per_agent(s)) <= 64  # the +1 of offsets, the last partial block, R tree roots
    assert edge_bytes == e * bytes_per_edge()


def test_memory_plan_refuses_a_country_on_a_small_card() -> None:
    """1.41 billion agents in this layout do not fit 80 GB: refused with the largest population that would."""
    s = scenario("china_scs", agents=1_410_000_000, days=1)
    plan = memory_plan(s, 5 * 1_410_000_000, 80 * 10**9, "a test card")
    assert not plan.fits
    with pytest.raises(GpuMemoryError, match=r"use at most about [\d,]+ agents \(run.agents = \d+\)"):
        plan.require()
    small = memory_plan(s.model_copy(update={"run": s.run.model_copy(update={"agents": 10_000_000})}),
                        50_000_000, 80 * 10**9, "a test card")  # fmt: skip
    assert small.fits and small.total < 80 * 10**9


def test_gpu_backend_without_a_gpu_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """Outside the simulator, on a machine with no GPU: exit 2, one line, no run directory."""
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0"}
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "trustsim", "run", "china_scs", "--agents", "500", "--days", "2", "--backend", "gpu",
         "--out", str(out)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode == 0:
        pytest.skip("this machine has a usable CUDA GPU")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--backend cpu" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists()


def test_cli_gpu_run_prints_its_plan_and_samples_agents(tmp_path: Path) -> None:
    """`trustsim run --backend gpu --agents-out sample=N`: the plan first, then a normal run directory."""
    out = tmp_path / "run"
    done = cli("run", "china_scs", "--agents", "300", "--days", "2", "--backend", "gpu",
               "--agents-out", "sample=40", "--no-report", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.index("GPU memory plan for 300 agents") < done.stdout.index("run written to")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "gpu" and manifest["options"]["backend"] == "gpu"
    assert manifest["gpu"]["bytes_per_edge"] == 8  # two slots, each a neighbour id (4) whose sign bit is the cut flag
    agents = pd.read_parquet(out / "agents.parquet")
    traced = set(pd.read_parquet(out / "trace.parquet")["id"])
    assert traced and traced <= set(agents["id"])  # the report's story needs the traced agents' rows
    assert 40 <= len(agents) <= 40 + len(traced) and agents["id"].is_monotonic_increasing
    assert agents["id"].iloc[0] == 0 and agents["id"].iloc[-1] == 299
    assert f"sample of {len(agents)} agents: sample=40" in manifest["agents_table"]
    cpu = Simulation(scenario("china_scs", agents=300, days=2, seed=manifest["seed"]))
    cpu.run()
    population, _ = cpu.agent_state(agents["id"].to_numpy())
    assert np.allclose(agents["score"], population.score, rtol=1e-12)


def test_check_is_refused_on_the_gpu(tmp_path: Path) -> None:
    """--check is CPU-only: refused in one line before anything is written, and by the engine itself."""
    from trustsim.preflight import BackendOptionError

    out = tmp_path / "run"
    done = cli("run", "china_scs", "--agents", "100", "--days", "1", "--backend", "gpu", "--check", "--out", str(out))
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip() == "error: --check runs on the CPU backend only: drop --check or use --backend cpu"
    core_words = "check runs on the CPU backend only: drop check or use backend = cpu"
    with pytest.raises(BackendOptionError, match=f"^{re.escape(core_words)}$"):
        Simulation(scenario("china_scs", agents=100, days=1), backend="gpu", check=True)


def test_a_gpu_run_resumes_on_the_cpu(tmp_path: Path) -> None:
    """A GPU run stopped half-way is finished by `trustsim resume --backend cpu` with the CPU's own result."""
    from trustsim.api import save_simulation

    s = scenario("china_scs", *HARSH, agents=300, days=4, seed=5)
    gpu = Simulation(s, backend="gpu")
    gpu.step()
    gpu.step()
    save_simulation(gpu, tmp_path / "run")
    done = cli("resume", str(tmp_path / "run"), "--backend", "cpu", "--no-report")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["backend"] == "cpu"
    cpu = Simulation(s)
    assert_same(cpu.run(), pd.read_parquet(tmp_path / "run" / "metrics.parquet"), "resumed on the cpu")


def _nvvm_home() -> str | None:
    """A CUDA toolkit with NVVM (what numba needs to compile PTX), or None."""
    for home in [os.environ.get("CUDA_HOME"), *sorted(map(str, Path("/usr/local").glob("cuda*")), reverse=True)]:
        if home and any(Path(home).glob("**/libnvvm.so*")):
            return home
    return None


@pytest.mark.skipif(not SIMULATED, reason="records the kernels' argument types under the simulator")
def test_kernels_compile_for_hopper(tmp_path: Path) -> None:
    """Every kernel launched by a run compiles to PTX for sm_90 with the types it was launched with.

    The simulator runs kernels as Python, so it cannot catch what numba's CUDA compiler
    refuses; this compiles each one for real (no GPU needed, only the toolkit's NVVM).
    """
    home = _nvvm_home()
    if home is None or (shutil.which("nvcc") is None and not Path(home, "nvvm").exists()):
        pytest.skip("no CUDA toolkit with libnvvm on this machine")
    launches = _record_launches()
    assert len(launches) >= 15, sorted(launches)
    signatures = tmp_path / "signatures.pkl"
    signatures.write_bytes(pickle.dumps(launches))
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "CUDA_HOME": home}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "compile_ptx.py"), str(signatures)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"compiled {sum(map(len, launches.values()))} kernel signatures" in done.stdout


def _on_host(value: object) -> object:
    """A kernel argument with its device arrays (also inside records) copied to the host, for numba.typeof."""
    if hasattr(value, "copy_to_host"):
        return value.copy_to_host()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_on_host(v) for v in value))
    if isinstance(value, tuple):
        return tuple(_on_host(v) for v in value)
    return value


def _record_launches() -> dict[tuple[str, str], set[tuple[object, ...]]]:
    """Run a short GPU simulation under the simulator, noting each kernel and every set of argument types."""
    import numba
    from numba.cuda.simulator import kernel as simulated

    launches: dict[tuple[str, str], set[tuple[object, ...]]] = {}
    original = simulated.FakeCUDAKernel.__call__

    def recording(self: object, *args: object) -> object:
        if self._device:  # type: ignore[attr-defined] # a device function called inside a kernel
            return original(self, *args)
        fn = self.fn  # type: ignore[attr-defined]
        types = tuple(numba.typeof(_on_host(a)) for a in args)
        launches.setdefault((fn.__module__, fn.__name__), set()).add(types)
        return original(self, *args)

    simulated.FakeCUDAKernel.__call__ = recording  # type: ignore[method-assign]
    try:
        s = harsh()
        Simulation(s.model_copy(update={"run": s.run.model_copy(update={"days": 3})}), traced=8, backend="gpu").run()
        # With households and ages (docs/model.md §14): two days, then day 365, when ages advance.
        family = harsh("china_family")
        simulation = Simulation(family.model_copy(update={"run": family.run.model_copy(update={"days": 366})}),
                                traced=8, backend="gpu")  # fmt: skip
        simulation.step()
        simulation.step()
        simulation.world.day = 365
        simulation.step()
    finally:
        simulated.FakeCUDAKernel.__call__ = original  # type: ignore[method-assign]
    return launches
