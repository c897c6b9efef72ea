"""A run's manifest: what produced it, how it went, and the process facts it records."""

from __future__ import annotations

import contextlib
import platform
import resource
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numba
import numpy as np

from trustsim.api.options import RunOptions
from trustsim.errors import RunDirectoryError
from trustsim.scenario import Scenario
from trustsim.store import RunDirectory


def trustsim_version() -> str:
    """The installed trustsim version."""
    try:
        return version("trustsim")
    except PackageNotFoundError:
        return "0+unknown"


def peak_memory_bytes() -> int:
    """Peak resident memory of this process so far.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: unlike ``ru_maxrss`` it is not
    inherited from the parent across ``exec``, so a benchmark's child reports its own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def new_manifest(scenario: Scenario, options: RunOptions, branch: dict[str, Any] | None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "trustsim_version": trustsim_version(),
        "complete": False,
        "status": "running",
        "scenario_name": scenario.name,
        "seed": scenario.run.seed,
        "agents": scenario.run.agents,
        "days": scenario.run.days,
        "days_done": 0,
        "backend": options.backend,
        "options": options.model_dump(),
        "started": datetime.now(UTC).isoformat(),
        "platform": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
        "scenario": scenario.resolved(),
    }
    if branch is not None:
        manifest["branch"] = branch
    return manifest


def record_failure(directory: RunDirectory, manifest: dict[str, Any], err: BaseException) -> None:
    """Mark the manifest failed (or aborted), best effort: the disk may be what failed."""
    manifest["complete"] = False
    manifest["status"] = "aborted" if isinstance(err, KeyboardInterrupt) else "failed"
    manifest["error"] = (str(err).splitlines() or [type(err).__name__])[0]
    with contextlib.suppress(RunDirectoryError):
        directory.write_manifest(manifest)
