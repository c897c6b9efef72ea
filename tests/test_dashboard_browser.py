"""The dashboard in a real browser (Debian's Chromium driven by Playwright): offline, live, drawn, savable.

The server runs as ``trustsim dashboard`` in a child process on a free port; the tests
move sliders the way a keyboard user would, run a small scenario (30 days of 3,000 agents;
10 days of 1,000 for "who bears it") and check what the page shows, what it requested
and what it logged.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from browser_support import ARTIFACTS, PATIENCE_MS, chromium_page
from trustsim.dashboard import who
from trustsim.groups import dimensions
from trustsim.scenario import load_scenario

HEADLINE = ("blacklisted", "ever_wrongly_sanctioned", "chilling_effect", "isolated", "stored_bytes")
CHARTS = ("score_distribution", "blacklist", "wrongful", "chilling", "isolation", "ego")
WHO_PANEL = """() => { const gd = document.querySelector('.chart-who .js-plotly-plot');
                       if (!gd || !gd.data || gd.data.length === 0) return null;
                       return {title: gd.layout.title.text, groups: Array.from(gd.data[0].y),
                               rates: gd.data.map(trace => Array.from(trace.x, x => Number.isFinite(x) ? x : null))};
                     }"""
"""JavaScript: what the "who bears it" chart shows (title, groups, each rate's bars, null: none); null before."""
WATCH_WHO = """() => { window.whoTitles = [];
                       const chart = document.querySelector('.chart-who');
                       new MutationObserver(() => {
                           const gd = chart.querySelector('.js-plotly-plot');
                           const title = gd && gd.layout && gd.layout.title ? gd.layout.title.text : null;
                           const seen = window.whoTitles;
                           if (title && title !== seen[seen.length - 1]) seen.push(title);
                       }).observe(chart, {subtree: true, childList: true, attributes: true, characterData: true}); }"""
"""JavaScript: record every title the "who bears it" chart shows from now on, in order (``window.whoTitles``)."""


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def dashboard_server(folder: Path, timeout: float = PATIENCE_MS / 1000) -> Iterator[str]:
    """``trustsim dashboard`` running in ``folder`` (its default runs/ goes there); yields its URL."""
    port = free_port()
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "trustsim", "dashboard", "--port", str(port), "--no-browser"],
                                  cwd=folder, stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, server, log, timeout)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the dashboard exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # the server says nothing when it starts listening: ask again shortly
    raise AssertionError(f"the dashboard did not answer within {timeout} s: {log.read_text()}")


def press(page: Page, slider: str, key: str, shows: str) -> None:
    """Press ``key`` on a slider's thumb and wait until the page shows the value ``shows`` (a server round trip)."""
    thumb = page.locator(f".lever-{slider} [role=slider]")
    thumb.focus()
    thumb.press(key)
    page.wait_for_function("([name, text]) => document.querySelector('.value-' + name).innerText === text",
                           arg=[slider, shows])  # fmt: skip


def who_panel(page: Page, title_ends: str) -> dict[str, Any]:
    """What the "who bears it" chart shows once its title ends with ``title_ends`` (waiting for that redraw)."""
    shows = f"ends => {{ const shown = ({WHO_PANEL})(); return shown !== null && shown.title.endsWith(ends); }}"
    page.wait_for_function(shows, arg=title_ends)
    return page.evaluate(WHO_PANEL)


def choose_dimension(page: Page, words: str) -> None:
    """Pick a dimension in the "who bears it" selector (a Vuetify menu)."""
    page.locator(".who-dimension").click()
    page.locator(".menuable__content__active .v-list-item").filter(has_text=re.compile(f"^{words}$")).click()


def headline(page: Page) -> dict[str, str]:
    """The headline figures as the page shows them."""
    return {name: page.locator(f".headline-{name}").inner_text() for name in HEADLINE}


def test_the_dashboard_runs_a_scenario_live_offline_and_saves_it(tmp_path: Path) -> None:
    with dashboard_server(tmp_path) as url, chromium_page(width=1400, height=1900) as (page, activity):
        page.goto(url)
        page.wait_for_selector(".lever-agents [role=slider]", state="attached")
        expect(page.locator(".progress")).to_have_text("day 0 / 365")

        press(page, "agents", "Home", "1,000")
        for shows in ("2,000", "3,000"):
            press(page, "agents", "ArrowRight", shows)
        press(page, "days", "Home", "1")
        for day in range(4, 29, 3):
            press(page, "days", "Shift+ArrowRight", str(day))  # Shift: three steps
        for day in (29, 30):
            press(page, "days", "ArrowRight", str(day))
        expect(page.locator(".value-blacklist")).to_have_text("600")
        press(page, "blacklist", "ArrowRight", "610")
        expect(page.locator(".progress")).to_have_text("day 0 / 30")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-start.png"))
        before = headline(page)

        page.locator(".start").click()
        page.get_by_text("day 30 / 30").wait_for()
        page.get_by_text("finished").wait_for()
        for chart in CHARTS:
            page.wait_for_selector(f".chart-{chart} .main-svg")
        # The last redraw has arrived: every day is in the charts.
        page.wait_for_function("""() => { const gd = document.querySelector('.chart-blacklist .js-plotly-plot');
                                          return gd && gd.data.length > 0 && gd.data[0].x.length === 30; }""")
        for chart in CHARTS:
            drawn = page.evaluate("""name => { const gd = document.querySelector('.chart-' + name + ' .js-plotly-plot');
                                               return {traces: gd.data.length,
                                                       marks: gd.querySelectorAll('.trace, .point').length}; }""",
                                  chart)  # fmt: skip
            assert drawn["traces"] > 0 and drawn["marks"] > 0, (chart, drawn)
        page.wait_for_function("names => names.every(n => document.querySelector('.headline-' + n).innerText !== '–')",
                               arg=list(HEADLINE))  # the headline's redraw has arrived too  # fmt: skip
        after = headline(page)
        assert all(value == "–" for value in before.values()), before
        assert all(after[name] != before[name] for name in HEADLINE), after
        page.screenshot(path=str(ARTIFACTS / "dashboard-after.png"))

        target = tmp_path / "saved-run"
        page.locator(".save-target input").fill(str(target))
        page.locator(".save-target input").press("Enter")
        page.locator(".save").click()
        page.get_by_text(f"saved to {target}").wait_for()

        assert activity.errors == [], activity.errors
        assert activity.foreign_requests(allowed=()) == []
    manifest = json.loads((target / "manifest.json").read_text())
    assert (manifest["agents"], manifest["days_done"], manifest["complete"]) == (3000, 30, True)
    assert manifest["scenario"]["blacklist"]["blacklist_score"] == 610
    assert manifest["scenario"]["blacklist"]["blacklist_exit_score"] == 760  # moved with it: the gap stays 150
    assert (target / "report.html").is_file()


def test_who_bears_it_is_drawn_switches_dimension_and_follows_the_run(tmp_path: Path) -> None:
    groups = dimensions(load_scenario("china_scs"))
    quintiles = who.group_words("income_quintile", groups["income_quintile"])
    regions = who.group_words("region", groups["region"])
    with dashboard_server(tmp_path) as url, chromium_page(width=1400, height=1900) as (page, activity):
        page.goto(url)
        page.wait_for_selector(".lever-agents [role=slider]", state="attached")
        press(page, "agents", "Home", "1,000")
        press(page, "days", "Home", "1")
        for day in (4, 7, 10):
            press(page, "days", "Shift+ArrowRight", str(day))

        empty = who_panel(page, "By income quintile")  # day 0: the groups, no bars
        assert empty["groups"] == quintiles and all(rate is None for bars in empty["rates"] for rate in bars), empty
        expect(page.locator(".who-disparity")).to_have_text(who.EMPTY_LINE)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".who").screenshot(path=str(ARTIFACTS / "dashboard-who-empty.png"))

        page.locator(".step").click()
        first = who_panel(page, "By income quintile, after day 1")
        assert first["groups"] == quintiles and any(rate for bars in first["rates"] for rate in bars), first
        expect(page.locator(".who-disparity")).to_have_text(re.compile("^After day 1, "))
        page.wait_for_function("() => document.querySelectorAll('.chart-who .bars .point').length > 0")  # drawn

        choose_dimension(page, "region")
        by_region = who_panel(page, "By region, after day 1")
        assert by_region["groups"] == regions, by_region
        page.wait_for_function("() => document.querySelector('.who-disparity').innerText.includes(' by region')")

        page.evaluate(WATCH_WHO)
        page.locator(".start").click()
        page.get_by_text("day 10 / 10").wait_for()
        last = who_panel(page, "By region, after day 10")
        assert last["groups"] == regions and last["rates"] != by_region["rates"], (by_region, last)
        days = [int(title.rsplit(" ", 1)[1]) for title in page.evaluate("() => window.whoTitles")]
        assert days == sorted(days) and days[-1] == 10, days  # redrawn as the run went on, never going back
        expect(page.locator(".who-disparity")).to_have_text(re.compile("^After day 10, "))
        page.locator(".who").screenshot(path=str(ARTIFACTS / "dashboard-who.png"))

        assert activity.errors == [], activity.errors
        assert activity.foreign_requests(allowed=()) == []
