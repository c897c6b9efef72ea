"""What the command line prints: the consoles, one-line errors, progress bars and number formats.

Shared by :mod:`trustsim.cli` and :mod:`trustsim.cli_experiments`.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from trustsim.errors import Setting, TrustsimError, setting_words

console = Console()
errors = Console(stderr=True, soft_wrap=True)

INTERRUPTED = 130
"""Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it."""


FLAGS = {"run.agents": "--agents", "run.days": "--days", "run.seed": "--seed", "override": "--set"}
"""The command line's flag for each run setting an error may name (other run options: ``--their-name``)."""


def flag_words(setting: Setting) -> str:
    """A setting as the command line takes it: ``--agents 5600000``, ``--check``, ``--backend cpu``.

    A scenario parameter (a dotted key such as ``score.contagion``) keeps its name.
    """
    flag = FLAGS.get(setting.key)
    if flag is None and "." in setting.key:
        return setting_words(setting)
    flag = flag or f"--{setting.key.replace('_', '-')}"
    return flag if setting.value is None else f"{flag} {setting.value}"


def fail(problem: str | TrustsimError) -> None:
    """Print each problem on one line (control characters escaped), settings worded as flags; exit with code 2."""
    lines = problem.lines(flag_words) if isinstance(problem, TrustsimError) else problem.split("\n")
    for line in lines:
        printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        errors.print(f"error: {printable}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def progress_bar(quiet: bool, unit: str = "days") -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def number(value: float) -> str:
    if value != value:  # NaN
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e6:
        return f"{value:.3e}"
    return f"{value:.4g}"
