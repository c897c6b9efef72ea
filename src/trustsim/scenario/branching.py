"""Branching: the rules for continuing a saved society under another policy (a what-if)."""

from __future__ import annotations

from typing import Any

from trustsim.errors import Problem, Setting, literal
from trustsim.scenario.loading import OVERRIDE
from trustsim.scenario.schema import Scenario

SOCIETY = (
    "run.agents", "run.seed", "population", "regions", "network", "households.adults", "households.children", "ages",
)  # fmt: skip
"""What drew the saved society; a branch may not change it (it would change nothing but the record).

A ``[households]`` or ``[ages]`` section counts too, present or not (:func:`society_changes`);
``households.family_weight`` and ``emigrate_with_household`` are policy a branch may change."""
SECTIONS = ("households", "ages")
"""Optional sections whose presence is part of the society (docs/model.md §14)."""


def leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every value of nested tables and lists by dotted path (``sanctions.flight_ban.attempt_rate``)."""
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    found: dict[str, Any] = {}
    for key, value in items:
        found |= leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{dotted path: [before, after]}`` for every value that differs (missing is None)."""
    old, new = leaves(before), leaves(after)
    keys = sorted(old.keys() | new.keys())
    return {key: [old.get(key), new.get(key)] for key in keys if old.get(key) != new.get(key)}


def society_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[str, Any, Any]]:
    """The parts of the society (:data:`SOCIETY`) two resolved scenarios differ in, each with its first differing
    key and values; a section of :data:`SECTIONS` one has and the other not is that section alone (key = part)."""
    found: dict[str, tuple[str, Any, Any]] = {}
    for section in SECTIONS:
        if (before.get(section) is None) != (after.get(section) is None):
            found[section] = (section, before.get(section), after.get(section))
    for key, (old, new) in differences(before, after).items():
        part = next((p for p in SOCIETY if key == p or key.startswith(p + ".")), None)
        section = key.split(".")[0]
        if part is not None and part not in found and section not in found:
            found[part] = (key, old, new)
    return found


def branch_problems(saved: dict[str, Any], branch: Scenario, saved_day: int) -> list[Problem]:
    """Why ``branch`` cannot continue the society saved (resolved scenario ``saved``) after ``saved_day`` days."""
    problems: list[Problem] = []
    for part, (key, old, new) in society_changes(saved, branch.resolved()).items():
        if part in SECTIONS and key == part:
            problems.append(Problem(
                f"{part}: a branch keeps the saved society's {part} (add or drop [{part}] in a new run)"
            ))  # fmt: skip
            continue
        detail = f"{key}: {new!r} differs from the saved society's {old!r}"
        problems.append(Problem(
            literal(detail) + "; a branch changes policy, not the population or "
            "network it continues (drop this {0}, or start a new run)", (OVERRIDE,),
        ))  # fmt: skip
    memory = saved.get("score", {}).get("memory", "recovery")
    if branch.score.memory != memory:
        problems.append(Problem(
            f"score.memory: {branch.score.memory!r} differs from the saved run's {memory!r}; a branch keeps how "
            "the score forgets (a recovering score has no file of records to expire)"
        ))  # fmt: skip
    saved_days = saved.get("score", {}).get("memory_days")
    if branch.score.expires and saved_days is not None and (branch.score.memory_days or 0) > saved_days:
        problems.append(Problem(
            f"score.memory_days: {branch.score.memory_days} is longer than the saved run's {saved_days}; records "
            "that have expired cannot come back on file (a branch may shorten memory_days, not lengthen it)"
        ))  # fmt: skip
    saved_names = {
        "behaviours": list(saved["behaviours"]),
        "sanctions": list(saved["sanctions"]),
        "tiers": [tier["name"] for tier in saved["tiers"]],
    }
    branch_names = {
        "behaviours": list(branch.behaviours),
        "sanctions": list(branch.sanctions),
        "tiers": [tier.name for tier in branch.tiers],
    }
    for part, names in saved_names.items():
        if names != branch_names[part]:
            problems.append(Problem(
                f"{part}: the branch has {branch_names[part]}, the saved society {names}; "
                "keep the same names in the same order (change their parameters instead)"
            ))  # fmt: skip
    if branch.run.days <= saved_day:
        problems.append(Problem(
            f"run.days: {branch.run.days} is not after the checkpoint's day {saved_day}; give the total length "
            "(e.g. {0})", (Setting("run.days", saved_day + 365),),
        ))  # fmt: skip
    return problems
