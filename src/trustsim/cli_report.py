"""The ``trustsim report`` command, and the report every run and experiment command writes at its end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustsim.errors import TrustsimError
from trustsim.terminal import console, errors, fail

ReportOption = Annotated[
    bool, typer.Option("--report/--no-report", help="write report.html into the output directory at the end")
]


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``trustsim`` app."""
    app.command()(report)


def report(
    directory: Annotated[Path, typer.Argument(help="a run directory or an experiment directory")],
) -> None:
    """(Re)build DIRECTORY/report.html: one self-contained page of figures that opens offline."""
    from trustsim.report import write_report

    try:
        path = write_report(directory)
    except TrustsimError as err:
        fail(err)
    console.print(f"report written to {path}")


def report_after(directory: str | Path, wanted: bool, quiet: bool) -> bool:
    """Write the report of a command's output; False (and one line saying the results are intact) if it failed."""
    if not wanted:
        return True
    from trustsim.report import write_report

    try:
        path = write_report(directory)
    except TrustsimError as err:
        errors.print(
            f"error: {err}; the results are written, rebuild the report with `trustsim report {directory}`",
            markup=False,
            highlight=False,
        )
        return False
    if not quiet:
        console.print(f"report written to {path}")
    return True


def finish_with_report(directory: str | Path, wanted: bool, quiet: bool) -> None:
    """:func:`report_after` for a command that succeeded: a failed report makes it exit 2."""
    if not report_after(directory, wanted, quiet):
        raise typer.Exit(code=2)
