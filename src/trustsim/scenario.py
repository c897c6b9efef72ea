"""Scenario files: the closed parameter set of MODEL.md, its validation and loading.

A scenario is a TOML file. Its sections follow MODEL.md and use its parameter names
(``[score] recovery_half_life_days``, ``[blacklist] blacklist_score`` ...). Unknown
keys and impossible values are rejected, one line per problem, naming the dotted path.
A file may start from another with ``extends = "china_scs"`` (a shipped name or a
path relative to the file) and override only what differs.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from trustsim.errors import ScenarioError

_PACKAGED = Path(__file__).resolve().parent / "scenarios"  # inside a built wheel
_CHECKOUT = Path(__file__).resolve().parents[2] / "scenarios"  # in a source checkout
SCENARIO_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT
CHANNELS = ("camera", "payment", "online", "finance", "civic")
ChannelName = Literal["camera", "payment", "online", "finance", "civic"]
CAMERA, PAYMENT, ONLINE = (CHANNELS.index(name) for name in ("camera", "payment", "online"))
MAX_SEED = 2**32 - 1


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _non_negative(value: float) -> float:
    if not value >= 0.0:
        raise ValueError("must be at least 0")
    return value


def _positive(value: float) -> float:
    if not value > 0.0:
        raise ValueError("must be greater than 0")
    return value


def _identifier(value: str) -> str:
    if not value or not (value[0].isalpha() and value.replace("_", "a").isalnum() and value.isascii()):
        raise ValueError("must be a name of letters, digits and '_', starting with a letter")
    return value


SCORE_LIMIT = 1e12
"""Largest magnitude of a score, a threshold or points: far beyond any scoring system, and far
enough below float overflow that sums over a run's agents and days stay finite."""
ACCOUNTING_LIMIT = 1e15
"""Largest accounting quantity (bytes, cameras, purchases): products over 2**31 agents stay finite."""

Probability = Annotated[float, AfterValidator(_probability)]
ScoreValue = Annotated[float, Field(ge=-SCORE_LIMIT, le=SCORE_LIMIT)]
Amount = Annotated[float, Field(ge=0.0, le=ACCOUNTING_LIMIT)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
Positive = Annotated[float, AfterValidator(_positive)]
Name = Annotated[str, AfterValidator(_identifier)]


class Section(BaseModel):
    """A closed, immutable group of parameters: unknown keys raise, floats are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class RunSettings(Section):
    """Size and seed of a run; the CLI's --agents/--days/--seed override them."""

    agents: int = Field(ge=2, le=2**31 - 1, description="number of agents N (agent ids are 32-bit)")
    days: int = Field(ge=1, description="number of simulated days T")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of every random stream (MODEL.md §9)")


class Region(Section):
    """One region (MODEL.md §1): its population share and its share of cashless payers."""

    name: Name
    share: Positive = Field(description="share of the agents living here (shares sum to 1)")
    cashless_share: Probability = Field(description="probability an agent here pays by phone")


class Population(Section):
    """Attributes drawn once per agent (MODEL.md §1)."""

    outspoken_share: Probability
    privacy_share: Probability
    heterogeneity: Positive = Field(description="shape of the Gamma(h, 1/h) frailty, mean 1")


class SmallWorld(Section):
    """Watts–Strogatz small world (networkx semantics)."""

    generator: Literal["small_world"]
    k: int = Field(ge=2, description="each node joins k/2 neighbours on each side; even")
    p: Probability = Field(description="rewiring probability of each lattice edge")

    @model_validator(mode="after")
    def _k_even(self) -> SmallWorld:
        if self.k % 2:
            raise ValueError(f"k must be even (got {self.k})")
        return self


class ScaleFree(Section):
    """Barabási–Albert preferential attachment (networkx semantics)."""

    generator: Literal["scale_free"]
    m: int = Field(ge=1, description="edges each new node brings")


class RegionalSBM(Section):
    """Stochastic block model whose blocks are the regions."""

    generator: Literal["regional_sbm"]
    mean_degree: Positive
    within_share: Probability = Field(description="share of each node's ties inside its region")


class EdgeFile(Section):
    """An edge list from a Parquet or CSV file of two integer columns."""

    generator: Literal["file"]
    path: str = Field(min_length=1, description="path, relative to the scenario file")


NetworkSpec = Annotated[SmallWorld | ScaleFree | RegionalSBM | EdgeFile, Field(discriminator="generator")]


class SchedulePoint(Section):
    """A rollout point (MODEL.md §8): from ``day`` on, coverage heads linearly to the next point."""

    day: int = Field(ge=0)
    coverage: Probability


class Channel(Section):
    """Coverage schedule of one observation channel (MODEL.md §4, §8)."""

    schedule: list[SchedulePoint] = Field(description="rollout in every region; empty means coverage 0 throughout")
    region_schedules: dict[str, list[SchedulePoint]] = Field(
        default_factory=dict, description="per-region replacements of `schedule`, by region name"
    )

    @model_validator(mode="after")
    def _days_increase(self) -> Channel:
        for points in [self.schedule, *self.region_schedules.values()]:
            days = [point.day for point in points]
            if any(b <= a for a, b in itertools.pairwise(days)):
                raise ValueError(f"schedule days must strictly increase (got {days})")
        return self


class Channels(Section):
    """The five channels of MODEL.md §4."""

    camera: Channel
    payment: Channel
    online: Channel
    finance: Channel
    civic: Channel


class Observation(Section):
    """Face recognition and human review of camera instances (MODEL.md §4)."""

    false_match: Probability
    false_non_match: Probability
    review_per_capita: NonNegative = Field(description="reviews a day per alive agent of a region")
    review_catch: Probability

    @model_validator(mode="after")
    def _error_rates_sum(self) -> Observation:
        if self.false_match + self.false_non_match > 1.0:
            raise ValueError("false_match + false_non_match must be at most 1")
        return self


class Behaviour(Section):
    """One behaviour of MODEL.md §3."""

    channel: ChannelName
    points: ScoreValue = Field(description="signed points per observed, attributed instance")
    base_rate: Probability = Field(description="daily probability before frailty and modifiers")
    escalation: Probability | None = Field(
        default=None, description="probability a correctly attributed instance goes to court"
    )
    outspoken_multiplier: NonNegative | None = None


class Score(Section):
    """The score and its dynamics (MODEL.md §5).

    ``memory`` says how the score forgets. ``"recovery"`` (MODEL.md §5): every day the
    score moves a share ρ back towards its target, set by ``recovery_half_life_days``
    (omit it for no recovery). ``"expiry"``: a credit file, where each day's points stay
    in full for ``memory_days`` days and are then removed at once (docs/model-choices.md).
    """

    base_score: ScoreValue
    score_min: ScoreValue
    score_max: ScoreValue
    off_grid_score: ScoreValue
    recovery_half_life_days: Positive | None = None
    contagion: Probability = Field(description="κ: pull towards the friends' mean score; 0 is off")
    memory: Literal["recovery", "expiry"] = Field(
        default="recovery", description="recovery: exponential return to target; expiry: points drop off the file"
    )
    memory_days: int | None = Field(
        default=None, ge=1, le=100_000, description="expiry: days a day's points stay on file (e.g. 2190: six years)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Score:
        if not self.score_min <= self.base_score <= self.score_max:
            raise ValueError("need score_min <= base_score <= score_max")
        if not self.score_min <= self.off_grid_score <= self.score_max:
            raise ValueError("need score_min <= off_grid_score <= score_max")
        if self.memory == "expiry":
            if self.memory_days is None:
                raise ValueError("memory = 'expiry' needs memory_days (how long points stay on file)")
            if self.recovery_half_life_days is not None:
                raise ValueError(
                    "memory = 'expiry' removes points when they expire: drop recovery_half_life_days "
                    "(recovery and expiry would forget the same points twice)"
                )
        elif self.memory_days is not None:
            raise ValueError("memory_days applies to memory = 'expiry' only: set memory = 'expiry' or drop it")
        return self

    @property
    def expires(self) -> bool:
        """Whether points expire after ``memory_days`` (a credit file) rather than fade."""
        return self.memory == "expiry"


class Blacklist(Section):
    """Court judgments and the public list (MODEL.md §6, items 1–4)."""

    blacklist_score: ScoreValue
    blacklist_exit_score: ScoreValue
    blacklist_exit_days: int = Field(ge=0)
    court_points: Annotated[NonNegative, Field(le=SCORE_LIMIT)]
    court_exit_rate: Probability


class Tier(Section):
    """A tier: agents with ``score ≥ min_score``; the last tier has no ``min_score``."""

    name: Name
    min_score: ScoreValue | None = None


class Sanction(Section):
    """A sanction (MODEL.md §6 item 6): active below a score and/or when blacklisted."""

    applies_below: ScoreValue | None = None
    applies_to_blacklisted: bool = False
    attempt_rate: Probability

    @model_validator(mode="after")
    def _has_condition(self) -> Sanction:
        if self.applies_below is None and not self.applies_to_blacklisted:
            raise ValueError("set applies_below and/or applies_to_blacklisted = true")
        return self


class Adaptation(Section):
    """How people adapt (MODEL.md §7)."""

    deterrence_step: Probability
    deterrence_floor: Annotated[Probability, AfterValidator(_positive)]
    deterrence_relax: Probability
    chill_step: Probability
    chill_relax: Probability
    unfriend_rate: Probability
    opt_out_coverage: Probability
    opt_out_rate: Probability
    adviser_below: ScoreValue
    adviser_min_decile: int = Field(ge=0, le=10, description="10 means nobody hires an adviser")
    adviser_rate: Probability
    adviser_effect: NonNegative
    emigrate_min_decile: int = Field(ge=0, le=10, description="10 means nobody emigrates")
    emigrate_rate: Probability


class Accounting(Section):
    """Quantities used only by the metrics (MODEL.md §10)."""

    # At least one purchase per agent in ~2,700 years: import_share = imports / (alive ·
    # purchases_per_day) stays finite (a denormal rate made it infinite).
    purchases_per_day: Annotated[Positive, Field(ge=1e-6, le=ACCOUNTING_LIMIT)]
    bytes_per_record: Amount
    cameras_per_capita: Amount
    camera_bytes_per_day: Amount
    footage_retention_days: int = Field(ge=1, le=10**6)


class Scenario(Section):
    """A complete, validated scenario: every parameter of MODEL.md, nothing else."""

    name: Name
    description: str
    run: RunSettings
    regions: list[Region] = Field(min_length=1)
    population: Population
    network: NetworkSpec
    channels: Channels
    observation: Observation
    behaviours: dict[Name, Behaviour] = Field(min_length=1, max_length=64)
    score: Score
    blacklist: Blacklist
    tiers: list[Tier] = Field(min_length=1)
    sanctions: dict[Name, Sanction]
    adaptation: Adaptation
    accounting: Accounting

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        shares = sum(region.share for region in self.regions)
        if not math.isclose(shares, 1.0, rel_tol=0.0, abs_tol=1e-9):
            raise ValueError(f"regions: shares must sum to 1 (got {shares:g})")
        names = [region.name for region in self.regions]
        if len(set(names)) != len(names):
            raise ValueError(f"regions: names must be unique (got {names})")
        for channel in CHANNELS:
            unknown = set(getattr(self.channels, channel).region_schedules) - set(names)
            if unknown:
                raise ValueError(f"channels.{channel}.region_schedules: unknown region {sorted(unknown)[0]!r}")
        _check_tiers(self.tiers)
        if self.score.expires and self.score.contagion > 0:
            raise ValueError(
                "score.memory = 'expiry' keeps the score on the credit file, but contagion pulls it towards "
                "friends' scores outside the file (points would then expire onto a moved score): set contagion = 0"
            )
        courts = [name for name, b in self.behaviours.items() if b.escalation]
        if self.score.expires and courts and self.blacklist.court_points > 0:
            raise ValueError(
                f"score.memory = 'expiry' keeps the score on the credit file, but court judgments "
                f"(escalation of {courts[0]}) take blacklist.court_points from it directly: "
                "set court_points = 0 or drop the escalation"
            )
        if "edges" in self.sanctions:
            raise ValueError("sanctions: 'edges' is reserved (its active_edges column is the network's); rename it")
        if self.network.generator == "small_world" and self.network.k >= self.run.agents:
            raise ValueError(f"network.k must be below run.agents (got k={self.network.k})")
        if self.network.generator == "scale_free" and self.network.m >= self.run.agents:
            raise ValueError(f"network.m must be below run.agents (got m={self.network.m})")
        return self

    @property
    def n_regions(self) -> int:
        """Number of regions R."""
        return len(self.regions)

    @property
    def negative(self) -> list[bool]:
        """Per behaviour, in order: whether its points are below 0 (MODEL.md §3)."""
        return [behaviour.points < 0 for behaviour in self.behaviours.values()]

    @property
    def dissent_index(self) -> int:
        """Position of the behaviour named ``dissent`` (subject to chill), or -1."""
        names = list(self.behaviours)
        return names.index("dissent") if "dissent" in names else -1

    def resolved(self) -> dict[str, Any]:
        """The full scenario as plain JSON-compatible data (for manifests)."""
        return self.model_dump(mode="json")


def _check_tiers(tiers: list[Tier]) -> None:
    bounds = [tier.min_score for tier in tiers]
    if bounds[-1] is not None:
        raise ValueError("tiers: the last tier must have no min_score")
    if any(bound is None for bound in bounds[:-1]):
        raise ValueError("tiers: every tier but the last needs a min_score")
    if any(b >= a for a, b in itertools.pairwise(bounds[:-1])):
        raise ValueError(f"tiers: min_score must strictly decrease (got {bounds[:-1]})")
    names = [tier.name for tier in tiers]
    if len(set(names)) != len(names):
        raise ValueError(f"tiers: names must be unique (got {names})")


# ---------------------------------------------------------------------------
# Loading, overrides and error messages


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
        raise ScenarioError([f"--set {text!r}: expected KEY=VALUE, e.g. score.contagion=0"])
    if not _DOTTED.fullmatch(key):
        raise ScenarioError(
            [f"--set {text!r}: KEY must be a dotted path of names and list positions, e.g. regions.0.share"]
        )
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key, parsed


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``raw[a][b]...= value`` for ``dotted = "a.b..."``; numeric parts index lists."""
    parts = dotted.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: depth + 1]))
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, dotted)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError([f"--set {dotted}: {'.'.join(parts[:-1])} is a value, not a table"])


def _child(node: Any, part: str, where: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, where)]
    if not isinstance(node, dict):
        raise ScenarioError([f"--set {where}: the parent is a value, not a table"])
    return node.setdefault(part, {})


def _list_index(node: list[Any], part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError([f"--set {where}: index must be 0 to {len(node) - 1}"])
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
    path = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
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
    """Load a shipped scenario or a TOML file, apply ``--set`` overrides and run settings, validate."""
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


def json_schema() -> str:
    """The JSON Schema of a scenario file, as committed in ``docs/scenario.schema.json``."""
    return json.dumps(Scenario.model_json_schema(), indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------
# Branching: a policy change on a saved society

SOCIETY = ("run.agents", "run.seed", "population", "regions", "network")
"""What drew the saved society; a branch may not change it (it would change nothing but the record)."""


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


def branch_problems(saved: dict[str, Any], branch: Scenario, saved_day: int) -> list[str]:
    """Why ``branch`` cannot continue the society saved (resolved scenario ``saved``) after ``saved_day`` days."""
    problems = []
    changed = differences(saved, branch.resolved())
    for key, (old, new) in changed.items():
        if any(key == part or key.startswith(part + ".") for part in SOCIETY):
            problems.append(
                f"{key}: {new!r} differs from the saved society's {old!r}; a branch changes policy, not the "
                "population or network it continues (drop this --set, or start a new run)"
            )
    memory = saved.get("score", {}).get("memory", "recovery")
    if branch.score.memory != memory:
        problems.append(
            f"score.memory: {branch.score.memory!r} differs from the saved run's {memory!r}; a branch keeps how "
            "the score forgets (a recovering score has no file of records to expire)"
        )
    saved_days = saved.get("score", {}).get("memory_days")
    if branch.score.expires and saved_days is not None and (branch.score.memory_days or 0) > saved_days:
        problems.append(
            f"score.memory_days: {branch.score.memory_days} is longer than the saved run's {saved_days}; records "
            "that have expired cannot come back on file (a branch may shorten memory_days, not lengthen it)"
        )
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
            problems.append(
                f"{part}: the branch has {branch_names[part]}, the saved society {names}; "
                "keep the same names in the same order (change their parameters instead)"
            )
    if branch.run.days <= saved_day:
        problems.append(
            f"run.days: {branch.run.days} is not after the checkpoint's day {saved_day}; "
            f"give the total length with --days (e.g. --days {saved_day + 365})"
        )
    return problems
