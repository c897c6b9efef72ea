"""Errors a user can fix. The CLI prints each as one line and exits with code 2.

An error that asks the user to change a setting names it the way the model does
(``run.agents``, ``run.days``, ``backend``): a :class:`Setting` in the message's
``{0}``, ``{1}`` … places. Each interface words settings its own way: the command line
as flags (``--agents 5600000``), the dashboard as its sliders; the core never speaks
of either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A setting an error asks the user to change: its key (``run.agents``) and a value to try, if any."""

    key: str
    value: Any = None


Wording = Callable[[Setting], str]
"""How an interface names a setting (and the value to try) in a message."""


def literal(text: str) -> str:
    """``text`` (a path, a value the user gave) made safe to put in a message that names settings."""
    return text.replace("{", "{{").replace("}", "}}")


def setting_words(setting: Setting) -> str:
    """The model's own words: the setting's key, and ``= value`` when there is one to try."""
    return setting.key if setting.value is None else f"{setting.key} = {setting.value}"


@dataclass(frozen=True)
class Problem:
    """One line of an error; the settings it names fill its ``{0}``, ``{1}`` … places."""

    template: str
    settings: tuple[Setting, ...] = ()

    def worded(self, words: Wording = setting_words) -> str:
        """The line, with its settings named by ``words``."""
        return self.template.format(*map(words, self.settings)) if self.settings else self.template


class TrustsimError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    def __init__(self, message: str, *settings: Setting) -> None:
        self.problem = Problem(message, settings)
        super().__init__(self.problem.worded())

    def lines(self, words: Wording = setting_words) -> list[str]:
        """The error's lines, settings named by ``words``."""
        return [self.problem.worded(words)]


class ScenarioError(TrustsimError):
    """A scenario that cannot be loaded or fails validation (one problem per line)."""

    def __init__(self, problems: list[str | Problem]) -> None:
        self.entries = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        self.problems = [entry.worded() for entry in self.entries]
        Exception.__init__(self, "\n".join(self.problems))

    def lines(self, words: Wording = setting_words) -> list[str]:
        """One line per problem, settings named by ``words``."""
        return [entry.worded(words) for entry in self.entries]


class InputFileError(TrustsimError):
    """A file named by the user that is missing, unreadable or malformed."""


class RunDirectoryError(TrustsimError):
    """An output directory that exists already or cannot be written."""
