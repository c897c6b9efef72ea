"""Loading scenario files: shipped names, ``extends`` chains, overrides (``key.path=value``) and validation.

A scenario is a TOML file. It may start from another with ``extends = "china_scs"`` (a
shipped name or a path relative to the file) and set only what differs. Every problem
is reported one line each, naming the dotted path of the parameter.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trustsim.errors import Problem, ScenarioError, Setting, literal, setting_words
from trustsim.scenario.schema import Scenario

_PACKAGED = Path(__file__).resolve().parents[1] / "scenarios"  # inside a built wheel
_CHECKOUT = Path(__file__).resolve().parents[3] / "scenarios"  # in a source checkout
SCENARIO_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT

OVERRIDE = Setting("override")
"""An override of one parameter, ``key.path=value`` (the command line's ``--set``)."""


def shipped_scenarios() -> dict[str, Path]:
    """Names and paths of the scenarios shipped with trustsim."""
    return {path.stem: path for path in sorted(SCENARIO_DIR.glob("*.toml"))}


def resolve_source(source: str | Path) -> Path:
    """Path of a scenario given by shipped name or by file path."""
    shipped = shipped_scenarios()
    if isinstance(source, str) and source in shipped:
        return shipped[source]
    path = Path(source)
    if path.is_file():
        return path
    if path.suffix == "" and not path.exists():
        raise ScenarioError(
            [f"{source}: no such shipped scenario; choose one of {', '.join(shipped)} or give a .toml file path"]
        )
    raise ScenarioError([f"{source}: file not found; give a scenario .toml path or a shipped name"])


def read_raw(source: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The scenario's raw table, with ``extends`` chains merged (later files win)."""
    path = resolve_source(source).resolve()
    if path in _seen:
        raise ScenarioError([f"{path}: extends itself through {' -> '.join(p.name for p in _seen)}"])
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError([f"{path}: not UTF-8 text; save the scenario as UTF-8"]) from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([f"{path}: not valid TOML ({err})"]) from None
    except OSError as err:
        raise ScenarioError([f"{path}: cannot be read ({err.strerror})"]) from None
    if not raw:
        raise ScenarioError(
            [f"{path}: no parameters at all; a scenario sets every parameter of `trustsim schema`, "
             "or starts with extends = \"china_scs\" and sets what differs"]
        )  # fmt: skip
    return with_parent(raw, path, _seen)


def with_parent(raw: dict[str, Any], path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The table of a scenario file at ``path`` (written or about to be), its ``extends`` chain merged.

    An ``extends`` is a shipped name or a path relative to the file's folder; ``raw`` is not modified.
    """
    raw = copy.deepcopy(raw)
    parent = raw.pop("extends", None)
    if parent is None:
        _anchor_network_path(raw, path.parent)
        return raw
    if not isinstance(parent, str):
        raise ScenarioError([f"{path}: extends must be a scenario name or path (got {parent!r})"])
    base_source: str | Path = parent if parent in shipped_scenarios() else path.parent / parent
    base = read_raw(base_source, (*_seen, path))
    _anchor_network_path(raw, path.parent)
    return deep_merge(base, raw)


def _anchor_network_path(raw: dict[str, Any], folder: Path) -> None:
    """Make an edge-file path absolute, relative to the scenario file that names it."""
    network = raw.get("network")
    if isinstance(network, dict) and isinstance(network.get("path"), str):
        network["path"] = str((folder / network["path"]).resolve())


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value in ``override`` replaces the base's.

    A table that names a ``generator`` (the network) replaces the base's table whole
    when the generator differs, since each generator has its own parameters.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and not _new_generator(old, value):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _new_generator(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return "generator" in new and new["generator"] != old.get("generator")


_DOTTED = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key.path=value``; the value is read as TOML (``0.5``, ``true``, ``[[0, 0.4]]``) or else as text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([_override_problem(f"{text!r}: expected KEY=VALUE, e.g. score.contagion=0")])
    if not _DOTTED.fullmatch(key):
        raise ScenarioError(
            [_override_problem(f"{text!r}: KEY must be a dotted path of names and list positions, "
                               "e.g. regions.0.share")]
        )
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key, parsed


def first_problem(err: ScenarioError) -> str:
    """The first line of ``err`` without the name of the override it came from, for an interface that names
    the option itself (``--vary``, ``--base``)."""
    return err.entries[0].worded(lambda setting: "" if setting == OVERRIDE else setting_words(setting)).strip()


def _override_problem(detail: str) -> Problem:
    """A problem with an override, which interfaces name their own way (the command line: ``--set``)."""
    return Problem("{0} " + literal(detail), (OVERRIDE,))


NAMED_ENTRIES = {"behaviours": "behaviour", "sanctions": "sanction"}
"""The scenario's tables of named entries, and what one entry is called in a message."""


def set_path(raw: dict[str, Any], dotted: str, value: Any, *, partial: bool = False) -> None:
    """Set ``raw[a][b]...= value`` for ``dotted = "a.b..."``; numeric parts index lists.

    In a whole scenario, a key inside a named entry it does not have
    (``behaviours.late_payment.points`` where there is no ``late_payment``) is refused with
    the entries it has: set piece by piece, it would read as a broken scenario with every
    other key of the entry missing. A whole new entry may still be given as one inline
    table. ``partial`` is for building a table that holds only some keys (a file that
    ``extends`` another), where an entry starts with its first key.
    """
    parts = dotted.split(".")
    if not partial:
        _check_entry_exists(raw, parts)
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: depth + 1]))
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, dotted)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError([_override_problem(f"{dotted}: {'.'.join(parts[:-1])} is a value, not a table")])


def _check_entry_exists(raw: dict[str, Any], parts: list[str]) -> None:
    if len(parts) < 3 or parts[0] not in NAMED_ENTRIES:
        return
    entries = raw.get(parts[0])
    if not isinstance(entries, dict) or parts[1] in entries:
        return
    kind = NAMED_ENTRIES[parts[0]]
    name = raw.get("name", "this scenario")
    has = f"its {parts[0]} are {', '.join(entries)}" if entries else f"it has no {parts[0]}"
    raise ScenarioError([_override_problem(f"{'.'.join(parts)}: {name} has no {kind} {parts[1]!r}; {has}")])


def _child(node: Any, part: str, where: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, where)]
    if not isinstance(node, dict):
        raise ScenarioError([_override_problem(f"{where}: the parent is a value, not a table")])
    return node.setdefault(part, {})


def _list_index(node: list[Any], part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError([_override_problem(f"{where}: index must be 0 to {len(node) - 1}")])
    return int(part)


def validate(raw: dict[str, Any]) -> Scenario:
    """Validate a raw table; raise ScenarioError with one line per problem (missing keys on one line)."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        missing = [_describe(e).split(":")[0] for e in err.errors() if e["type"] == "missing"]
        problems = [_describe(e) for e in err.errors() if e["type"] != "missing" or len(missing) < 3]
        if len(missing) >= 3:
            problems.insert(0, f"{', '.join(missing)}: missing; {MISSING_HINT}")
        raise ScenarioError(problems) from None


MISSING_HINT = "every parameter must be set (or inherited with `extends`)"


def _describe(error: Any) -> str:
    # pydantic names the member of a union in the location (network.small_world.k); a key of
    # that name at the top (an unknown key `small_world`) is the user's and is kept.
    path = ".".join(str(part) for i, part in enumerate(error["loc"]) if not (i > 0 and _is_union_tag(part)))
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown key; check the spelling against `trustsim schema`"
    elif kind == "missing":
        message = f"missing; {MISSING_HINT}"
    else:
        message = error["msg"].removeprefix("Value error, ")
        message = message[0].lower() + message[1:] if message else message
    shown = error.get("input")
    if kind not in {"missing", "extra_forbidden"} and not isinstance(shown, dict | list):
        message += f" (got {shown!r})"
    return f"{path}: {message}" if path else message


def _is_union_tag(part: Any) -> bool:
    return part in {"small_world", "scale_free", "regional_sbm", "file"}


def load_scenario(
    source: str | Path,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load a shipped scenario or a TOML file, apply overrides (``key.path=value``) and run settings, validate."""
    return scenario_from_raw(read_raw(source), overrides=overrides, agents=agents, days=days, seed=seed)


def scenario_from_raw(
    raw: dict[str, Any],
    *,
    overrides: list[str] | tuple[str, ...] = (),
    agents: int | None = None,
    days: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Validate a raw table (as :func:`read_raw` returns it; not modified) with overrides and run settings."""
    raw = copy.deepcopy(raw)
    for assignment in overrides:
        set_path(raw, *parse_assignment(assignment))
    for key, value in (("agents", agents), ("days", days), ("seed", seed)):
        if value is not None:
            set_path(raw, f"run.{key}", value)
    return validate(raw)
