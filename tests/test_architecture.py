"""The shape of the code, kept by tests: each rule of the model written once, and arrows pointing inwards.

The model's rules are the public ``njit`` functions of :mod:`trustsim.mechanisms` (and the
state counts of :mod:`trustsim.metrics`). Drivers (the CPU's chunked loops) and GPU
kernels move data, count and launch; they call the rules and never compute the model
themselves. These tests read the source (with :mod:`ast`) to keep it so: a formula
copied into a kernel or a driver fails them.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "trustsim"
GPU = sorted((SOURCE / "gpu").glob("*.py"))
MECHANISMS = sorted((SOURCE / "mechanisms").glob("*.py"))
CORE = ("engine", "world", "day", "population", "network", "rng", "metrics", "mechanisms", "scenario", "memory",
        "preflight", "scalar", "quantiles", "trace", "checks", "store", "gpu", "compilation", "columns")  # fmt: skip
INTERFACES = ("cli", "cli_report", "cli_dashboard", "cli_experiments", "report", "dashboard", "experiments", "terminal",
              "api")  # fmt: skip


def functions(path: Path) -> list[ast.FunctionDef]:
    """Every function defined in a module, nested ones included."""
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)]


def reads_a_parameter(node: ast.AST) -> bool:
    """Whether ``node`` reads a field of a parameter record (``params.rho``, ``self.params.kappa``…)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name | ast.Attribute):
            owner = sub.value.id if isinstance(sub.value, ast.Name) else sub.value.attr
            if owner.endswith("params"):
                return True
    return False


def arithmetic(function: ast.FunctionDef) -> list[ast.AST]:
    """The arithmetic of a function: binary and unary operations and augmented assignments."""
    return [node for node in ast.walk(function) if isinstance(node, ast.BinOp | ast.UnaryOp | ast.AugAssign)]


def is_driver(function: ast.FunctionDef) -> bool:
    """A CPU driver or a GPU kernel: a private function (the rules are public)."""
    return function.name.startswith("_")


@pytest.mark.parametrize("path", [*GPU, *MECHANISMS], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_drivers_and_kernels_do_no_arithmetic_on_parameters(path: Path) -> None:
    """Every formula on the model's parameters is in a rule: kernels and drivers only index and compare them."""
    offending = [
        f"{path.name}:{node.lineno} in {function.name}: {ast.unparse(node)}"
        for function in functions(path)
        if is_driver(function)
        for node in arithmetic(function)
        if reads_a_parameter(node)
    ]
    assert not offending, offending


@pytest.mark.parametrize("path", GPU, ids=lambda p: p.name)
def test_gpu_modules_hold_no_rule_of_their_own(path: Path) -> None:
    """No draw, no rounding helper and no constant of a formula in gpu/: those belong to the rules."""
    text = path.read_text()
    kernels = [f for f in functions(path) if any("kernel" in ast.unparse(d) or "cuda.jit" in ast.unparse(d)
                                                 for d in f.decorator_list)]  # fmt: skip
    assert kernels or path.name in {"__init__.py", "backend.py", "plan.py"}, "a gpu module without kernels"
    for function in kernels:
        body = ast.unparse(function)
        assert "uniform(" not in body, f"{function.name} draws a random number itself"
        assert "product(" not in body, f"{function.name} multiplies like a rule"
        floats = [n.value for n in ast.walk(function) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
        assert set(floats) <= {0.0}, f"{function.name} uses constants {floats}"
    assert not re.search(r"type: ignore\[override\]", text), "a device phase overriding a CPU phase"


def test_every_phase_is_listed_once_and_both_backends_have_all_of_them() -> None:
    """One phase list, A→E; the CPU and the GPU backend each give an object for every entry and no other."""
    from conftest import scenario
    from trustsim.engine import PHASES, Simulation, host_parts

    assert [p.letter for p in PHASES] == list("ABCDE")
    s = scenario("china_scs", agents=200, days=1)
    cpu = Simulation(s)
    gpu = Simulation(s, backend="gpu")  # under numba's CUDA simulator in the tests
    assert list(cpu.phases) == list(gpu.phases) == list("ABCDE")
    assert set(host_parts(cpu.world, None).phases) == {p.mechanism for p in PHASES}
    for phase, device in zip(PHASES, gpu.phases.values(), strict=True):
        assert type(device).__module__ == f"trustsim.gpu.{phase.mechanism}"
        assert type(device).__mro__[1:] == (object,), "device phases hold parameter records; they inherit nothing"


def imports(path: Path) -> set[str]:
    """The trustsim modules a file imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trustsim"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("trustsim")}
    return found


@pytest.mark.parametrize("part", CORE)
def test_the_core_never_imports_an_interface(part: str) -> None:
    """Arrows point inwards: the command line, reports, dashboard and experiments use the core, not the reverse."""
    paths = sorted((SOURCE / part).rglob("*.py")) if (SOURCE / part).is_dir() else [SOURCE / f"{part}.py"]
    for path in paths:
        outward = {m for m in imports(path) if m.split(".")[1] in INTERFACES}
        assert not outward, f"{path.relative_to(SOURCE)} imports {sorted(outward)}"


def test_the_core_names_settings_not_command_line_flags() -> None:
    """Errors of the core name settings (run.agents); each interface words them (docs/architecture.md)."""
    flags = re.compile(r"--(agents|days|seed|backend|check|set|out|from)\b")
    for part in CORE:
        paths = sorted((SOURCE / part).rglob("*.py")) if (SOURCE / part).is_dir() else [SOURCE / f"{part}.py"]
        for path in paths:
            tree = ast.parse(path.read_text())
            documentation = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # may name the CLI
            strings = [
                node.value for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation
            ]  # fmt: skip
            worded = [s for s in strings if flags.search(s)]
            assert not worded, f"{path.relative_to(SOURCE)}: {worded}"


def test_no_file_points_outside_the_repository() -> None:
    """The project stands alone: its model is docs/model.md; nothing names a file outside the repository."""
    root = SOURCE.parents[1]
    pattern = re.compile("|".join([r"MODEL\.md", r"\.\./" + "shared", "shared" + "/" + "MODEL"]))
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    offending = [name for name in listed if pattern.search(_text(root / name))]
    assert listed and not offending, offending


def _text(path: Path) -> str:
    if path.suffix in {".parquet", ".npz", ".png", ".pkl"}:
        return ""
    try:
        return path.read_text()
    except (UnicodeDecodeError, OSError):
        return ""


def test_the_model_page_explains_every_parameter_and_every_state_array() -> None:
    """docs/model.md answers "what does this parameter do, and when in the day" for every key of a scenario file."""
    from pydantic import BaseModel

    from trustsim.population import FLAGS, STATE
    from trustsim.scenario import Scenario

    text = (SOURCE.parents[1] / "docs" / "model.md").read_text()
    keys: set[str] = set()
    models: list[type[BaseModel]] = [Scenario]
    while models:
        model = models.pop()
        for name, field in model.model_fields.items():
            keys.add(name)
            models += [a for a in _classes(field.annotation) if issubclass(a, BaseModel) and a not in models]
    named = keys | set(STATE) | set(FLAGS)
    missing = [key for key in sorted(named) if not re.search(rf"[`.\[{{]{key}[`\s=.\[\],}}]", text)]
    assert not missing, missing


def _classes(annotation: object) -> list[type]:
    """The classes inside a type annotation (``list[Region]``, ``dict[str, Behaviour]``, unions)."""
    if isinstance(annotation, type):
        return [annotation]
    return [c for arg in getattr(annotation, "__args__", ()) for c in _classes(arg)]


@pytest.mark.parametrize("path", [*MECHANISMS, SOURCE / "metrics.py", SOURCE / "population.py"],
                         ids=lambda p: p.name)  # fmt: skip
def test_parallel_loops_never_write_through_a_record(path: Path) -> None:
    """numba's parallel loops lose writes made through a named tuple's arrays in their body (numba issue 7135).

    A parallel function hands such writes to a chunk function (``day.chunk_function``).
    """
    for function in functions(path):
        if not any("parallel=True" in ast.unparse(d) for d in function.decorator_list):
            continue
        for node in ast.walk(function):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AugAssign) else []  # fmt: skip
            for target in targets:
                for part in target.elts if isinstance(target, ast.Tuple) else [target]:
                    through_record = isinstance(part, ast.Subscript) and isinstance(part.value, ast.Attribute)
                    assert not through_record, f"{path.name}:{node.lineno} {function.name}: {ast.unparse(node)}"
