"""The scenario schema: the closed parameter set of docs/model.md, as pydantic models.

A scenario's sections follow docs/model.md and use its parameter names (``[score]
recovery_half_life_days``, ``[blacklist] blacklist_score`` ...). Unknown keys and
impossible values are rejected. :func:`json_schema` is the JSON Schema of a scenario
file (committed as ``docs/scenario.schema.json``).
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

CHANNELS = ("camera", "payment", "online", "finance", "civic")
ChannelName = Literal["camera", "payment", "online", "finance", "civic"]
CAMERA, PAYMENT, ONLINE = (CHANNELS.index(name) for name in ("camera", "payment", "online"))
MAX_SEED = 2**32 - 1
MAX_DAYS = 2**15 - 1
"""The longest run (about 90 years): a day, such as the day of listing, is stored in 16 bits."""
MAX_REGIONS = 2**15 - 1
"""The most regions: an agent's region is stored in 16 bits."""


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


MAX_DENIALS_PER_ROW = 2**16 - 1
"""Most refusals an agent may get between two rows of groups.parquet (each sanction refuses at most once a day)."""


class RunSettings(Section):
    """Size and seed of a run, and how often who bears it is broken down by group."""

    agents: int = Field(ge=2, le=2**31 - 1, description="number of agents N (agent ids are 32-bit)")
    days: int = Field(ge=1, le=MAX_DAYS, description="number of simulated days T (at most 32,767: about 90 years)")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of every random stream (docs/model.md §9)")
    breakdown_every: int = Field(
        default=30, ge=1, description="days between the rows of groups.parquet (docs/model.md §15)"
    )


class Region(Section):
    """One region (docs/model.md §1): its population share and its share of cashless payers."""

    name: Name
    share: Positive = Field(description="share of the agents living here (shares sum to 1)")
    cashless_share: Probability = Field(description="probability an agent here pays by phone")


class Population(Section):
    """Attributes drawn once per agent (docs/model.md §1)."""

    outspoken_share: Probability
    privacy_share: Probability
    heterogeneity: Positive = Field(description="shape of the Gamma(h, 1/h) frailty, mean 1")


def _shares_sum_to_one(shares: list[float], what: str) -> None:
    total = sum(shares)
    if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-6):
        raise ValueError(f"{what} must sum to 1 (got {total:g})")


class Households(Section):
    """Households of adults and their dependent children (docs/model.md §14)."""

    adults: list[Probability] = Field(
        min_length=1, description="shares of the households with 1, 2, 3 … adults (the first share is of one adult)"
    )
    children: list[Probability] = Field(
        min_length=1, description="shares of the households with 0, 1, 2 … children (the first share is of none)"
    )
    family_weight: NonNegative = Field(
        description="a family member's weight against a friend's in contagion and chilling (0: family plays no part)"
    )
    emigrate_with_household: bool = Field(description="when an adult emigrates, the household's other adults leave too")

    @model_validator(mode="after")
    def _shares(self) -> Households:
        _shares_sum_to_one(self.adults, "adults shares")
        _shares_sum_to_one(self.children, "children shares")
        return self


class AgeBand(Section):
    """A band of ages: whole years from ``min_age`` to the next band's ``min_age`` − 1."""

    min_age: int = Field(ge=0, le=200, description="the youngest age of the band, in whole years")
    share: Probability = Field(description="share of the adults in this band on day 0")


class Ages(Section):
    """The adults' ages (docs/model.md §14)."""

    age_bands: list[AgeBand] = Field(min_length=1, description="bands in increasing age; the last runs to max_age")
    max_age: int = Field(le=200, description="the oldest age on day 0, in whole years")

    @model_validator(mode="after")
    def _ordered(self) -> Ages:
        ages = [band.min_age for band in self.age_bands]
        if ages[0] < 18:
            raise ValueError(f"the first band's min_age must be at least 18: agents are adults (got {ages[0]})")
        if any(b <= a for a, b in itertools.pairwise(ages)):
            raise ValueError(f"age_bands: min_age must strictly increase (got {ages})")
        if self.max_age < ages[-1]:
            raise ValueError(f"max_age must be at least the last band's min_age {ages[-1]} (got {self.max_age})")
        _shares_sum_to_one([band.share for band in self.age_bands], "age_bands shares")
        return self


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
    """A rollout point (docs/model.md §8): from ``day`` on, coverage heads linearly to the next point."""

    day: int = Field(ge=0)
    coverage: Probability


class Channel(Section):
    """Coverage schedule of one observation channel (docs/model.md §4, §8)."""

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
    """The five channels of docs/model.md §4."""

    camera: Channel
    payment: Channel
    online: Channel
    finance: Channel
    civic: Channel


class Observation(Section):
    """Face recognition and human review of camera instances (docs/model.md §4)."""

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
    """One behaviour of docs/model.md §3."""

    channel: ChannelName
    points: ScoreValue = Field(description="signed points per observed, attributed instance")
    base_rate: Probability = Field(description="daily probability before frailty and modifiers")
    escalation: Probability | None = Field(
        default=None, description="probability a correctly attributed instance goes to court"
    )
    outspoken_multiplier: NonNegative | None = None
    age_multiplier: list[NonNegative] | None = Field(
        default=None, description="one factor per age band, on the rate of an agent of that band (needs [ages])"
    )


class Score(Section):
    """The score and its dynamics (docs/model.md §5).

    ``memory`` says how the score forgets. ``"recovery"`` (docs/model.md §5): every day the
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
    """Court judgments and the public list (docs/model.md §6, items 1–4)."""

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
    """A sanction (docs/model.md §6 item 6): active below a score and/or when blacklisted."""

    applies_below: ScoreValue | None = None
    applies_to_blacklisted: bool = False
    attempt_rate: Probability
    affects_children: bool = Field(
        default=False, description="also bars the children of a household where an adult has it (needs [households])"
    )

    @model_validator(mode="after")
    def _has_condition(self) -> Sanction:
        if self.applies_below is None and not self.applies_to_blacklisted:
            raise ValueError("set applies_below and/or applies_to_blacklisted = true")
        return self


class Adaptation(Section):
    """How people adapt (docs/model.md §7)."""

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

    @model_validator(mode="after")
    def _chill_stays_positive(self) -> Adaptation:
        if self.chill_step == 1.0 and self.chill_relax == 0.0:
            raise ValueError("chill_step = 1 with chill_relax = 0 would take chill to 0, which must stay above 0 "
                             "(docs/model.md §1): set chill_step below 1 or chill_relax above 0")  # fmt: skip
        return self


class Accounting(Section):
    """Quantities used only by the metrics (docs/model.md §10)."""

    # At least one purchase per agent in ~2,700 years: import_share = imports / (alive ·
    # purchases_per_day) stays finite (a denormal rate made it infinite).
    purchases_per_day: Annotated[Positive, Field(ge=1e-6, le=ACCOUNTING_LIMIT)]
    bytes_per_record: Amount
    cameras_per_capita: Amount
    camera_bytes_per_day: Amount
    footage_retention_days: int = Field(ge=1, le=10**6)


class Scenario(Section):
    """A complete, validated scenario: every parameter of docs/model.md, nothing else."""

    name: Name
    description: str
    run: RunSettings
    regions: list[Region] = Field(min_length=1, max_length=MAX_REGIONS)
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
    households: Households | None = None
    ages: Ages | None = None

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
        if self.run.breakdown_every * len(self.sanctions) > MAX_DENIALS_PER_ROW:
            raise ValueError(
                f"run.breakdown_every × the number of sanctions must be at most {MAX_DENIALS_PER_ROW:,} (an agent's "
                f"refusals between two rows of groups.parquet are counted in 16 bits; got {self.run.breakdown_every} "
                f"× {len(self.sanctions)}): break down more often"
            )
        self._check_families_and_ages()
        return self

    def _check_families_and_ages(self) -> None:
        bands = len(self.ages.age_bands) if self.ages is not None else 0
        for name, behaviour in self.behaviours.items():
            factors = behaviour.age_multiplier
            if factors is not None and len(factors) != bands:
                needs = f"one factor per age band ({bands})" if bands else "an [ages] section"
                raise ValueError(f"behaviours.{name}.age_multiplier: needs {needs} (got {len(factors)} factors)")
        if self.households is None:
            for name, sanction in self.sanctions.items():
                if sanction.affects_children:
                    raise ValueError(f"sanctions.{name}.affects_children: needs a [households] section (children)")

    @property
    def n_regions(self) -> int:
        """Number of regions R."""
        return len(self.regions)

    @property
    def negative(self) -> list[bool]:
        """Per behaviour, in order: whether its points are below 0 (docs/model.md §3)."""
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


def json_schema() -> str:
    """The JSON Schema of a scenario file, as committed in ``docs/scenario.schema.json``."""
    return json.dumps(Scenario.model_json_schema(), indent=2, sort_keys=True) + "\n"
