"""The policy levers of the dashboard (how each slider reads and changes a raw scenario table) and uploads.

A lever works on the raw table of a scenario (as :func:`trustsim.scenario.read_raw`
returns it, ``extends`` merged), so that the scenario it produces is validated like
any file with ``--set`` overrides. Most levers are one dotted key. Two are not:

* **camera coverage** is a schedule, possibly per region: the slider shows the
  highest coverage the camera channel reaches anywhere, and moving it *scales* every
  point of every camera schedule (national and per-region) by the same factor, so a
  rollout keeps its shape and its regional differences. With no camera coverage at
  all, the slider sets a flat national coverage from day 0.
* **escalation** belongs to each behaviour that can go to court (``late_payment``
  and ``dissent`` in ``china_scs``): the slider shows the highest of them and
  scales them all alike; behaviours without an escalation keep none.

**recovery half-life** 0 means no recovery (the key is left out of the scenario).
**blacklist threshold** moves ``blacklist.blacklist_exit_score`` with it, keeping the
scenario's gap between the two (clamped to the score's bounds): a threshold above the
exit score would list people who leave the list again at once.
"""

from __future__ import annotations

import copy
import math
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustsim.errors import ScenarioError
from trustsim.scenario import Scenario, read_raw, scenario_from_raw, set_path, validate

Raw = dict[str, Any]


@dataclass(frozen=True)
class Lever:
    """One slider: its label, range, and how it reads and writes a raw scenario table."""

    name: str
    label: str
    minimum: float
    maximum: float
    step: float
    read: Callable[[Raw], float | None]
    write: Callable[[Raw, float], None]
    unit: str = ""

    def value(self, raw: Raw) -> float | None:
        """The lever's value in ``raw`` (None where the scenario has nothing for it to move)."""
        try:
            value = self.read(raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError):
            return None
        return value if value is not None and math.isfinite(value) else None

    def limits(self, raw: Raw) -> tuple[float, float]:
        """The slider's range, widened to include the scenario's own value."""
        value = self.value(raw)
        if value is None:
            return self.minimum, self.maximum
        return min(self.minimum, value), max(self.maximum, value)


def _key(dotted: str) -> tuple[Callable[[Raw], float | None], Callable[[Raw, float], None]]:
    """Reader and writer of a single dotted key."""

    def read(raw: Raw) -> float | None:
        node: Any = raw
        for part in dotted.split("."):
            node = node[part]
        return float(node)

    def write(raw: Raw, value: float) -> None:
        set_path(raw, dotted, value)

    return read, write


def _camera_points(raw: Raw) -> list[dict[str, Any]]:
    """Every schedule point of the camera channel, national and per region."""
    camera = raw.get("channels", {}).get("camera", {})
    points = list(camera.get("schedule", []))
    for schedule in camera.get("region_schedules", {}).values():
        points += schedule
    return [point for point in points if isinstance(point, dict)]


def read_camera(raw: Raw) -> float | None:
    """Highest camera coverage of any schedule point (0 when there is none)."""
    return max((float(point["coverage"]) for point in _camera_points(raw)), default=0.0)


def write_camera(raw: Raw, value: float) -> None:
    """Scale every camera schedule point so that the highest becomes ``value`` (see the module doc)."""
    peak = read_camera(raw) or 0.0
    if peak <= 0.0:
        camera = raw.setdefault("channels", {}).setdefault("camera", {})
        camera["schedule"] = [{"day": 0, "coverage": value}]
        camera["region_schedules"] = {}
        return
    for point in _camera_points(raw):
        point["coverage"] = _scaled(float(point["coverage"]), peak, value)


def _scaled(old: float, peak: float, value: float) -> float:
    """``old`` scaled by ``value / peak`` (the peak itself becomes exactly ``value``), at most 1."""
    return value if old == peak else min(1.0, old * (value / peak))


def _escalating(raw: Raw) -> list[dict[str, Any]]:
    """The behaviour tables that set an escalation probability."""
    return [b for b in raw.get("behaviours", {}).values() if isinstance(b, dict) and "escalation" in b]


def read_escalation(raw: Raw) -> float | None:
    """Highest escalation probability of any behaviour (None if no behaviour escalates)."""
    behaviours = _escalating(raw)
    return max(float(b["escalation"]) for b in behaviours) if behaviours else None


def write_escalation(raw: Raw, value: float) -> None:
    """Scale every behaviour's escalation so that the highest becomes ``value``."""
    peak = read_escalation(raw)
    for behaviour in _escalating(raw):
        behaviour["escalation"] = _scaled(float(behaviour["escalation"]), peak, value) if peak else value


def read_half_life(raw: Raw) -> float | None:
    """Recovery half-life in days; 0 stands for no recovery."""
    return float(raw.get("score", {}).get("recovery_half_life_days") or 0.0)


def write_half_life(raw: Raw, value: float) -> None:
    """Set the half-life; 0 removes it (no recovery)."""
    score = raw.setdefault("score", {})
    if value > 0:
        score["recovery_half_life_days"] = value
    else:
        score.pop("recovery_half_life_days", None)


def read_blacklist(raw: Raw) -> float | None:
    """The blacklist threshold (score)."""
    return float(raw["blacklist"]["blacklist_score"])


def write_blacklist(raw: Raw, value: float) -> None:
    """Set the threshold and move the exit score with it, keeping their gap, within the score's bounds."""
    table = raw.setdefault("blacklist", {})
    gap = float(table["blacklist_exit_score"]) - float(table["blacklist_score"])
    score = raw.get("score", {})
    low, high = float(score.get("score_min", -math.inf)), float(score.get("score_max", math.inf))
    table["blacklist_score"] = value
    table["blacklist_exit_score"] = min(high, max(low, value + gap))


LEVERS: tuple[Lever, ...] = (
    Lever("camera", "Camera coverage (peak, scales the rollout)", 0.0, 1.0, 0.01, read_camera, write_camera),
    Lever("false_match", "Face recognition false match rate", 0.0, 0.2, 0.001, *_key("observation.false_match")),
    Lever("review", "Review capacity (reviews/day per capita)", 0.0, 0.02, 0.0005,
          *_key("observation.review_per_capita")),
    Lever("contagion", "Score contagion κ", 0.0, 0.1, 0.001, *_key("score.contagion")),
    Lever("blacklist", "Blacklist threshold (score)", 0.0, 1300.0, 10.0, read_blacklist,
          write_blacklist),
    Lever("unfriend", "Unfriend rate", 0.0, 0.1, 0.001, *_key("adaptation.unfriend_rate")),
    Lever("half_life", "Recovery half-life (days, 0 = none)", 0.0, 1000.0, 5.0, read_half_life, write_half_life),
    Lever("escalation", "Escalation to court (peak, scales all)", 0.0, 0.2, 0.001, read_escalation,
          write_escalation),
)  # fmt: skip
"""The policy levers, in the order the dashboard shows them."""


def lever(name: str) -> Lever:
    """The lever called ``name``."""
    for candidate in LEVERS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def defaults(raw: Raw) -> dict[str, float | None]:
    """Each lever's value in the scenario as written."""
    return {item.name: item.value(raw) for item in LEVERS}


def apply(raw: Raw, values: dict[str, float | None]) -> Raw:
    """A copy of ``raw`` with the levers set; a lever whose value equals the scenario's is left alone.

    Leaving unchanged levers alone keeps the scenario exactly as written (a scaled
    schedule could otherwise differ in the last bit).
    """
    changed = copy.deepcopy(raw)
    for item in LEVERS:
        value = values.get(item.name)
        if value is not None and value != item.value(raw):
            item.write(changed, float(value))
    return changed


def build(
    raw: Raw, values: dict[str, float | None], *, agents: int | None = None, days: int | None = None,
    seed: int | None = None,
) -> Scenario:  # fmt: skip
    """The validated scenario of ``raw`` with the levers and run settings; ScenarioError if invalid."""
    return scenario_from_raw(apply(raw, values), agents=agents, days=days, seed=seed)


UPLOAD_LIMIT = 1_000_000
"""Largest scenario file the dashboard accepts (bytes)."""


def too_big(name: str, size: int) -> ScenarioError | None:
    """The problem with an upload of ``size`` bytes (None if it is small enough)."""
    if size <= UPLOAD_LIMIT:
        return None
    return ScenarioError([f"{name}: {size:,} bytes; a scenario file is at most {UPLOAD_LIMIT:,} bytes"])


def read_upload(name: str, data: bytes) -> Raw:
    """The raw table of an uploaded scenario file (``extends`` of a shipped scenario allowed), validated.

    The file is validated as written (its own run settings included), as ``trustsim
    validate`` does, so that the sliders are only ever derived from a valid scenario.
    Raises ScenarioError with one line per problem, naming the file as uploaded.
    """
    if not name.lower().endswith(".toml"):
        raise ScenarioError([f"{name}: not a .toml file; upload a scenario file (see `trustsim schema`)"])
    big = too_big(name, len(data))
    if big is not None:
        raise big
    with tempfile.TemporaryDirectory(prefix="trustsim-upload-") as folder:
        path = Path(folder) / "scenario.toml"
        path.write_bytes(data)
        try:
            raw = read_raw(path)
        except ScenarioError as err:
            raise ScenarioError([_as_uploaded(problem, path, name) for problem in err.problems]) from None
        except RecursionError:  # tomllib recurses once per level of nesting
            raise ScenarioError([f"{name}: nested too deeply to be a scenario file"]) from None
    _refuse_relative_edge_file(data, name)
    try:
        validate(raw)
    except ScenarioError as err:
        raise ScenarioError([f"{name}: {problem}" for problem in err.problems]) from None
    return raw


def _refuse_relative_edge_file(data: bytes, name: str) -> None:
    """An uploaded file's relative edge-file path would start from a temporary folder, gone by run time."""
    network = tomllib.loads(data.decode("utf-8")).get("network")  # read_raw has parsed it already
    path = network.get("path") if isinstance(network, dict) else None
    if isinstance(path, str) and not Path(path).is_absolute():
        raise ScenarioError([f"{name}: network.path must be an absolute path in an uploaded file "
                             "(an uploaded file has no folder for a relative path to start from)"])  # fmt: skip


def _as_uploaded(problem: str, path: Path, name: str) -> str:
    """A problem with the temporary copy of an upload, told about the file as the user named it."""
    folder = str(path.parent.resolve()) + "/"
    return problem.replace(str(path.resolve()), name).replace(folder, "")
