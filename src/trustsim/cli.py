"""The ``trustsim`` command line: run, validate, scenarios, schema.

Every problem the user can fix ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from trustsim.errors import TrustsimError
from trustsim.scenario import json_schema, load_scenario, read_raw, shipped_scenarios, validate

app = typer.Typer(
    name="trustsim",
    help="Simulate synthetic societies under a social credit system (MODEL.md).",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a parameter by dotted path, e.g. --set score.contagion=0 (repeatable)"),
]


def _fail(message: str) -> None:
    for line in message.splitlines() or [message]:
        errors.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="a shipped scenario's name or a scenario .toml path")],
    agents: Annotated[int | None, typer.Option(help="number of agents (overrides run.agents)")] = None,
    days: Annotated[int | None, typer.Option(help="number of days (overrides run.days)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed, 0 to 2**32-1 (overrides run.seed)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="run directory to create (default runs/<name>-seed<S>-<time>)")
    ] = None,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar or summary")] = False,
) -> None:
    """Run a scenario and write manifest.json, metrics.parquet and agents.parquet."""
    from trustsim.api import run as run_scenario

    try:
        resolved = load_scenario(scenario, overrides=set_ or (), agents=agents, days=days, seed=seed)
        n_agents, n_days = resolved.run.agents, resolved.run.days
        with _progress(quiet) as progress:
            task = progress.add_task(f"{resolved.name}: {n_agents:,} agents", total=n_days)
            result = run_scenario(resolved, out=out, on_day=lambda _t: progress.advance(task))
    except TrustsimError as err:
        _fail(str(err))
    except KeyboardInterrupt:
        errors.print("error: interrupted; no run directory was written", markup=False)
        raise typer.Exit(code=130) from None
    except MemoryError:
        _fail("out of memory; try fewer --agents")
    if not quiet:
        _print_summary(result.summary(), result.manifest, result.run_dir)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def _print_summary(summary: dict[str, float], manifest: dict, run_dir: Path) -> None:
    table = Table(title=f"{manifest['scenario_name']} — {manifest['agents']:,} agents, {manifest['days']} days")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in summary.items():
        table.add_row(name.replace("_", " "), _format(value))
    console.print(table)
    seconds = manifest["wall_seconds"]
    rate = manifest["agents"] * manifest["days"] / max(seconds["simulate"], 1e-9)
    console.print(
        f"build {seconds['build']:.1f} s, simulate {seconds['simulate']:.1f} s ({rate:,.0f} agent-steps/s), "
        f"write {seconds['write']:.1f} s, peak memory {manifest['peak_memory_bytes'] / 2**20:,.0f} MiB"
    )
    console.print(f"run written to {run_dir}")


def _format(value: float) -> str:
    if value != value:  # NaN
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1e6:
        return f"{value:.3e}"
    return f"{value:.4g}"


@app.command("validate")
def validate_command(
    file: Annotated[str, typer.Argument(help="a scenario .toml path or a shipped name")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file; print every problem, one per line."""
    try:
        scenario = load_scenario(file, overrides=set_ or ())
    except TrustsimError as err:
        _fail(str(err))
    console.print(
        f"{file}: valid scenario {scenario.name!r} ({scenario.run.agents:,} agents, {scenario.run.days} days)"
    )


@app.command()
def scenarios() -> None:
    """List the shipped scenarios with a one-line description."""
    table = Table(title="shipped scenarios")
    table.add_column("name")
    table.add_column("description")
    for name in shipped_scenarios():
        try:
            description = validate(read_raw(name)).description
        except TrustsimError as err:
            description = f"(invalid: {err})"
        table.add_row(name, description)
    console.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a scenario file."""
    sys.stdout.write(json_schema())


def main() -> None:
    """Console-script entry point: usage errors too end in one line and exit code 2.

    Idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, unless
    set otherwise): on a machine shared with other work, spinning threads that lose
    their core make each parallel phase wait for a time slice, which was measured to
    slow a run twenty-fold; on an idle machine passive waiting costs about 10%.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    arguments = sys.argv[1:] or ["--help"]
    try:
        code = app(arguments, standalone_mode=False)
    except typer.TyperException as err:  # usage errors: unknown option, bad value, missing argument
        context = getattr(err, "ctx", None)
        where = context.command_path if context is not None else "trustsim"
        errors.print(f"error: {err.format_message()} (see `{where} --help`)", markup=False, highlight=False)
        sys.exit(2)
    except typer.Abort:
        errors.print("error: interrupted", markup=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
