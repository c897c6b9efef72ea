"""A run's report opened in a real browser (Debian's Chromium driven by Playwright): offline, drawn, exportable."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from browser_support import ARTIFACTS, chromium_page
from conftest import cli
from trustsim.report.figures import RUN_FIGURES

FIGURE_IDS = (*RUN_FIGURES, "agent_story")


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
        page.wait_for_timeout(500)
        for figure_id in FIGURE_IDS:
            drawn = page.evaluate(
                """id => { const gd = document.getElementById(id);
                           return {traces: gd.data.length, laid: !!gd._fullLayout,
                                   marks: gd.querySelectorAll('.trace, .point, path.js-line').length}; }""",
                figure_id,
            )
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
            with page.expect_download(timeout=60_000) as download:
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
