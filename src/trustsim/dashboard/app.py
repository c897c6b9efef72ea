"""The dashboard page (Solara): scenario, policy levers, run controls, live charts, ego network, who bears it, saving.

Served by ``trustsim dashboard`` (see :mod:`trustsim.cli_dashboard` and
``docs/dashboard.md``). Each browser session gets its own :class:`LiveRun`; its worker
thread steps the simulation and the page redraws from the throttled snapshots it
publishes. Lever changes apply to the next run: at once while nothing has been
simulated, after Reset otherwise.
"""

# Solara components are named like classes (Page, Charts ...), as Solara expects.
# ruff: noqa: N802

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import plotly.graph_objects as go
import reacton.ipyvuetify as rv
import solara
from plotly.utils import PlotlyJSONEncoder

from trustsim.dashboard import ego as ego_view
from trustsim.dashboard import who
from trustsim.dashboard.levers import LEVERS, UPLOAD_LIMIT, Lever, Raw, build, defaults, read_upload, too_big
from trustsim.dashboard.live import HEADLINE, LiveRun, Snapshot, Status, one_line, page_words
from trustsim.errors import ScenarioError, TrustsimError
from trustsim.report import figures
from trustsim.scenario import Scenario, load_scenario, read_raw, shipped_scenarios, validate
from trustsim.store import default_run_dir

DEFAULT_SCENARIO = "china_scs"
UPLOADED = "uploaded file"
CHARTS = figures.HEADLINE
"""Figures of :mod:`trustsim.report.figures` drawn live, in order: a run's headline figures."""
CHART_WIDTH = 460
"""Pixels: charts have a fixed width (a widget drawn before its cell is sized would not fit it) and wrap."""
PANEL_WIDTH = 2 * CHART_WIDTH + 12
"""Pixels: the "who bears it" panel spans two charts and the gap between them."""
AGENTS = (1_000, 1_000_000, 1_000)  # slider minimum, maximum, step
DAYS = (1, 730, 1)
LABELS = {
    "blacklisted": "on the blacklist",
    "ever_wrongly_sanctioned": "ever wrongly sanctioned",
    "chilling_effect": "chilling effect",
    "isolated": "isolated",
    "stored_bytes": "stored",
}


@dataclass(frozen=True)
class Settings:
    """What the sliders say: lever values (by name), agents, days and seed."""

    values: tuple[tuple[str, float | None], ...]
    agents: int
    days: int
    seed: int

    @classmethod
    def of(cls, raw: Raw) -> Settings:
        """The settings of a scenario as written (ScenarioError if it is invalid: nothing is made up)."""
        run = validate(raw).run
        return cls(tuple(defaults(raw).items()), run.agents, run.days, run.seed)

    def with_value(self, name: str, value: float) -> Settings:
        """These settings with one lever moved."""
        return replace(self, values=tuple((k, value if k == name else v) for k, v in self.values))


@dataclass(frozen=True)
class Upload:
    """An uploaded scenario file: its name and raw table."""

    name: str
    raw: Raw


def scenario_of(raw: Raw, settings: Settings) -> tuple[Scenario | None, list[str]]:
    """The scenario the sliders describe, or the problems that make it invalid (one line each)."""
    try:
        scenario = build(raw, dict(settings.values), agents=settings.agents, days=settings.days, seed=settings.seed)
    except TrustsimError as err:
        return None, problems_of(err)
    return scenario, []


def problems_of(err: TrustsimError) -> list[str]:
    """An error's problems, one line each."""
    return err.lines(page_words) if isinstance(err, ScenarioError) else [one_line(err)]


def slider_position(value: float, limits: tuple[float, float], step: float) -> float:
    """Where a Vuetify slider puts ``value``: clamped to its range, then rounded to its grid (as VSlider does)."""
    low, high = limits
    clamped = min(max(value, low), high)
    if step <= 0:
        return clamped
    text = repr(float(step)).removesuffix(".0")  # the step as the browser writes it: 10.0 is "10"
    decimals = len(text) - text.index(".") - 1 if "." in text else 0
    offset = math.fmod(low, step)
    snapped = math.floor((clamped - offset) / step + 0.5) * step + offset  # JavaScript's Math.round
    return round(min(snapped, high), decimals)


def moved_by_user(current: float | None, emitted: float, limits: tuple[float, float], step: float) -> bool:
    """Whether a slider's new value is a move, not the slider snapping ``current`` to its grid when drawn.

    Vuetify's slider rounds a value off its grid and sends the rounded one back before
    anyone touches it; taking that as a move would silently change the scenario.
    """
    if current is None:
        return True
    return not math.isclose(emitted, slider_position(current, limits, step), rel_tol=1e-9, abs_tol=1e-12)


def figure_text(name: str, value: float) -> str:
    """A headline figure for display."""
    if math.isnan(value):
        return "–"
    if name == "chilling_effect":
        return f"{value:.1%}"
    if name == "stored_bytes":
        return byte_text(value)
    return f"{value:,.0f}"


def byte_text(value: float) -> str:
    """Bytes with a decimal unit (kB … EB)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(value) < 1000:
            return f"{value:,.3g} {unit}"
        value /= 1000
    return f"{value:,.3g} EB"


def lever_text(value: float | None, step: float) -> str:
    """A lever value with as many decimals as its step has."""
    if value is None:
        return "n/a"
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{decimals}f}"


def chart_figures(snapshot: Snapshot) -> list[tuple[str, go.Figure | str]]:
    """The live charts of a snapshot by name; a chart that cannot be drawn gives its one-line reason instead.

    Before the first day they are empty (drawn from a table with no rows), so that a chart
    keeps its axes, title and legend from day 0 on.
    """
    scenario = snapshot.scenario.resolved()
    drawn: list[tuple[str, go.Figure | str]] = []
    for name in CHARTS:
        try:
            figure = getattr(figures, name)(snapshot.metrics, scenario)
        except Exception as err:  # a chart's failure must not take the page down
            drawn.append((name, f"{name}: {one_line(err)}"))
            continue
        legend = {"yanchor": "top", "y": -0.3}  # below the day axis title at this width
        drawn.append((name, figure.update_layout(width=CHART_WIDTH, autosize=False, legend=legend)))
    return drawn


@solara.component
def LeverSlider(
    name: str, label: str, value: float | None, limits: tuple[float, float], step: float,
    on_value: Callable[[float], None],
) -> None:  # fmt: skip
    """A labelled slider showing its value (classes ``lever-NAME`` and ``value-NAME`` for tests)."""
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0

    def changed(raw_value: Any) -> None:
        if moved_by_user(value, float(raw_value), limits, step):
            on_value(round(float(raw_value), decimals + 2))

    with solara.Column(gap="0px", classes=[f"lever lever-{name}"]):
        with solara.Row(justify="space-between", style={"font-size": "0.85rem"}):
            solara.Text(label)
            solara.Text(lever_text(value, step), classes=[f"lever-value value-{name}"], style={"font-weight": "bold"})
        rv.Slider(v_model=value if value is not None else limits[0], on_v_model=changed, min=limits[0],
                  max=limits[1], step=step, dense=True, hide_details=True, disabled=value is None)  # fmt: skip


@solara.component
def ScenarioPicker(choice: str, set_choice: Callable[[str], None], upload: Upload | None,
                   on_upload: Callable[[Any], None], upload_problems: list[str]) -> None:  # fmt: skip
    """The scenario: a shipped one, or a TOML file dropped on the page (validated; problems shown one per line)."""
    names = [*shipped_scenarios(), *([UPLOADED] if upload is not None else [])]
    solara.Select(label="Scenario", values=names, value=choice, on_value=set_choice)
    Notes([f"from {upload.name}"] if choice == UPLOADED and upload is not None else [])
    solara.FileDrop(label="…or drop a scenario .toml file here", on_file=on_upload, lazy=True)
    Notes(upload_problems, solara.Error, ["upload-problem"])


@solara.component
def RunSliders(raw: Raw, settings: Settings, set_settings: Callable[[Settings], None]) -> None:
    """Population, length, seed and the policy levers."""
    agents = (min(AGENTS[0], settings.agents), max(AGENTS[1], settings.agents))
    LeverSlider("agents", "Agents", settings.agents, agents, AGENTS[2],
                lambda v: set_settings(replace(settings, agents=int(v))))  # fmt: skip
    days = (min(DAYS[0], settings.days), max(DAYS[1], settings.days))
    LeverSlider("days", "Days", settings.days, days, DAYS[2], lambda v: set_settings(replace(settings, days=int(v))))
    solara.InputInt("Seed", value=settings.seed, on_value=lambda v: set_settings(replace(settings, seed=int(v))),
                    dense=True)  # fmt: skip
    values = dict(settings.values)
    for lever in LEVERS:
        LeverControl(lever, raw, values.get(lever.name), settings, set_settings)


@solara.component
def LeverControl(lever: Lever, raw: Raw, value: float | None, settings: Settings,
                 set_settings: Callable[[Settings], None]) -> None:  # fmt: skip
    """The slider of one policy lever."""
    LeverSlider(lever.name, lever.label, value, lever.limits(raw), lever.step,
                lambda v: set_settings(settings.with_value(lever.name, v)))  # fmt: skip


@solara.component
def Controls(snapshot: Snapshot, scenario: Scenario | None, live: LiveRun) -> None:
    """Start, pause, step and reset, with the progress and the run's state."""
    status = snapshot.status
    fresh = not snapshot.built  # day 0, or a failed build: the sliders apply at once

    def prepared(action: Callable[[Scenario | None], None]) -> Callable[[], None]:
        return lambda: action(scenario if fresh else None)

    runnable = scenario is not None or not fresh
    busy = status in (Status.RUNNING, Status.BUILDING)
    with solara.Row(gap="6px", classes=["controls"]):
        solara.Button("Start", on_click=prepared(live.start), color="primary",
                      disabled=busy or status is Status.FINISHED or not runnable, classes=["start"])  # fmt: skip
        solara.Button("Pause", on_click=live.pause, disabled=not busy, classes=["pause"])
        solara.Button("Step", on_click=prepared(live.step), disabled=status is Status.FINISHED or not runnable,
                      classes=["step"])  # fmt: skip
        solara.Button("Reset", on_click=lambda: live.reset(scenario), classes=["reset"])
    days = scenario.run.days if fresh and scenario is not None else snapshot.days
    with solara.Row(style={"align-items": "center"}):
        solara.Text(f"day {snapshot.days_done} / {days}", classes=["progress"], style={"font-size": "1.3rem"})
        solara.Text(status.value, classes=["status"], style={"color": "#666"})
    solara.ProgressLinear(value=100 * snapshot.days_done / max(days, 1) if status is not Status.BUILDING else True)
    Notes([snapshot.error] if snapshot.error else [], solara.Error, ["run-error"])
    stale = not fresh and scenario is not None and scenario != snapshot.scenario
    Notes(["The sliders differ from this run's scenario: Reset to apply them."] if stale else [])


@solara.component
def Headline(snapshot: Snapshot) -> None:
    """The headline figures after the days done."""
    with solara.Row(gap="12px", style={"flex-wrap": "wrap"}):
        for name in HEADLINE:
            with solara.Card(margin=0, style={"min-width": "150px", "padding": "6px 12px"}):
                solara.Text(LABELS[name], style={"font-size": "0.8rem", "color": "#555"})
                solara.Text(figure_text(name, snapshot.figures[name]), classes=[f"headline headline-{name}"],
                            style={"font-size": "1.4rem", "display": "block"})  # fmt: skip


@solara.component
def Notes(messages: list[str], kind: Callable[..., Any] = solara.Info, classes: list[str] | None = None) -> None:
    """Messages in a container that is always there, so that what follows never moves (and is never redrawn)."""
    with solara.Column(gap="4px"):
        for message in messages:
            kind(message, dense=True, classes=classes or [])


@dataclass(frozen=True, eq=False)
class Drawing:
    """A figure handed to a component, compared by identity: comparing two figures costs more than drawing one."""

    figure: go.Figure


@solara.component
def Chart(name: str, drawing: Drawing, width: int = CHART_WIDTH) -> None:
    """One plotly chart in its fixed-size slot (class ``chart-NAME``), kept mounted for the page's life.

    Widgets are never taken away and drawn anew: plotly's front end would then talk to a closed widget.
    """
    with solara.Div(classes=[f"chart chart-{name}"], style={"width": f"{width}px"}):
        LiveFigure(drawing)


@solara.component
def LiveFigure(drawing: Drawing) -> None:
    """A plotly widget showing a figure, updated in place when another drawing comes (see :func:`redraw`)."""
    element = go.FigureWidget.element()
    last_layout = solara.use_ref(cast(dict[str, Any] | None, None))

    def update() -> None:
        last_layout.current = redraw(solara.get_widget(element), drawing.figure, last_layout.current)

    solara.use_effect(update, [drawing])


def redraw(widget: go.FigureWidget, figure: go.Figure, last_layout: dict[str, Any] | None) -> dict[str, Any]:
    """Make ``widget`` show ``figure``; returns the layout sent, for the next call.

    Traces of the same kinds are updated in place and the layout is sent only when it
    changed, all in one message: the browser redraws each chart once per update (the
    plain way, adding the new traces and deleting the old, redraws it three times,
    which a 365-day run's five charts cannot afford several times a second).
    """
    layout = figure.layout.to_plotly_json()
    if [t.type for t in widget.data] != [t.type for t in figure.data]:
        widget.data = ()
        widget.add_traces(figure.data)
        widget.update_layout(layout, overwrite=True)
        return layout
    with widget.batch_update():
        for old, new in zip(widget.data, figure.data, strict=True):
            # Plain lists, not arrays: plotly's widget cannot compare arrays with what the browser sends back.
            values = json.loads(json.dumps(new.to_plotly_json(), cls=PlotlyJSONEncoder))
            values.pop("type", None)
            values.pop("uid", None)
            old.update(values, overwrite=True)
        if layout != last_layout:
            widget.update_layout(layout, overwrite=True)
    return layout


def unavailable(name: str) -> go.Figure:
    """The empty frame of a chart that could not be drawn (the reason is shown above the charts)."""
    figure = go.Figure()
    figure.update_layout(title={"text": f"{name.replace('_', ' ')}: not available"}, width=CHART_WIDTH, height=360,
                         autosize=False, template="plotly_white")  # fmt: skip
    return figure


@solara.component
def Charts(snapshot: Snapshot, live: LiveRun) -> None:
    """The live charts and the ego network (redrawn with each snapshot: throttled by the live run)."""
    drawn = solara.use_memo(lambda: {name: Drawing(figure) if isinstance(figure, go.Figure) else figure
                                     for name, figure in chart_figures(snapshot)}, [snapshot.version])  # fmt: skip
    Notes([text for text in drawn.values() if isinstance(text, str)], solara.Warning)
    Notes(["The charts fill in from the first day."] if snapshot.metrics.empty else [])
    with solara.Row(gap="12px", style={"flex-wrap": "wrap"}):
        for name in CHARTS:
            figure = drawn.get(name)
            Chart(name, figure if isinstance(figure, Drawing) else Drawing(unavailable(name)))
        with solara.Column(style={"width": f"{CHART_WIDTH}px"}):
            EgoView(snapshot, live)


@solara.component
def EgoView(snapshot: Snapshot, live: LiveRun) -> None:
    """An agent, its friends and friends-of-friends, coloured by score; cut friendships dashed."""
    # The field shows the user's own choice, never the snapshot's agent: a redraw must not overwrite typing.
    chosen, set_chosen = solara.use_state(live.ego_agent)
    limits = (snapshot.scenario.score.score_min, snapshot.scenario.score.score_max)

    def choose(agent: int | None) -> None:
        set_chosen(agent)
        live.choose_agent(agent)

    with solara.Row(style={"align-items": "center"}):
        solara.InputInt("Agent (empty: a listed one)", value=chosen, on_value=choose, optional=True, dense=True,
                        classes=["ego-agent"])  # fmt: skip
        solara.Button("A listed agent", on_click=lambda: choose(None), text=True)
    drawing = solara.use_memo(
        lambda: Drawing(ego_view.figure(snapshot.ego, limits, width=CHART_WIDTH) if snapshot.ego is not None
                        else ego_view.empty_figure(width=CHART_WIDTH)),
        [snapshot.version],
    )  # fmt: skip
    Chart("ego", drawing)


@solara.component
def WhoBearsIt(snapshot: Snapshot) -> None:
    """Who bears it: a dimension's groups and their rates, with the disparity line, redrawn with each snapshot.

    The dimension selector has class ``who-dimension``, the line ``who-disparity``, the chart ``chart-who``.
    """
    chosen, set_chosen = solara.use_state(who.DEFAULT_DIMENSION)
    dimension = who.chosen_dimension(snapshot.scenario, chosen)  # another scenario may lack the chosen one
    choices = who.dimension_choices(snapshot.scenario)
    drawing = solara.use_memo(lambda: Drawing(who.figure(snapshot.groups, snapshot.scenario, dimension, PANEL_WIDTH)),
                              [snapshot.version, dimension])  # fmt: skip
    with solara.Column(gap="4px", classes=["who"], style={"width": f"{PANEL_WIDTH}px"}):
        with solara.Row(style={"align-items": "center", "padding-top": "12px"}):
            solara.Text("Who bears it", style={"font-size": "1.2rem", "font-weight": "bold"})
            solara.Select("Groups by", values=list(choices), value=who.dimension_words(dimension),
                          on_value=lambda words: set_chosen(choices[words]), dense=True,
                          classes=["who-dimension"], style={"max-width": "220px"})  # fmt: skip
        solara.Text(who.disparity_line(snapshot.groups, dimension), classes=["who-disparity"])
        Chart("who", drawing, PANEL_WIDTH)


@solara.component
def SavePanel(snapshot: Snapshot, live: LiveRun) -> None:
    """Save the run as a normal run directory (with its report); pauses it first."""
    target, set_target = solara.use_state("")
    built = snapshot.status not in (Status.READY, Status.BUILDING) and snapshot.days_done > 0

    def save() -> None:
        live.save(target.strip() or default_run_dir(snapshot.scenario))

    with solara.Row(style={"align-items": "center", "max-width": f"{2 * CHART_WIDTH}px"}):
        solara.InputText("Save to run directory (empty: runs/NAME-seedS-TIME)", value=target, on_value=set_target,
                         dense=True, classes=["save-target"])  # fmt: skip
        solara.Button("Save", on_click=save, disabled=not built, classes=["save"])
    Notes([f"saved to {snapshot.saved}"] if snapshot.saved else [], solara.Success, ["saved"])


def receive(file: Any) -> tuple[Upload | None, list[str]]:
    """A dropped file (Solara's FileDrop, lazy) read and validated, or its problems, one line each.

    The size is checked before the file is read, and no more than one byte over the
    limit is ever read.
    """
    name = str(file["name"])
    try:
        big = too_big(name, int(file.get("size") or 0))
        if big is not None:
            raise big
        data = file["file_obj"].read(UPLOAD_LIMIT + 1) if file.get("file_obj") is not None else file.get("data")
        raw = read_upload(name, data or b"")
        Settings.of(raw)
    except TrustsimError as err:
        return None, problems_of(err)
    return Upload(name, raw), []


def _raw_of(choice: str, upload: Upload | None) -> Raw:
    """The raw table of the chosen source."""
    if choice == UPLOADED and upload is not None:
        return upload.raw
    return read_raw(choice)


@solara.component
def Page() -> None:
    """The dashboard."""
    choice, set_choice = solara.use_state(DEFAULT_SCENARIO)
    upload, set_upload = solara.use_state(None)
    upload_problems, set_upload_problems = solara.use_state([])
    raw = solara.use_memo(lambda: _raw_of(choice, upload), [choice, upload])
    initial = solara.use_memo(lambda: Settings.of(raw), [raw])
    settings, set_settings = solara.use_state(initial)
    solara.use_effect(lambda: set_settings(initial), [initial])
    scenario, problems = solara.use_memo(lambda: scenario_of(raw, settings), [raw, settings])
    snapshot, set_snapshot = solara.use_state(None)
    live = solara.use_memo(lambda: LiveRun(load_scenario(DEFAULT_SCENARIO), on_update=set_snapshot), [])
    solara.use_effect(lambda: lambda: live.close(0), [])
    current = snapshot if snapshot is not None else live.snapshot

    def on_upload(file: Any) -> None:
        uploaded, problems = receive(file)
        set_upload_problems(problems)
        if uploaded is not None:
            set_upload(uploaded)
            set_choice(UPLOADED)

    solara.Title("trustsim dashboard")
    with solara.Sidebar():
        ScenarioPicker(choice, set_choice, upload, on_upload, upload_problems)
        Notes(problems, solara.Error, ["scenario-problem"])
        RunSliders(raw, settings, set_settings)
    with solara.Column(style={"padding": "8px 16px"}):
        Controls(current, scenario, live)
        SavePanel(current, live)
        Headline(current)
        Charts(current, live)
        WhoBearsIt(current)
