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

# The validators word the errors; the JSON Schema states the same bounds for editors and the documentation.
Probability = Annotated[float, AfterValidator(_probability), Field(json_schema_extra={"minimum": 0, "maximum": 1})]
ScoreValue = Annotated[float, Field(ge=-SCORE_LIMIT, le=SCORE_LIMIT)]
Amount = Annotated[float, Field(ge=0.0, le=ACCOUNTING_LIMIT)]
NonNegative = Annotated[float, AfterValidator(_non_negative), Field(json_schema_extra={"minimum": 0})]
Positive = Annotated[float, AfterValidator(_positive), Field(json_schema_extra={"exclusiveMinimum": 0})]
Name = Annotated[str, AfterValidator(_identifier)]


def described(meaning: str, unit: str, **constraints: Any) -> Any:
    """A field with its meaning and unit, which the JSON Schema and the documentation's scenario keys show."""
    return Field(description=meaning, json_schema_extra={"unit": unit}, **constraints)


class Section(BaseModel):
    """A closed, immutable group of parameters: unknown keys raise, floats are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


MAX_DENIALS_PER_ROW = 2**16 - 1
"""Most refusals an agent may get between two rows of groups.parquet (each sanction refuses at most once a day)."""


class RunSettings(Section):
    """Size and seed of a run, and how often who bears it is broken down by group."""

    agents: int = described("number of agents N (agent ids are 32-bit)", "agents", ge=2, le=2**31 - 1)
    days: int = described("number of simulated days T (at most 32,767: about 90 years)", "days", ge=1, le=MAX_DAYS)
    seed: int = described("seed of every random stream (docs/model.md §9)", "–", ge=0, le=MAX_SEED)
    breakdown_every: int = described("days between the rows of groups.parquet (docs/model.md §15)", "days",
                                     default=30, ge=1)


class Region(Section):
    """One region (docs/model.md §1): its population share and its share of cashless payers."""

    name: Name = described("the region's name (the report and groups.parquet use it)", "name")
    share: Positive = described("share of the agents living here (shares sum to 1)", "share")
    cashless_share: Probability = described("probability an agent here pays by phone, so purchases are seen",
                                            "probability")


class Population(Section):
    """Attributes drawn once per agent (docs/model.md §1)."""

    outspoken_share: Probability = described("probability an agent is outspoken (posts criticism far more often)",
                                             "probability")
    privacy_share: Probability = described("probability an agent is privacy-minded (may opt out)", "probability")
    heterogeneity: Positive = described("shape h of the Gamma(h, 1/h) frailty, mean 1: smaller, more unequal",
                                        "–")


def _shares_sum_to_one(shares: list[float], what: str) -> None:
    total = sum(shares)
    if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-6):
        raise ValueError(f"{what} must sum to 1 (got {total:g})")


class Households(Section):
    """Households of adults and their dependent children (docs/model.md §14)."""

    adults: list[Probability] = described(
        "shares of the households with 1, 2, 3 … adults (the first share is of one adult)", "shares", min_length=1
    )
    children: list[Probability] = described(
        "shares of the households with 0, 1, 2 … children (the first share is of none)", "shares", min_length=1
    )
    family_weight: NonNegative = described(
        "a family member's weight against a friend's in contagion and chilling (0: family plays no part)", "weight"
    )
    emigrate_with_household: bool = described("when an adult emigrates, the household's other adults leave too",
                                              "true/false")

    @model_validator(mode="after")
    def _shares(self) -> Households:
        _shares_sum_to_one(self.adults, "adults shares")
        _shares_sum_to_one(self.children, "children shares")
        return self


class AgeBand(Section):
    """A band of ages: whole years from ``min_age`` to the next band's ``min_age`` − 1."""

    min_age: int = described("the youngest age of the band", "years", ge=0, le=200)
    share: Probability = described("share of the adults in this band on day 0", "share")


class Ages(Section):
    """The adults' ages (docs/model.md §14)."""

    age_bands: list[AgeBand] = described("bands in increasing age; the last runs to max_age", "–", min_length=1)
    max_age: int = described("the oldest age on day 0", "years", le=200)

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

    generator: Literal["small_world"] = described("a Watts–Strogatz small world", "–")
    k: int = described("each agent joins k/2 neighbours on each side of a ring; even", "friends", ge=2)
    p: Probability = described("rewiring probability of each ring edge", "probability")

    @model_validator(mode="after")
    def _k_even(self) -> SmallWorld:
        if self.k % 2:
            raise ValueError(f"k must be even (got {self.k})")
        return self


class ScaleFree(Section):
    """Barabási–Albert preferential attachment (networkx semantics)."""

    generator: Literal["scale_free"] = described("a Barabási–Albert scale-free network", "–")
    m: int = described("edges each new agent brings", "friends", ge=1)


class RegionalSBM(Section):
    """Stochastic block model whose blocks are the regions."""

    generator: Literal["regional_sbm"] = described("a stochastic block model whose blocks are the regions", "–")
    mean_degree: Positive = described("expected number of friends of an agent", "friends")
    within_share: Probability = described("share of each agent's ties inside its region", "share")


class EdgeFile(Section):
    """An edge list from a Parquet or CSV file of two integer columns."""

    generator: Literal["file"] = described("an edge list read from a file", "–")
    path: str = described("Parquet or CSV file of two integer columns, relative to the scenario file", "path",
                          min_length=1)


NetworkSpec = Annotated[SmallWorld | ScaleFree | RegionalSBM | EdgeFile, Field(discriminator="generator")]


class SchedulePoint(Section):
    """A rollout point (docs/model.md §8): from ``day`` on, coverage heads linearly to the next point."""

    day: int = described("the day from which this point holds", "day", ge=0)
    coverage: Probability = described("probability an instance on this channel is observed", "probability")


class Channel(Section):
    """Coverage schedule of one observation channel (docs/model.md §4, §8)."""

    schedule: list[SchedulePoint] = described("rollout in every region; empty means coverage 0 throughout", "–")
    region_schedules: dict[str, list[SchedulePoint]] = described(
        "per-region replacements of `schedule`, by region name", "–", default_factory=dict
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

    camera: Channel = described("street cameras with face recognition: misattributes (§4)", "–")
    payment: Channel = described("payments by phone: sees cashless agents' purchases", "–")
    online: Channel = described("online posts and platform telemetry", "–")
    finance: Channel = described("lenders, courts' and utilities' records", "–")
    civic: Channel = described("volunteer and civic registries", "–")


class Observation(Section):
    """Face recognition and human review of camera instances (docs/model.md §4)."""

    false_match: Probability = described("probability a camera match pins an instance on somebody else",
                                         "probability")
    false_non_match: Probability = described("probability a camera instance goes unattributed", "probability")
    review_per_capita: NonNegative = described("human reviews of camera matches a day, per alive agent of a region",
                                               "reviews per agent per day")
    review_catch: Probability = described("probability a review catches a misattribution", "probability")

    @model_validator(mode="after")
    def _error_rates_sum(self) -> Observation:
        if self.false_match + self.false_non_match > 1.0:
            raise ValueError("false_match + false_non_match must be at most 1")
        return self


class Behaviour(Section):
    """One behaviour of docs/model.md §3."""

    channel: ChannelName = described("the channel that may observe it", "–")
    points: ScoreValue = described("signed points per observed, attributed instance", "points")
    base_rate: Probability = described("daily probability before frailty and modifiers", "probability per day")
    escalation: Probability | None = described(
        "probability a correctly attributed instance goes to court", "probability", default=None
    )
    outspoken_multiplier: NonNegative | None = described("factor on the rate of an outspoken agent", "multiplier",
                                                         default=None)
    age_multiplier: list[NonNegative] | None = described(
        "one factor per age band, on the rate of an agent of that band (needs [ages])", "multiplier", default=None
    )


class Score(Section):
    """The score and its dynamics (docs/model.md §5).

    ``memory`` says how the score forgets. ``"recovery"`` (docs/model.md §5): every day the
    score moves a share ρ back towards its target, set by ``recovery_half_life_days``
    (omit it for no recovery). ``"expiry"``: a credit file, where each day's points stay
    in full for ``memory_days`` days and are then removed at once (docs/model-choices.md).
    """

    base_score: ScoreValue = described("everybody's score on day 0, and the target of recovery", "points")
    score_min: ScoreValue = described("the lowest score", "points")
    score_max: ScoreValue = described("the highest score", "points")
    off_grid_score: ScoreValue = described("the score an agent who opts out is held at", "points")
    recovery_half_life_days: Positive | None = described(
        "days for half of a score's distance to its target to recover (omit: no recovery)", "days", default=None
    )
    contagion: Probability = described("κ: daily pull towards the friends' mean score; 0 is off", "share per day")
    memory: Literal["recovery", "expiry"] = described(
        "recovery: exponential return to target; expiry: points drop off the file", "–", default="recovery"
    )
    memory_days: int | None = described(
        "expiry: days a day's points stay on file (e.g. 2190: six years)", "days", default=None, ge=1, le=100_000
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

    blacklist_score: ScoreValue = described("an agent whose score falls below this is listed", "points")
    blacklist_exit_score: ScoreValue = described("a listed agent at or above this counts days towards leaving",
                                                 "points")
    blacklist_exit_days: int = described("consecutive days at or above the exit score that end a listing", "days",
                                         ge=0)
    court_points: Annotated[float, Field(ge=0.0, le=SCORE_LIMIT)] = described(
        "points a court judgment takes off the score (the court lists the agent whatever they are)", "points"
    )
    court_exit_rate: Probability = described("daily probability a court-listed agent is taken off the list",
                                             "probability per day")


class Tier(Section):
    """A tier: agents with ``score ≥ min_score``; the last tier has no ``min_score``."""

    name: Name = described("the tier's name", "name")
    min_score: ScoreValue | None = described("agents at or above this score are in the tier (not on the last)",
                                             "points", default=None)


class Sanction(Section):
    """A sanction (docs/model.md §6 item 6): active below a score and/or when blacklisted."""

    applies_below: ScoreValue | None = described("active for an agent whose score is below this", "points",
                                                  default=None)
    applies_to_blacklisted: bool = described("active for every listed agent", "true/false", default=False)
    attempt_rate: Probability = described("daily probability an agent tries what the sanction refuses (a flight, "
                                          "a loan …): each try under it is a refusal", "probability per day")
    affects_children: bool = described(
        "also bars the children of a household where an adult has it (needs [households])", "true/false",
        default=False,
    )

    @model_validator(mode="after")
    def _has_condition(self) -> Sanction:
        if self.applies_below is None and not self.applies_to_blacklisted:
            raise ValueError("set applies_below and/or applies_to_blacklisted = true")
        return self


class Adaptation(Section):
    """How people adapt (docs/model.md §7)."""

    deterrence_step: Probability = described("share of a behaviour's rate a penalty for it takes away", "share")
    deterrence_floor: Annotated[Probability, AfterValidator(_positive)] = described(
        "the lowest factor deterrence leaves on a rate", "multiplier"
    )
    deterrence_relax: Probability = described("daily share of the deterrence that wears off", "share per day")
    chill_step: Probability = described("share of the dissent rate taken away when every friend is touched",
                                        "share")
    chill_relax: Probability = described("daily share of the chill that wears off", "share per day")
    unfriend_rate: Probability = described("daily probability a friendship with a listed agent is cut",
                                           "probability per day")
    opt_out_coverage: Probability = described("camera coverage at or above which privacy-minded agents may opt out",
                                              "probability")
    opt_out_rate: Probability = described("daily probability such an agent opts out", "probability per day")
    adviser_below: ScoreValue = described("agents below this score may hire a score adviser", "points")
    adviser_min_decile: int = described("the lowest income decile that can hire one (10: nobody)", "decile",
                                        ge=0, le=10)
    adviser_rate: Probability = described("daily probability such an agent hires one", "probability per day")
    adviser_effect: NonNegative = described("factor an adviser leaves on the rates of negative behaviours",
                                            "multiplier")
    emigrate_min_decile: int = described("the lowest income decile that can emigrate (10: nobody)", "decile",
                                         ge=0, le=10)
    emigrate_rate: Probability = described("daily probability a sanctioned agent who can emigrates",
                                           "probability per day")

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
    purchases_per_day: Annotated[float, Field(ge=1e-6, le=ACCOUNTING_LIMIT)] = described(
        "purchases an agent makes a day (the denominator of import_share)", "purchases per agent per day"
    )
    bytes_per_record: Amount = described("bytes stored per observed instance", "bytes")
    cameras_per_capita: Amount = described("cameras per agent", "cameras per agent")
    camera_bytes_per_day: Amount = described("footage one camera records a day", "bytes per camera per day")
    footage_retention_days: int = described("days footage is kept", "days", ge=1, le=10**6)


class Scenario(Section):
    """A complete, validated scenario: every parameter of docs/model.md, nothing else."""

    name: Name = described("the scenario's name (run directories and reports use it)", "name")
    description: str = described("what the scenario is, in a sentence", "text")
    run: RunSettings = described("size, length and seed of a run (§9)", "–")
    regions: list[Region] = described("the regions the agents live in (§1)", "–", min_length=1,
                                      max_length=MAX_REGIONS)
    population: Population = described("attributes drawn once per agent (§1)", "–")
    network: NetworkSpec = described("the friendship network and its generator (§2)", "–")
    channels: Channels = described("the five observation channels and their rollout (§4, §8)", "–")
    observation: Observation = described("face recognition and human review of camera matches (§4)", "–")
    behaviours: dict[Name, Behaviour] = described("the behaviours, by name: what people do and its points (§3)", "–",
                                                  min_length=1, max_length=64)
    score: Score = described("the score and how it forgets (§5)", "–")
    blacklist: Blacklist = described("courts and the public list (§6)", "–")
    tiers: list[Tier] = described("score tiers, best first (§6)", "–", min_length=1)
    sanctions: dict[Name, Sanction] = described("the sanctions, by name: when each applies and what it refuses (§6)",
                                                "–")
    adaptation: Adaptation = described("how people adapt: deterrence, chill, unfriending, opting out, advisers, "
                                       "emigration (§7)", "–")
    accounting: Accounting = described("what is stored and counted (§10)", "–")
    households: Households | None = described("households, children and family ties (§14); omit for none", "–",
                                              default=None)
    ages: Ages | None = described("the adults' ages (§14); omit for none", "–", default=None)

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
