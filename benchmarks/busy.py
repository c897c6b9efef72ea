"""Run the test suite on a busy machine: a few busy loops a core beside pytest; which tests failed.

    python benchmarks/busy.py                                  # the whole suite, 4 loops a core
    python benchmarks/busy.py --repeat 10 tests/test_dashboard.py   # one file, ten times in a row

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
        return self.exit_code == 0 and not self.failed


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
    """Counts (tests, failures, errors, skipped) and the failed tests' ids from a JUnit XML report."""
    if not report.exists():
        return {}, []
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = []
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            module = (case.get("classname") or "").replace(".", "/")
            failed.append(f"{module}.py::{case.get('name')}")
    return counts, failed


def run_pytest(args: list[str], report: Path) -> Outcome:
    """One pytest run in this checkout; its outcome read from its JUnit report."""
    report.unlink(missing_ok=True)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *args], cwd=ROOT)  # fmt: skip
    counts, failed = junit_outcome(report)
    return Outcome(time.monotonic() - began, done.returncode, counts, failed)


def main() -> int:
    """Start the loops, run pytest ``--repeat`` times beside them, report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops-per-core", type=int, default=4, help="busy processes per core (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="pytest runs in a row (default 1)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (default: the whole suite)")
    options = parser.parse_args()
    cores = os.cpu_count() or 1
    loops = start_loops(options.loops_per_core * cores)
    tests = " ".join(options.pytest_args) or "(whole suite)"
    print(f"{len(loops)} busy loops on {cores} cores ({options.loops_per_core} a core); pytest {tests}, "
          f"{options.repeat} time(s)", flush=True)  # fmt: skip
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for attempt in range(1, options.repeat + 1):
                outcome = run_pytest(options.pytest_args, Path(scratch) / "junit.xml")
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
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return (f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped "
            f"in {outcome.seconds:.0f} s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
