"""Property-based fuzzing of everything a user feeds the loader: every case ends in exit 0 or in
one-line errors and exit 2, never a traceback.

Cases: shipped scenarios with random mutations (wrong types, missing and unknown keys,
NaN and infinities, negative and above-one rates, empty lists, huge numbers, whole
sections replaced), random and corrupted bytes (not UTF-8, not TOML), random network
specifications, edge-list files with out-of-range ids, self-loops, duplicates and
wrong columns, and random ``--set`` assignments. Valid cases are run (60 agents, 3
days) with ``--check``, so extreme but valid values must also keep every invariant.
Run with ``--hypothesis-show-statistics`` to see how many cases each test tried.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from trustsim.cli import main
from trustsim.scenario import leaves, read_raw, shipped_scenarios

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

NASTY: list[Any] = [
    math.nan, math.inf, -math.inf, -1, -1.0, 0, 0.0, 0.5, 1.5, 2, 1e308, -1e308, 2**31, 2**63 - 1, 2**64, 10**30,
    True, False, "", "x", "nan", "1", "é\u0000", [], {}, [1, 2], [[]], {"a": 1}, [{"day": 0, "coverage": 2}],
]  # fmt: skip
nasty = st.sampled_from(NASTY)
any_value = nasty | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6) | st.booleans()


def invoke(*args: str) -> tuple[int, str]:
    """``trustsim ARGS`` in this process: exit code and stderr (an exception here is a traceback)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            main_with(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0
    return code, stderr.getvalue()


def main_with(arguments: list[str]) -> None:
    import sys

    saved = sys.argv
    sys.argv = ["trustsim", *arguments]
    try:
        main()
    finally:
        sys.argv = saved


def check_outcome(code: int, stderr: str, out: Path, *names: str) -> None:
    """Exit 0 with a complete run, or exit 2 with only ``error:`` lines, one naming the problem."""
    assert "Traceback" not in stderr
    if currently_in_test_context():
        event(f"exit {code}")  # shown by --hypothesis-show-statistics
    if code == 0:
        metrics = pd.read_parquet(out / "metrics.parquet")
        assert len(metrics) == metrics["day"].iloc[-1] + 1
        return
    assert code == 2, f"exit {code}: {stderr}"
    lines = stderr.strip().splitlines()
    # "error: WHERE: WHAT": every line names the place (file, key, option) and the problem
    assert lines and all(line.startswith("error: ") and ": " in line[7:] for line in lines), stderr
    assert not (out / "manifest.json").exists() or '"complete": false' in (out / "manifest.json").read_text()
    if names:
        assert any(name in stderr for name in names), f"no line names any of {names}: {stderr}"


def small(raw: dict[str, Any]) -> dict[str, Any]:
    raw["run"] = {"agents": 60, "days": 3, "seed": 1}
    return raw


def run_file(
    content: bytes, extra: dict[str, bytes] | None = None, names: tuple[str, ...] = (), report: bool = False
) -> int:
    """``trustsim run --check`` on a scenario file (and files beside it) in a scratch folder; check the outcome.

    With ``report``, a run that succeeds must also have written its report (a second of
    plotly per case, so only some extreme-value cases ask for it).
    """
    with tempfile.TemporaryDirectory(prefix="trustsim-fuzz-") as scratch:
        folder = Path(scratch)
        (folder / "scenario.toml").write_bytes(content)
        for name, data in (extra or {}).items():
            (folder / name).write_bytes(data)
        out = folder / "run"
        flag = "--report" if report else "--no-report"
        code, stderr = invoke("run", str(folder / "scenario.toml"), "--out", str(out), "--quiet", "--check", flag)
        check_outcome(code, stderr, out, *names)
        assert not report or code != 0 or 'data-figure-id="agent_story"' in (out / "report.html").read_text()
        return code


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A shipped scenario with one to three mutations, and the dotted paths they touched."""
    raw = small(read_raw(draw(st.sampled_from(sorted(shipped_scenarios())))))
    touched = []
    for _ in range(draw(st.integers(1, 3))):
        paths = sorted(leaves(raw)) + sorted(raw)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "replace", "delete", "unknown key", "empty"]))
        parts = path.split(".")
        parent: Any = raw
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
            if not isinstance(parent, dict | list):
                break
        else:
            key: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
            # run.* only takes the nasty values: a random mid-sized int would make a real, long run
            # a copy: NASTY's lists and tables are shared by every example, and a later mutation
            # inside one would change them for the next examples (or make one contain itself)
            value = copy.deepcopy(draw(nasty if parts[0] == "run" else any_value))
            if kind == "replace":
                parent[key] = value
            elif kind == "delete":
                del parent[key]
            elif kind == "unknown key" and isinstance(parent, dict):
                path = ".".join([*parts[:-1], "zz_unknown"])
                parent["zz_unknown"] = value
            elif isinstance(parent[key], list):
                parent[key] = []
            else:
                parent[key] = value
            touched.append(path)
    return raw, touched


def names_for(paths: list[str]) -> list[str]:
    """What an error about a change at these paths may name: the path or one of its ancestors."""
    names = []
    for path in paths:
        parts = [p for p in path.split(".") if not p.isdigit()] or ["run"]
        names += [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
    return [*names, "scenario.toml"]


@settings(FUZZ, max_examples=500)
@given(mutated())
def test_mutated_scenarios(case: tuple[dict[str, Any], list[str]]) -> None:
    run_and_check(*case)


def run_and_check(raw: dict[str, Any], touched: list[str], report: bool = False) -> None:
    """Run a scenario table written as TOML; an error must name a touched path or an ancestor."""
    run_file(tomli_w.dumps(raw).encode(), names=tuple(names_for(touched)), report=report)


EXTREME_FLOATS = [0.0, 1.0, 1e-300, 0.999999, 1e300, -1e300, 5e-324]
EXTREME_INTS = [0, 1, 10**9, 2**31 - 1]


@st.composite
def extreme(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """china_scs with numbers pushed to extremes of their type (many still valid)."""
    raw = small(read_raw(draw(st.sampled_from(sorted(shipped_scenarios())))))
    numeric = [
        path for path, value in leaves(raw).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
        and not path.startswith(("run.", "network.", "regions."))
    ]  # fmt: skip
    touched = draw(st.lists(st.sampled_from(sorted(numeric)), min_size=1, max_size=6, unique=True))
    for path in touched:
        *parents, last = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        node[key] = draw(st.sampled_from(EXTREME_INTS if isinstance(node[key], int) else EXTREME_FLOATS))
    return raw, touched


@settings(FUZZ, max_examples=300)
@given(extreme(), st.integers(0, 3))
def test_extreme_values(case: tuple[dict[str, Any], list[str]], pick: int) -> None:
    run_and_check(*case, report=pick == 0)  # a report for a quarter of the cases: a second of plotly each


@settings(FUZZ, max_examples=200)
@given(st.data())
def test_random_and_corrupted_bytes(data: st.DataObject) -> None:
    valid = tomli_w.dumps(small(read_raw("china_scs"))).encode()
    kind = data.draw(st.sampled_from(["random", "insert", "truncate", "latin-1", "utf-16"]))
    if kind == "random":
        content = data.draw(st.binary(max_size=200))
    elif kind == "insert":
        at = data.draw(st.integers(0, len(valid)))
        content = valid[:at] + data.draw(st.binary(min_size=1, max_size=8)) + valid[at:]
    elif kind == "truncate":
        content = valid[: data.draw(st.integers(0, len(valid)))]
    elif kind == "latin-1":
        content = valid.replace(b'description = "', b'description = "caf\xe9 ', 1)
    else:
        content = valid.decode().encode("utf-16")
    run_file(content)


network_spec = st.fixed_dictionaries(
    {"generator": st.sampled_from(["small_world", "scale_free", "regional_sbm", "file", "bogus", 3])},
    optional={
        "k": any_value, "p": any_value, "m": any_value, "mean_degree": any_value,
        "within_share": any_value, "path": st.sampled_from(["edges.csv", "missing.csv", "", "edges.txt"]),
    },
)  # fmt: skip


@settings(FUZZ, max_examples=200)
@given(network_spec)
def test_random_network_specifications(spec: dict[str, Any]) -> None:
    raw = small(read_raw("china_scs"))
    raw["network"] = spec
    run_file(tomli_w.dumps(raw).encode(), {"edges.csv": b"u,v\n0,1\n1,2\n"}, ("network", "edges", "missing.csv"))


ids = st.integers(-3, 63)  # 60 agents: 0 … 59 are valid


@settings(FUZZ, max_examples=200)
@given(
    st.lists(st.tuples(ids, ids), max_size=40),
    st.sampled_from(["csv", "parquet", "csv no header", "csv three columns", "csv text", "parquet float"]),
)
def test_edge_list_files(edges: list[tuple[int, int]], form: str) -> None:
    raw = small(read_raw("china_scs"))
    suffix = "parquet" if form.startswith("parquet") else "csv"
    raw["network"] = {"generator": "file", "path": f"edges.{suffix}"}
    u = [a for a, _ in edges]
    v = [b for _, b in edges]
    if form == "csv":
        data = ("a,b\n" + "".join(f"{a},{b}\n" for a, b in edges)).encode()
    elif form == "csv no header":
        data = "".join(f"{a},{b}\n" for a, b in edges).encode()
    elif form == "csv three columns":
        data = ("a,b,c\n" + "".join(f"{a},{b},1\n" for a, b in edges)).encode()
    elif form == "csv text":
        data = ("a,b\n" + "".join(f"{a},x{b}\n" for a, b in edges)).encode()
    else:
        kind = pa.float64() if form == "parquet float" else pa.int64()
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"a": pa.array(u, kind), "b": pa.array(v, kind)}), sink)
        data = sink.getvalue().to_pybytes()
    code = run_file(tomli_w.dumps(raw).encode(), {f"edges.{suffix}": data}, (f"edges.{suffix}",))
    valid = all(0 <= a < 60 and 0 <= b < 60 and a != b for a, b in edges)
    distinct = len({(min(a, b), max(a, b)) for a, b in edges}) == len(edges)
    if form in ("csv", "parquet") and edges:
        assert (code == 0) == (valid and distinct), edges


@settings(FUZZ, max_examples=200)
@given(
    st.sampled_from(sorted(leaves(small(read_raw("china_scs"))))) | st.text(max_size=12),
    st.text(max_size=10) | st.sampled_from(["nan", "inf", "-1", "1e400", "[]", "{}", "true", "99999999999999999999"]),
)
def test_random_set_overrides(path: str, value: str) -> None:
    if path.startswith("run."):
        path = "run.seed"  # agents and days are covered by the memory tests; a valid big run takes long
    with tempfile.TemporaryDirectory(prefix="trustsim-fuzz-") as scratch:
        out = Path(scratch) / "run"
        code, stderr = invoke(
            "run", "china_scs", "--agents", "60", "--days", "3", "--out", str(out), "--quiet", "--check", "--no-report",
            "--set", f"{path}={value}",
        )  # fmt: skip
        check_outcome(code, stderr, out)


def test_the_fuzz_oracle_fails_on_a_traceback() -> None:
    with pytest.raises(AssertionError):
        check_outcome(1, "Traceback (most recent call last):\n  ...", Path("/nonexistent"))
    with pytest.raises(AssertionError):
        check_outcome(2, "error: fine\nbut this line is not", Path("/nonexistent"))
