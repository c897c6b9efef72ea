"""The ``trustsim`` command line: run, resume, validate, scenarios, schema (and the experiment commands).

Every problem the user can fix ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from trustsim import cli_dashboard, cli_experiments, cli_report
from trustsim.cli_report import ReportOption, finish_with_report, report_after
from trustsim.errors import TrustsimError
from trustsim.scenario import Scenario, json_schema, load_scenario, read_raw, shipped_scenarios, validate
from trustsim.terminal import INTERRUPTED, console, errors, fail, number, progress_bar

if TYPE_CHECKING:
    from trustsim.api import Result

app = typer.Typer(
    name="trustsim",
    help="Simulate synthetic societies under a social credit system (the model: docs/model.md).",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a parameter by dotted path, e.g. --set score.contagion=0 (repeatable)"),
]


CheckOption = Annotated[
    bool, typer.Option("--check", help="check the invariants (bounds, counts, no NaN) at the end of every day")
]
QuietOption = Annotated[bool, typer.Option("--quiet", help="no progress bar or summary")]
BROKEN_INVARIANT = 3
"""Exit code of a run whose --check found a broken invariant (a bug to report, not bad input)."""


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
    checkpoint_every: Annotated[
        int | None, typer.Option(help="save the full state every K days in RUN_DIR/checkpoints (for resume)")
    ] = None,
    keep_checkpoints: Annotated[int, typer.Option(help="how many of the latest checkpoints to keep")] = 1,
    from_: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="continue the society saved in this checkpoint under SCENARIO's policy (with --set changes); "
            "--days is then the total length",
        ),
    ] = None,
    check: CheckOption = False,
    backend: Annotated[
        str,
        typer.Option(help="where the kernels run: cpu, or gpu (numba-cuda on an NVIDIA GPU; same draws as cpu)"),
    ] = "cpu",
    agents_out: Annotated[
        str,
        typer.Option(help="agents.parquet: 'all', or 'sample=N' for N agents evenly spaced by id (huge runs)"),
    ] = "all",
    report: ReportOption = True,
    quiet: QuietOption = False,
) -> None:
    """Run a scenario and write manifest.json, metrics.parquet, agents.parquet, trace.parquet and report.html.

    Ctrl-C stops at the end of the day and writes what was collected (finish it with
    `trustsim resume RUN_DIR`).
    """
    from trustsim.api import run as run_scenario

    def start(progress: ProgressHooks) -> Result:
        return run_scenario(
            scenario, agents=agents, days=days, seed=seed, overrides=set_ or (), out=out, check=check,
            checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, start_from=from_,
            on_start=progress.start, on_day=progress.day, backend=backend, agents_out=agents_out,
            on_plan=None if quiet else progress.plan, on_compile=progress.compiling,
        )  # fmt: skip

    _with_progress(start, quiet, report)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="the directory of a run that was stopped or killed")],
    backend: Annotated[
        str | None, typer.Option(help="finish it on this backend, cpu or gpu (default: the one it started on)")
    ] = None,
    report: ReportOption = True,
    quiet: QuietOption = False,
) -> None:
    """Finish a stopped or killed run from its latest checkpoint, with the options it was started with."""
    from trustsim.api import resume as resume_run

    def start(progress: ProgressHooks) -> Result:
        plan = None if quiet else progress.plan
        return resume_run(run_dir, on_start=progress.start, on_day=progress.day, on_plan=plan, backend=backend,
                          on_compile=progress.compiling)  # fmt: skip

    _with_progress(start, quiet, report)


class ProgressHooks:
    """A progress bar over the days, started once the run knows its scenario."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self.compile_task: TaskID | None = None

    def compiling(self) -> None:
        """Called by a CPU run before it compiles its kernels: say so while it happens."""
        self.compile_task = self.progress.add_task(
            "compiling kernels, or loading them from numba's cache (a minute on a machine's first run)", total=None
        )

    def start(self, scenario: Scenario, days_done: int) -> None:
        """Called by the run before its first day: show the bar, filled up to ``days_done``."""
        if self.compile_task is not None:
            self.progress.remove_task(self.compile_task)
            self.compile_task = None
        description = f"{scenario.name}: {scenario.run.agents:,} agents"
        self.task = self.progress.add_task(description, total=scenario.run.days, completed=days_done)

    def plan(self, lines: list[str]) -> None:
        """Called by a GPU run before its first day: print its memory plan."""
        for line in lines:
            self.progress.console.print(line, highlight=False)

    def day(self, t: int) -> None:
        """Called after day ``t``."""
        if self.task is not None:
            self.progress.update(self.task, completed=t + 1)


def _with_progress(start: Callable[[ProgressHooks], Result], quiet: bool, report: bool) -> None:
    """Run ``start`` under a progress bar; turn every outcome into a message and an exit code.

    With ``report``, the run directory gets its ``report.html`` (of the days done, for a
    run stopped early).
    """
    from trustsim.checks import InvariantError

    try:
        with progress_bar(quiet) as progress:
            result = start(ProgressHooks(progress))
    except TrustsimError as err:
        fail(err)
    except InvariantError as err:
        errors.print(f"error: invariant broken: {err} (a bug in trustsim; please report it)", markup=False)
        raise typer.Exit(code=BROKEN_INVARIANT) from None
    except KeyboardInterrupt:
        errors.print(
            "error: interrupted in the middle of a day; the run is marked incomplete "
            "(`trustsim resume RUN_DIR` finishes it from its last checkpoint)",
            markup=False,
        )
        raise typer.Exit(code=INTERRUPTED) from None
    except MemoryError:
        fail("out of memory; try fewer --agents")
    if not result.complete:
        m = result.manifest
        errors.print(
            f"interrupted after day {m['days_done']} of {m['days']}: wrote those days to {result.run_dir} "
            f"(marked incomplete); finish with `trustsim resume {result.run_dir}`",
            markup=False,
            highlight=False,
        )
        report_after(result.run_dir, report and m["days_done"] > 0, quiet)  # its failure leaves the exit code
        raise typer.Exit(code=INTERRUPTED)
    if not quiet:
        _print_summary(result)
    finish_with_report(result.run_dir, report, quiet)


def _print_summary(result: Result) -> None:
    from trustsim.disparity import children_barred, who_bears_it

    manifest = result.manifest
    table = Table(title=f"{manifest['scenario_name']} — {manifest['agents']:,} agents, {manifest['days']} days")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in result.summary().items():
        table.add_row(name.replace("_", " "), number(value))
    console.print(table)
    bearing = who_bears_it(result.groups, children_barred(result.metrics))
    if bearing is not None:
        console.print(f"who bears it — {bearing}", highlight=False, soft_wrap=True)
    seconds = manifest["wall_seconds"]
    rate = manifest["agents"] * manifest["days"] / max(seconds["simulate"], 1e-9)
    compiled = f"compile {seconds['compile']:.1f} s, " if "compile" in seconds else ""
    console.print(
        f"{compiled}build {seconds['build']:.1f} s, simulate {seconds['simulate']:.1f} s ({rate:,.0f} agent-steps/s), "
        f"write {seconds['write']:.1f} s, peak memory {manifest['peak_memory_bytes'] / 2**20:,.0f} MiB"
    )
    if "memory" in manifest:
        memory = manifest["memory"]
        console.print(
            f"memory: {memory['bytes_per_agent']:,.0f} bytes an agent (state {memory['state_bytes_per_agent']:,.0f}, "
            f"network {memory['network_bytes_per_agent']:,.0f}, scratch {memory['scratch_bytes_per_agent']:,.0f}), "
            f"estimated peak {memory['estimated_peak_bytes'] / 2**20:,.0f} MiB",
            highlight=False,
        )
    console.print(f"run written to {result.run_dir}")


@app.command("validate")
def validate_command(
    file: Annotated[str, typer.Argument(help="a scenario .toml path or a shipped name")],
    set_: SetOption = None,
) -> None:
    """Check a scenario file; print every problem, one per line."""
    try:
        scenario = load_scenario(file, overrides=set_ or ())
    except TrustsimError as err:
        fail(err)
    console.print(
        f"{file}: valid scenario {scenario.name!r} ({scenario.run.agents:,} agents, {scenario.run.days} days)"
    )


@app.command("compile")
def compile_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="scenarios (shipped names or .toml paths); default: every shipped one")
    ] = None,
) -> None:
    """Compile the kernels the runs of these scenarios call into numba's cache, so that no run waits for it.

    `make` does this once at set-up; a run also compiles what it lacks before its first
    day and reports that time apart from its simulation time.
    """
    from trustsim.compilation import warm_up

    for name in names or shipped_scenarios():
        try:
            scenario = load_scenario(name)
        except TrustsimError as err:
            fail(err)
        with console.status(f"compiling the kernels of {scenario.name}"):
            seconds = warm_up(scenario)
        console.print(f"{scenario.name}: kernels compiled or loaded from cache in {seconds:.1f} s", highlight=False)


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


cli_experiments.register(app)
cli_report.register(app)
cli_dashboard.register(app)


def main() -> None:
    """Console-script entry point: usage errors too end in one line and exit code 2.

    Idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, unless
    set otherwise): on a machine shared with other work, spinning threads that lose
    their core make each parallel phase wait for a time slice, which was measured to
    slow a run twenty-fold; on an idle machine passive waiting costs about 25% at 100,000
    agents (a year in 4.1–4.5 s against 3.4–3.5 s, 2026-12-05), less for bigger runs.
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
