"""A run's report opened in a real browser (Debian's Chromium driven by Playwright): offline, drawn, exportable."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from playwright.sync_api import Page

from browser_support import ARTIFACTS, chromium_page
from conftest import cli
from trustsim.report.figures import RUN_FIGURES

BEARING = tuple(f"bearing_{d}" for d in ("region", "income_quintile", "outspoken", "cashless", "privacy_minded"))
"""The "Who bears it" figures of a society without households or ages: one per dimension."""
FIGURE_IDS = (*RUN_FIGURES, *BEARING, "agent_story")
DRAWN = """id => { const gd = document.getElementById(id);
                  return {traces: gd.data.length, laid: !!gd._fullLayout,
                          marks: gd.querySelectorAll('.trace, .point, path.js-line').length}; }"""
"""JavaScript: what a figure holds and shows (its traces, whether it is laid out, the marks drawn)."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "run"
    done = cli("run", "china_scs", "--agents", "5000", "--days", "60", "--seed", "2", "--out", str(out), "--quiet",
               "--set", "blacklist.blacklist_score=985")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out / "report.html"


def test_the_report_renders_every_figure_offline_without_errors(report: Path) -> None:
    with chromium_page() as (page, activity):
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {len(FIGURE_IDS)}")
        page.wait_for_function(f"ids => ids.every(id => ({DRAWN})(id).marks > 0)", arg=list(FIGURE_IDS))  # all drawn
        for figure_id in FIGURE_IDS:
            drawn = page.evaluate(DRAWN, figure_id)
            assert drawn["traces"] > 0 and drawn["laid"] and drawn["marks"] > 0, (figure_id, drawn)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        assert activity.errors == [], activity.errors
        assert activity.foreign_requests(allowed=("file://",)) == []


def test_every_figure_exports_svg_and_the_buttons_download_svg_and_png(report: Path, tmp_path: Path) -> None:
    """Every figure renders to SVG in the page; the buttons download files (one per page: Chromium holds back
    a second download from a page once the click that asked for it is a few seconds old)."""
    for figure_id, fmt, magic in (("agent_story", "svg", b"<svg"), ("blacklist", "png", b"\x89PNG")):
        with chromium_page() as (page, activity):
            page.goto(report.as_uri())
            page.wait_for_selector(f"#{figure_id} .main-svg")
            with page.expect_download() as download:
                page.click(f'button[data-figure="{figure_id}"][data-format="{fmt}"]')
            target = tmp_path / f"{figure_id}.{fmt}"
            download.value.save_as(target)
            assert target.read_bytes().startswith(magic), (figure_id, fmt)
            assert activity.errors == [], activity.errors
    with chromium_page() as (page, activity):
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(FIGURE_IDS)}")
        for figure_id in FIGURE_IDS:
            image = page.evaluate(
                "id => Plotly.toImage(document.getElementById(id), {format: 'svg', width: 800, height: 400})",
                figure_id,
            )
            svg = unquote(image.split(",", 1)[1])
            assert image.startswith("data:image/svg+xml") and "<svg" in svg and "class=\"main-svg\"" in svg, figure_id
        assert activity.errors == [], activity.errors


def _drawn(page: Page, figure_id: str) -> dict[str, object]:
    return page.evaluate(
        """id => { const gd = document.getElementById(id);
                   return {traces: gd.data.length, laid: !!gd._fullLayout,
                           marks: gd.querySelectorAll('.trace, .point, path.js-line, .bars path').length}; }""",
        figure_id,
    )


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("china_family", ("bearing_age_band", "bearing_has_children", "bearing_age_over_time", "bearing_children")),
        ("uk_credit", ("bearing_age_band", "bearing_age_over_time")),
    ],
)
def test_family_and_credit_runs_say_who_bears_it_and_draw_it(
    name: str, extra: tuple[str, ...], tmp_path: Path
) -> None:
    """`trustsim run china_family` and `uk_credit` end with a line of who bears it; the report's section draws."""
    out = tmp_path / name
    overrides = ("--set", "blacklist.blacklist_score=985") if name == "china_family" else ()
    done = cli("run", name, "--agents", "5000", "--days", "400", "--seed", "3", "--out", str(out), *overrides)
    assert done.returncode == 0, done.stderr
    line = next(text for text in done.stdout.splitlines() if text.startswith("who bears it — "))
    assert "the poorest fifth" in line and "ages 18–" in line
    if name == "china_family":
        assert "children barred by private_school_ban" in line
    ids = (*BEARING, *extra)
    with chromium_page() as (page, activity):
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector("h2:has-text('Who bears it')")
        for figure_id in ids:
            page.wait_for_selector(f"#{figure_id} .main-svg")
            drawn = _drawn(page, figure_id)
            assert drawn["traces"] > 0 and drawn["laid"] and drawn["marks"] > 0, (figure_id, drawn)
        assert page.locator("text=Disparities on day 399").count() == 1
        assert activity.errors == [], activity.errors
        assert activity.foreign_requests(allowed=("file://",)) == []
