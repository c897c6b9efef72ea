"""Compiling before the first day (trustsim.compilation): the warm-up compiles what the run then calls."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from numba.core.registry import CPUDispatcher
from typer.testing import CliRunner

import trustsim
from trustsim.cli import app
from trustsim.compilation import WARM_AGENTS, warm_up, warm_up_scenario
from trustsim.engine import Simulation
from trustsim.scenario import load_scenario


def compiled_signatures() -> dict[str, int]:
    """How many signatures every numba function of trustsim's CPU modules has compiled (or loaded) so far."""
    counts = {}
    for module_info in pkgutil.walk_packages(trustsim.__path__, "trustsim."):
        if ".gpu" in module_info.name or module_info.name.endswith(("__main__", "cli_dashboard")):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__:
                counts[f"{module.__name__}.{name}"] = len(value.signatures)
    return counts


@pytest.mark.parametrize("name", ["china_scs", "china_family", "uk_credit"])
def test_after_the_warm_up_a_run_compiles_nothing_new(name: str) -> None:
    scenario = load_scenario(name, agents=3000, days=5, seed=4)
    warm_up(scenario)
    before = compiled_signatures()
    assert sum(before.values()) > 20  # the census sees the kernels
    Simulation(scenario).run()
    after = compiled_signatures()
    assert {k: v for k, v in after.items() if v != before.get(k)} == {}


def test_the_warm_up_society_is_small_and_otherwise_the_same() -> None:
    scenario = load_scenario("china_family", agents=50_000, days=100, seed=4)
    small = warm_up_scenario(scenario)
    assert (small.run.agents, small.run.days) == (WARM_AGENTS, 2)
    assert small.resolved() | {"run": {}} == scenario.resolved() | {"run": {}}


def test_an_edge_file_is_warmed_up_on_a_small_world(tmp_path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("src,dst\n" + "".join(f"{i},{i + 1}\n" for i in range(9_999)))
    scenario = load_scenario("baseline", overrides=[f"network={{generator = 'file', path = '{edges}'}}"], agents=10_000)
    small = warm_up_scenario(scenario)
    assert small.network.generator == "small_world"
    assert warm_up(scenario) >= 0.0


def test_a_run_reports_compile_time_apart_and_the_command_fills_the_cache(tmp_path) -> None:
    result = trustsim.run("baseline", agents=2000, days=3, seed=1, out=tmp_path / "run")
    assert set(result.manifest["wall_seconds"]) == {"compile", "build", "simulate", "write"}
    printed = CliRunner().invoke(app, ["compile", "baseline"])
    assert printed.exit_code == 0, printed.output
    assert "baseline: kernels compiled or loaded from cache in" in printed.output
    wrong = CliRunner().invoke(app, ["compile", "no_such_scenario"])
    assert wrong.exit_code == 2


def test_a_network_too_big_for_the_warm_up_society_falls_back_to_a_small_world() -> None:
    # 31 regions of a block model: valid at 100,000 agents, not at 512 (a region of 14 agents
    # cannot hold its within-region edges).
    regions = ", ".join(f"{{name = 'r{r}', share = {1 / 31!r}, cashless_share = 0.5}}" for r in range(31))
    overrides = [f"regions=[{regions}]", "network={generator = 'regional_sbm', mean_degree = 10, within_share = 0.9}"]
    scenario = load_scenario("china_scs", overrides=overrides, agents=100_000, days=3)
    with pytest.raises((ValueError, trustsim.errors.TrustsimError)):
        Simulation(warm_up_scenario(scenario)).run()
    assert warm_up(scenario) >= 0.0  # falls back, does not raise
    assert warm_up_scenario(scenario, small_world=True).network.generator == "small_world"
