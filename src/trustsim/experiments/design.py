"""Experiment designs: which runs an experiment is made of (scenario, settings, seed).

A :class:`RunSpec` is everything one run needs besides the base scenario: its id, the
values of the varied parameters (dotted paths, as for ``--set``) and its seed. Runs are
pure functions of (resolved scenario, seed), so a design can be executed in any order,
anywhere, and resumed.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustsim.errors import ScenarioError
from trustsim.scenario import MAX_SEED


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment."""

    run_id: str
    scenario: str  # the scenario's name or file, as given
    settings: tuple[tuple[str, Any], ...]  # (dotted path, value) of the varied parameters
    seed: int
    rep: int

    def assignments(self) -> list[str]:
        """The settings as ``--set`` strings."""
        return [f"{key}={_toml(value)}" for key, value in self.settings]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def seeds(first: int, reps: int) -> list[int]:
    """The seeds of ``reps`` replicates: ``first``, ``first + 1``, … (wrapping at 2**32)."""
    if reps < 1:
        raise ScenarioError([f"--reps: must be at least 1 (got {reps})"])
    return [(first + r) % (MAX_SEED + 1) for r in range(reps)]


def parse_levels(text: str) -> tuple[str, list[Any]]:
    """``key=start:stop:step`` (an inclusive grid of numbers) or ``key=v1,v2,…`` (TOML values) → (key, values).

    A list of values is read as a TOML array when it is one (``[1, 2],[3]``, ``"x,y",z``
    keep their commas), else split on commas with each part read as TOML or as text.
    """
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise ScenarioError([f"--set {text!r}: expected KEY=START:STOP:STEP or KEY=V1,V2,…"])
    parts = spec.split(":")
    numbers = [_maybe_number(part) for part in parts]
    if len(parts) > 1 and all(n is not None for n in numbers):
        if len(parts) != 3:
            raise ScenarioError([f"--set {text!r}: a grid is START:STOP:STEP (three numbers)"])
        start, stop, step = (n for n in numbers if n is not None)
        return key, _grid(text, start, stop, step)
    try:
        values = tomllib.loads(f"v = [{spec}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [_value(part.strip(), text) for part in spec.split(",")]
    return key, [_plain(value, text) for value in values]


def _grid(text: str, start: float, stop: float, step: float) -> list[Any]:
    if step <= 0 or stop < start or (stop - start) / step > 100_000:
        raise ScenarioError([f"--set {text!r}: need STEP > 0, STOP ≥ START and at most 100,000 levels"])
    count = math.floor((stop - start) / step + 1e-9) + 1
    values = [start + k * step for k in range(count)]
    if all(isinstance(v, int) for v in (start, stop, step)):
        return [int(v) for v in values]
    return [float(np.round(v, 12)) for v in values]


def _maybe_number(text: str) -> int | float | None:
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _plain(value: Any, text: str) -> Any:
    """A level as a scenario value: numbers, booleans, text and lists of them (dates become text)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_plain(item, text) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v, text) for k, v in value.items()}
    return str(value)


def parse_range(text: str) -> tuple[str, float, float]:
    """``key=lo:hi`` → (key, lo, hi) for sensitivity analysis."""
    key, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or not key.strip() or len(parts) != 2:
        raise ScenarioError([f"--vary {text!r}: expected KEY=LO:HI, e.g. observation.false_match=0:0.05"])
    low, high = (float(_number(part, text)) for part in parts)
    if not low < high:
        raise ScenarioError([f"--vary {text!r}: LO must be below HI"])
    return key.strip(), low, high


def _number(text: str, whole: str) -> int | float:
    value = _value(text.strip(), whole)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError([f"{whole!r}: {text!r} is not a finite number"])
    return value


def _value(text: str, whole: str) -> Any:
    if not text:
        raise ScenarioError([f"--set {whole!r}: an empty value"])
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def factorial(scenario: str, levels: list[tuple[str, list[Any]]], run_seeds: list[int]) -> list[RunSpec]:
    """Every combination of the levels, times every seed."""
    keys = [key for key, _ in levels]
    if len(set(keys)) != len(keys):
        raise ScenarioError([f"--set: a parameter is given twice ({keys})"])
    specs = []
    for point, combination in enumerate(itertools.product(*(values for _, values in levels))):
        settings = tuple(zip(keys, combination, strict=True))
        for rep, seed in enumerate(run_seeds):
            specs.append(RunSpec(f"p{point:05d}-r{rep:03d}", scenario, settings, seed, rep))
    return specs


def paired(scenarios: list[str], run_seeds: list[int], independent: bool = False) -> list[RunSpec]:
    """Each scenario on the same seeds (common random numbers), or on disjoint seeds if ``independent``."""
    specs = []
    for index, name in enumerate(scenarios):
        offset = index * len(run_seeds) if independent else 0
        for rep, seed in enumerate(run_seeds):
            shifted = (seed + offset) % (MAX_SEED + 1)
            specs.append(RunSpec(f"s{index}-r{rep:03d}", name, (), shifted, rep))
    return specs
