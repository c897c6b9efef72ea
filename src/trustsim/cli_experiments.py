"""The experiment commands of the command line: compare, sweep, sensitivity, query.

They call :mod:`trustsim.experiments` and print its tidy tables; every problem the
user can fix ends in one line and exit code 2, as for ``trustsim run``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from trustsim.cli_report import ReportOption, finish_with_report
from trustsim.errors import TrustsimError
from trustsim.terminal import INTERRUPTED, console, errors, fail, print_frame, progress_bar

Agents = Annotated[int | None, typer.Option(help="agents per run (overrides run.agents)")]
Days = Annotated[int | None, typer.Option(help="days per run (overrides run.days)")]
Seed = Annotated[int | None, typer.Option(help="first seed; replicate r uses seed + r")]
Out = Annotated[
    str | None, typer.Option(help="experiment directory (default experiments/<command>-<name>-<hash>; resumable)")
]
Jobs = Annotated[int | None, typer.Option(help="local worker processes (default: one per core)")]
Cluster = Annotated[
    str | None, typer.Option(help="address of a running Dask scheduler, e.g. tcp://HOST:8786 (docs/experiments.md)")
]
Base = Annotated[list[str] | None, typer.Option("--base", help="override of every run, KEY=VALUE (repeatable)")]
Quiet = Annotated[bool, typer.Option("--quiet", help="no progress bar")]
GroupMetrics = Annotated[
    list[str] | None,
    typer.Option("--metric", help="a groups quantity to add, e.g. gap:ever_wrongly_sanctioned:income_quintile "
                                  "(repeatable; docs/experiments.md)"),
]


def register(app: typer.Typer) -> None:
    """Add the experiment commands to the ``trustsim`` app."""
    app.command()(compare)
    app.command()(sweep)
    app.command()(sensitivity)
    app.command()(query)
    app.command()(calibrate)


def _with_runs(quiet: bool, title: str, work: Callable[[Callable[[int, int], None]], Any]) -> Any:
    try:
        with progress_bar(quiet, unit="runs") as progress:
            task = progress.add_task(title, total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return work(on_progress)
    except TrustsimError as err:
        fail(err)
    except KeyboardInterrupt:
        errors.print(
            "error: interrupted; the finished runs are stored: repeat the command to run the others", markup=False
        )
        raise typer.Exit(code=INTERRUPTED) from None


def compare(
    a: Annotated[str, typer.Argument(help="scenario A: shipped name or .toml path")],
    b: Annotated[str | None, typer.Argument(help="scenario B (default: A, changed by --b-set)")] = None,
    reps: Annotated[int, typer.Option(help="replicate pairs (seeds)")] = 10,
    agents: Agents = None,
    days: Days = None,
    seed: Seed = None,
    base: Base = None,
    b_set: Annotated[
        list[str] | None,
        typer.Option("--b-set", help="a change of B only, KEY=VALUE (repeatable); B is named after its changes"),
    ] = None,
    independent_seeds: Annotated[
        bool, typer.Option("--independent-seeds", help="give B its own seeds instead of A's (wider intervals)")
    ] = False,
    metric: GroupMetrics = None,
    out: Out = None,
    jobs: Jobs = None,
    cluster: Cluster = None,
    report: ReportOption = True,
    quiet: Quiet = False,
) -> None:
    """Run A and B on the same seeds and print B − A per headline metric with a 95% confidence interval."""
    from trustsim.experiments import compare as run_compare
    from trustsim.experiments.api import variant_name

    name_b = variant_name(a if b is None else b, b_set or ())
    table = _with_runs(quiet, f"compare {a} vs {name_b}", lambda on_progress: run_compare(
        a, b, reps, agents=agents, days=days, seed=seed, overrides=base or (), b_changes=b_set or (),
        independent=independent_seeds, metrics=metric or (), out=out, jobs=jobs, cluster=cluster,
        on_progress=on_progress,
    ))  # fmt: skip
    pairing = "independent seeds" if independent_seeds else "common random numbers"
    print_frame(table, f"{name_b} − {a}: {reps} replicates, {pairing}", list(table.columns),
                dispensable=[("n_a", "n_b"), ("mean_a", "mean_b"), ("ci_low", "ci_high")])  # an interval whole
    differs = table.attrs.get("society_differs") or []
    if differs:
        console.print(
            f"note: {a} and {name_b} are different societies ({', '.join(differs)} differ), so a pair shares few "
            "draws: the differences compare two systems on two populations, not one policy change. "
            "A metric one scenario lacks (a sanction it has no such thing as, no dissent to chill) shows – ."
        )
    console.print(f"experiment in {table.attrs['folder']}")
    finish_with_report(table.attrs["folder"], report, quiet)


def sweep(
    scenario: Annotated[str, typer.Argument(help="shipped name or .toml path")],
    set_: Annotated[
        list[str], typer.Option("--set", help="KEY=START:STOP:STEP or KEY=V1,V2,… (repeatable; full factorial)")
    ],
    reps: Annotated[int, typer.Option(help="seeds per setting")] = 1,
    agents: Agents = None,
    days: Days = None,
    seed: Seed = None,
    base: Base = None,
    metric: GroupMetrics = None,
    out: Out = None,
    jobs: Jobs = None,
    cluster: Cluster = None,
    report: ReportOption = True,
    quiet: Quiet = False,
) -> None:
    """Run the full factorial of the settings × replicates; print the mean headline metrics per setting."""
    from trustsim.experiments import sweep as run_sweep

    runs = _with_runs(quiet, f"sweep {scenario}", lambda on_progress: run_sweep(
        scenario, set_, reps, agents=agents, days=days, seed=seed, overrides=base or (), metrics=metric or (),
        out=out, jobs=jobs, cluster=cluster, on_progress=on_progress,
    ))  # fmt: skip
    keys = [text.partition("=")[0].strip() for text in set_]
    shown = ["ever_wrongly_sanctioned", "blacklisted", "chilling_effect", "isolated", *(metric or [])]
    done = runs[runs["status"] == "done"]
    if len(done):
        summary = done.groupby(keys, as_index=False)[[m for m in shown if m in done]].mean()
        print_frame(summary, f"{scenario}: mean over {reps} replicate(s)", list(summary.columns))
    failed = len(runs) - len(done)
    console.print(f"{len(done)} runs done, {failed} failed; experiment in {runs.attrs['folder']}")
    finish_with_report(runs.attrs["folder"], report, quiet)


def sensitivity(
    scenario: Annotated[str, typer.Argument(help="shipped name or .toml path")],
    vary: Annotated[list[str], typer.Option("--vary", help="KEY=LO:HI (repeatable)")],
    method: Annotated[str, typer.Option(help="sobol or morris")] = "sobol",
    samples: Annotated[int, typer.Option(help="base samples N (sobol: N·(D+2) runs; morris: N·(D+1))")] = 64,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="headline metric or groups quantity (repeatable)")
    ] = None,
    agents: Agents = None,
    days: Days = None,
    seed: Seed = None,
    base: Base = None,
    out: Out = None,
    jobs: Jobs = None,
    cluster: Cluster = None,
    report: ReportOption = True,
    quiet: Quiet = False,
) -> None:
    """Global sensitivity of headline metrics to parameter ranges (SALib), with confidence intervals."""
    from trustsim.experiments import sensitivity as run_sensitivity

    options: dict[str, Any] = {"metrics": metric} if metric else {}
    table = _with_runs(quiet, f"sensitivity {scenario}", lambda on_progress: run_sensitivity(
        scenario, vary, method=method, samples=samples, agents=agents, days=days, seed=seed, overrides=base or (),
        out=out, jobs=jobs, cluster=cluster, on_progress=on_progress, **options,
    ))  # fmt: skip
    print_frame(table, f"{scenario}: {method} indices", list(table.columns))
    console.print(f"experiment in {table.attrs['folder']}")
    finish_with_report(table.attrs["folder"], report, quiet)


def calibrate(
    scenario: Annotated[str, typer.Argument(help="shipped name or .toml path")],
    target: Annotated[
        list[str],
        typer.Option("--target", help="NAME=VALUE: a yearly figure for --population people, or QUANTITY=VALUE: a "
                                      "groups quantity at the run's end, e.g. rate:ever_sanctioned:age_band=18–29=0.25 "
                                      "(repeatable)"),
    ],
    vary: Annotated[
        list[str] | None, typer.Option("--vary", help="KEY=LO:HI, a parameter to fit (repeatable; none: score only)")
    ] = None,
    population: Annotated[
        float | None, typer.Option(help="people the targets count (default: the simulated agents), e.g. 1.4e9")
    ] = None,
    budget: Annotated[int, typer.Option(help="trials in all (a larger one continues the same study)")] = 40,
    reps: Annotated[int, typer.Option(help="seeds per trial (the same seeds for every trial)")] = 3,
    agents: Agents = None,
    days: Days = None,
    seed: Seed = None,
    base: Base = None,
    name: Annotated[str | None, typer.Option(help="name of the calibrated scenario")] = None,
    description: Annotated[str | None, typer.Option(help="its one-line description")] = None,
    write: Annotated[
        str | None, typer.Option(help="where to write the calibrated scenario (default NAME.toml)")
    ] = None,
    out: Out = None,
    jobs: Jobs = None,
    cluster: Cluster = None,
    quiet: Quiet = False,
) -> None:
    """Fit parameters so that the scenario reproduces observed yearly figures (scipy least squares; Dask; resumable)."""
    from trustsim.experiments import calibrate as run_calibrate

    result = _with_runs(quiet, f"calibrate {scenario}", lambda on_progress: run_calibrate(
        scenario, target, vary or (), population=population, budget=budget, reps=reps, agents=agents, days=days,
        seed=seed, overrides=base or (), name=name, description=description, write=write, out=out, jobs=jobs,
        cluster=cluster, on_progress=on_progress,
    ))  # fmt: skip
    trials = result.trials
    shown = trials.sort_values("misfit").head(20) if len(trials) > 20 else trials
    print_frame(shown, f"trials ({len(trials)}; the best 20 shown)" if len(trials) > 20 else "trials",
                list(shown.columns))  # fmt: skip
    if result.best:
        console.print("best values: " + ", ".join(f"{key} = {value:.6g}" for key, value in result.best.items()))
    fits = result.fits.assign(relative_error=[f"{e:+.1%}" for e in result.fits["relative_error"]])
    print_frame(fits, f"fit of each target: mean of {result.reps} seeds, with its standard error",
                list(fits.columns))  # fmt: skip
    if result.written is not None:
        console.print(f"calibrated scenario written to {result.written}")
    console.print(f"experiment in {result.folder}")


def query(
    experiment: Annotated[str, typer.Argument(help="an experiment directory")],
    sql: Annotated[
        str, typer.Argument(help='SQL over table runs, e.g. "SELECT status, count(*) FROM runs GROUP BY 1"')
    ],
) -> None:
    """Answer an SQL question over an experiment's catalog (DuckDB, table runs)."""
    from trustsim.experiments import query as run_query

    try:
        frame = run_query(experiment, sql)
    except TrustsimError as err:
        fail(err)
    console.print(frame.to_string(index=False))
