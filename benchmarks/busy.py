"""Run the test suite on a busy machine: a few busy loops a core beside pytest; which tests failed.

    python benchmarks/busy.py                                  # the whole suite, 4 loops a core
    python benchmarks/busy.py --repeat 10 tests/test_dashboard.py   # one file, ten times in a row
    python benchmarks/busy.py -- -k live tests/test_dashboard.py     # pytest's own options after --

Every busy loop is a process spinning at normal priority, so pytest (and the
processes, threads and Dask workers its tests start) get a small share of each
core, as on a shared CI runner or a laptop building something beside the tests.
A test that passes alone and fails here depends on time or scheduling.

Prints, for every repeat, the counts pytest reports and the failed tests by name,
then one line per repeat. Exit status 0 only if every repeat passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SPIN = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:  # ends with the benchmark, even if it is killed
    for _ in range(2_000_000):
        pass
"""


@dataclass
class Outcome:
    """What one pytest run under load reported."""

    seconds: float
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether pytest ran tests and none failed."""
        return self.exit_code == 0 and not self.failed and self.counts.get("passed", 0) > 0


def start_loops(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` busy processes at normal priority."""
    return [subprocess.Popen([sys.executable, "-c", SPIN, str(os.getpid())]) for _ in range(count)]


def stop_loops(loops: list[subprocess.Popen[bytes]]) -> None:
    """Kill the busy processes and reap them."""
    for loop in loops:
        loop.kill()
    for loop in loops:
        loop.wait()


def junit_outcome(report: Path) -> tuple[dict[str, int], list[str]]:
    """Tests passed, failed (a failure or an error, counted once) and skipped, and the failed tests' ids, from a
    JUnit XML report."""
    if not report.exists():
        return {}, []
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed = []
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
            failed.append(_test_id(case))
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, failed


def _test_id(case: ET.Element) -> str:
    """pytest's id of a test case (``tests/test_x.py::test_y[p]``); a module that failed to import, by its name."""
    module = case.get("classname") or ""
    if not module:
        return case.get("name") or "?"
    return f"{module.replace('.', '/')}.py::{case.get('name')}"


def run_pytest(args: list[str], report: Path, limit: float) -> Outcome:
    """One pytest run in this checkout, stopped after ``limit`` seconds; its outcome read from its JUnit report.

    A test stuck for 15 minutes has every thread's stack printed (pytest's ``faulthandler_timeout``).
    """
    report.unlink(missing_ok=True)
    began = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "faulthandler_timeout=900",
               f"--junitxml={report}", *args]  # fmt: skip
    try:
        code = subprocess.run(command, cwd=ROOT, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        return Outcome(time.monotonic() - began, -1, {}, [f"(pytest still running after {limit:.0f} s: stopped)"])
    counts, failed = junit_outcome(report)
    return Outcome(time.monotonic() - began, code, counts, failed)


def main() -> int:
    """Start the loops, run pytest ``--repeat`` times beside them, report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops-per-core", type=int, default=4, help="busy processes per core (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="pytest runs in a row (default 1)")
    parser.add_argument("--limit", type=float, default=4 * 3600, help="seconds a pytest run may take (default 4 h)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (default: the whole suite); put -- before "
                        "options of pytest's own, as in: busy.py -- -k live tests/test_dashboard.py")  # fmt: skip
    options = parser.parse_args()
    cores = len(os.sched_getaffinity(0))  # the cores this process may use, not the machine's
    loops = start_loops(options.loops_per_core * cores)
    tests = " ".join(options.pytest_args) or "(whole suite)"
    print(f"{len(loops)} busy loops on {cores} cores ({options.loops_per_core} a core); pytest {tests}, "
          f"{options.repeat} time(s)", flush=True)  # fmt: skip
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for attempt in range(1, options.repeat + 1):
                outcome = run_pytest(options.pytest_args, Path(scratch) / "junit.xml", options.limit)
                outcomes.append(outcome)
                print(f"--- run {attempt}: {_line(outcome)} (load average {os.getloadavg()[0]:.1f})", flush=True)
                for test in outcome.failed:
                    print(f"    FAILED {test}", flush=True)
    finally:
        stop_loops(loops)
    print(f"\nbusy.py: {len(loops)} busy loops on {cores} cores")
    for attempt, outcome in enumerate(outcomes, 1):
        print(f"run {attempt:2d}: {_line(outcome)}")
    failing = sorted({test for outcome in outcomes for test in outcome.failed})
    passed = sum(outcome.passed for outcome in outcomes)
    print(f"{passed} of {len(outcomes)} runs passed; failed tests: {', '.join(failing) or 'none'}")
    return 0 if all(o.passed for o in outcomes) else 1


def _line(outcome: Outcome) -> str:
    counts = outcome.counts
    if not counts:
        return f"pytest exited {outcome.exit_code} without a report in {outcome.seconds:.0f} s"
    tally = f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    return f"{tally} in {outcome.seconds:.0f} s"


if __name__ == "__main__":
    sys.exit(main())
