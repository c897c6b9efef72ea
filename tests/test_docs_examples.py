"""The examples of the README and the documentation pages stay true to the program.

Every Python block runs, as written, in a fresh process in a scratch folder. Every
command-line example is parsed by the command line itself (its command, options and
their types: a renamed or removed option fails here), and the scenario changes it makes
(``--set``, ``--base``, ``--b-set``) must load. The tutorials are notebooks that
``make docs`` runs; the reference pages are generated from the code.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from trustsim.cli import app
from trustsim.scenario import load_scenario, shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "scenarios").glob("*.md"))]
"""The hand-written pages (the tutorials are executed by make docs)."""

FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(r"^(?:\.venv/bin/trustsim|\$T|trustsim)\s+(.*)$")
SHELL = (">", ">>", "|", "&&", ";", "2>")


def blocks(page: Path, languages: tuple[str, ...]) -> list[str]:
    """The fenced code blocks of ``page`` in ``languages``."""
    return [code for language, code in FENCE.findall(page.read_text()) if language in languages]


def commands(code: str) -> list[list[str]]:
    """The trustsim invocations of a shell block: continuation lines joined, comments dropped, split as a shell
    would. A synopsis (``[--option VALUE]``) is not an invocation."""
    joined = code.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        match = COMMAND.match(line.strip())
        if match and " [--" not in line:
            words = shlex.split(match.group(1), comments=True)
            ends = [k for k, word in enumerate(words) if word in SHELL]  # a redirection or the next command
            found.append(words[: ends[0]] if ends else words)
    return found


EXAMPLES = [(page, words) for page in PAGES for code in blocks(page, ("sh", "bash")) for words in commands(code)]


@pytest.mark.parametrize(("page", "words"), EXAMPLES, ids=lambda v: v.name if isinstance(v, Path) else " ".join(v))
def test_every_command_line_example_parses(page: Path, words: list[str]) -> None:
    group = typer.main.get_command(app)
    name, arguments = words[0], words[1:]
    assert name in group.commands, f"{page.name}: no command {name!r}"
    command = group.commands[name]
    try:
        command.make_context(f"trustsim {name}", list(arguments))
    except Exception as err:  # typer's own copy of click's usage errors
        pytest.fail(f"{page.name}: trustsim {' '.join(words)}: {err}")
    shipped = [word for word in arguments[:2] if word in shipped_scenarios()]
    sides = {"--set": 0, "--base": 0, "--b-set": -1}  # compare A [B] --b-set: B's changes (B is A without a B)
    for option, side in sides.items():
        changes = [value for flag, value in itertools.pairwise(arguments) if flag == option]
        fixed = [change for change in changes if not re.search(r"=[^=]*[,:]", change)]  # levels are not values
        if shipped and fixed and name in {"run", "compare", "sweep", "calibrate", "sensitivity"}:
            load_scenario(shipped[side], overrides=fixed)


def test_the_pages_have_command_line_examples() -> None:
    assert len(EXAMPLES) >= 30 and {page.name for page, _ in EXAMPLES} >= {"README.md", "experiments.md"}


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, ("python",))], ids=lambda p: p.name)
def test_every_python_example_runs(page: Path, tmp_path: Path) -> None:
    """The page's Python blocks in order, in one fresh interpreter, as a reader would paste them."""
    program = "\n\n".join(blocks(page, ("python",)))
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
