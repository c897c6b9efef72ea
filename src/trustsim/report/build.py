"""Which report a directory gets, and writing it (atomically, beside the results it reads)."""

from __future__ import annotations

from pathlib import Path

from trustsim.errors import InputFileError
from trustsim.report.experiment_report import experiment_report
from trustsim.report.run_report import run_report
from trustsim.store import REPORT, atomic_write, directory_kind


def build_report(directory: str | Path) -> str:
    """The report's HTML for a run directory or an experiment directory."""
    directory = Path(directory)
    if directory_kind(directory) == "run":
        return run_report(directory)
    return experiment_report(directory)


def write_report(directory: str | Path) -> Path:
    """Write ``report.html`` into ``directory`` (replacing an older one) and return its path."""
    directory = Path(directory)
    page = build_report(directory)
    target = directory / REPORT
    try:
        atomic_write(target, lambda path: path.write_text(page, encoding="utf-8"))
    except OSError as err:
        raise InputFileError(f"{target}: cannot write the report ({err.strerror or err})") from None
    return target
