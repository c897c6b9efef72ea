"""What the command line prints: the consoles, one-line errors, progress bars and number formats.

Shared by :mod:`trustsim.cli` and :mod:`trustsim.cli_experiments`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import typer
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

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
    """``value`` in a few characters: a count below ten billion whole (``17,460,000``), a number from ten
    thousand to a million to the unit (``12,346``), anything else to four significant figures
    (``0.3333``, ``1.29e+14``); NaN as ``–``."""
    if value != value:  # NaN
        return "–"
    if float(value).is_integer() and abs(value) < 1e10:
        return f"{int(value):,}"
    if 1e4 <= abs(value) < 1e6:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def print_frame(
    frame: Any, title: str, columns: list[str], dispensable: Sequence[Sequence[str]] = (), out: Console | None = None
) -> None:
    """Print ``frame``'s ``columns`` as a table that never cuts a number or a name.

    Numbers have a few significant figures (:func:`number`) and their columns are as wide
    as their widest value; headers wrap between words. When the terminal is too narrow
    for every column, columns are left out, the groups of ``dispensable`` first (the least
    needed first, a group's columns together), then one by one from the right, and named
    in a line below the table.
    """
    out = out or console
    numeric = {c: is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c]) for c in columns}
    cells = {c: [number(v) if numeric[c] else str(v) for v in frame[c]] for c in columns}
    headers = {c: c if "." in c else c.replace("_", " ") for c in columns}  # a scenario key stays as typed
    widths = {c: _column_width(headers[c], cells[c]) for c in columns}
    grouped = {c for group in dispensable for c in group}
    leaving = [[c for c in group if c in columns] for group in dispensable]
    leaving += [[c] for c in reversed(columns[1:]) if c not in grouped]
    shown = list(columns)
    while leaving and sum(widths[c] + 3 for c in shown) + 1 > out.width:
        gone = leaving.pop(0)
        shown = [c for c in shown if c not in gone]
    table = Table(title=escape(title))
    for column in shown:
        header = "\n".join(textwrap.wrap(headers[column], widths[column], break_long_words=False))
        table.add_column(escape(header), justify="right" if numeric[column] else "left", no_wrap=True,
                         width=widths[column])  # fmt: skip
    for row in zip(*(cells[c] for c in shown), strict=True):
        table.add_row(*map(escape, row))
    out.print(table)
    left_out = [headers[c] for c in columns if c not in shown]
    if left_out:
        out.print(f"not shown, for the terminal's width: {escape(', '.join(left_out))} (widen it to see them)")


def _column_width(header: str, values: list[str]) -> int:
    # The narrowest the column can be: its widest value, or the header's longest word.
    return max([len(word) for word in header.split()] + [len(value) for value in values])
