"""Errors a user can fix. The CLI prints each as one line and exits with code 2."""

from __future__ import annotations


class TrustsimError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class ScenarioError(TrustsimError):
    """A scenario that cannot be loaded or fails validation (one problem per line)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class InputFileError(TrustsimError):
    """A file named by the user that is missing, unreadable or malformed."""


class RunDirectoryError(TrustsimError):
    """An output directory that exists already or cannot be written."""
