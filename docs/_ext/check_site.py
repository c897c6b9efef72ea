"""Open every page of the built site in Chromium: no request leaves the machine, no JavaScript error, every
tutorial's figures drawn. Screenshots of the home page, a tutorial and the scenario keys go to test-artifacts/.

    python docs/_ext/check_site.py site        # make docs-check; CI runs it after make docs

Exit code 1 and one line per problem if a page fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import ARTIFACTS, chromium_page  # noqa: E402

SCREENSHOTS = {"index.html": "docs-home.png", "tutorials/first-society.html": "docs-tutorial-first-society.png",
               "reference/scenario-keys.html": "docs-scenario-keys.png"}  # fmt: skip
"""Pages photographed, and the file each goes to."""


def check(site: Path) -> list[str]:
    """The problems of every page of ``site``: requests off the machine, JavaScript errors, figures not drawn."""
    problems = []
    ARTIFACTS.mkdir(exist_ok=True)
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    with chromium_page(width=1280, height=900) as (page, activity):
        for path in pages:
            activity.requests.clear()
            activity.errors.clear()
            page.goto(path.resolve().as_uri(), wait_until="load")
            name = path.relative_to(site).as_posix()
            figures = page.locator("div.plotly-graph-div").count()
            drawn = page.locator("div.plotly-graph-div:has(svg.main-svg)").count()  # each figure draws 3 svgs
            problems += [f"{name}: requested {url}" for url in activity.foreign_requests()]
            problems += [f"{name}: {error}" for error in activity.errors]
            if drawn < figures:
                problems.append(f"{name}: {figures - drawn} of {figures} figures not drawn")
            if name in SCREENSHOTS:
                page.screenshot(path=str(ARTIFACTS / SCREENSHOTS[name]), full_page=False)
    if len(pages) < 20:
        problems.append(f"{site}: only {len(pages)} pages; is it the built site?")
    return problems


def main() -> int:
    """Check the site given as the only argument."""
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    problems = check(site)
    for problem in problems:
        print(problem)
    print(f"{site}: {'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
