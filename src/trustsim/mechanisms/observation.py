"""Phase B — observation, face recognition and human review (docs/model.md §4).

Draws, each with counter ``(i, t)``: ``obs:<b>`` (observed), ``fr:<b>`` (face
recognition outcome), ``frj:<b>`` (who a misattribution lands on), ``rev:<b>``
(reviewed) and ``cat:<b>`` (a reviewed misattribution caught). Draws whose
outcome is certain (coverage 0, review capacity above demand) are not taken;
since draws are stateless this changes nothing else.

The rules: :func:`sighting` decides what becomes of one instance and
:func:`observe_agent` sorts an agent's instances of the day; :func:`review_shares` gives
each region's share of candidates reviewed (and the backlog); :func:`review_actor`
reviews an agent's misattributions (:func:`stands_review`) and finds whom those that
stand land on (:func:`pinned_on`); :func:`land` applies their points there. On the CPU
one parallel pass sorts the instances of the agents who committed anything today; the
review then runs serially over the few misattributions, in order of actor id and
behaviour, so that points landing on one agent are summed in that order.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from trustsim.day import Day, Outcomes, Tallies, agents_of, bit, chunk_function, flagged, has
from trustsim.population import CASHLESS, OFF_GRID, Population, is_set
from trustsim.rng import stream_id, uniform
from trustsim.scalar import tally
from trustsim.scenario import CAMERA, CHANNELS, ONLINE, PAYMENT, Scenario
from trustsim.world import RegionIndex, World, alive_at_rank, alive_rank

UNSEEN, ATTRIBUTED, MISATTRIBUTED, LOST = 0, 1, 2, 3
"""What becomes of an instance (:func:`sighting`)."""


class ObservationParams(NamedTuple):
    """Phase B's parameters; arrays have one entry per behaviour in scenario order."""

    channel: np.ndarray  # int64: position in trustsim.scenario.CHANNELS
    points: np.ndarray  # float64
    observe_stream: np.ndarray  # int64: ids of the streams obs:<b> …
    recognise_stream: np.ndarray  # fr:<b>
    target_stream: np.ndarray  # frj:<b>
    review_stream: np.ndarray  # rev:<b>
    catch_stream: np.ndarray  # cat:<b>
    false_match: float
    false_non_match: float
    review_per_capita: float
    review_catch: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ObservationParams:
        """The parameters of ``scenario``."""
        names = list(scenario.behaviours)

        def streams(kind: str) -> np.ndarray:
            return np.array([stream_id(f"{kind}:{name}") for name in names], dtype=np.int64)

        obs = scenario.observation
        return cls(
            channel=np.array([CHANNELS.index(b.channel) for b in scenario.behaviours.values()], dtype=np.int64),
            points=np.array([b.points for b in scenario.behaviours.values()], dtype=np.float64),
            observe_stream=streams("obs"),
            recognise_stream=streams("fr"),
            target_stream=streams("frj"),
            review_stream=streams("rev"),
            catch_stream=streams("cat"),
            false_match=float(obs.false_match),
            false_non_match=float(obs.false_non_match),
            review_per_capita=float(obs.review_per_capita),
            review_catch=float(obs.review_catch),
        )


# ---------------------------------------------------------------------------------- the rules


@nb.njit(inline="always", cache=True)
def sighting(
    params: ObservationParams, b: int, seed: int, t: int, i: int, coverage: float, cashless: bool, off_grid: bool,
    alive_in_region: int,
) -> int:  # fmt: skip
    """What becomes of agent ``i``'s instance of behaviour ``b``, with its channel's ``coverage`` in its region.

    ``UNSEEN``, or seen and then ``ATTRIBUTED`` to ``i``, ``MISATTRIBUTED`` to somebody
    else (camera) or ``LOST`` (camera: not recognised, or nobody else in the region).
    Draws ``obs:<b>`` and, on camera, ``fr:<b>``.
    """
    channel = params.channel[b]
    if channel == PAYMENT and (off_grid or not cashless):
        return UNSEEN
    if channel == ONLINE and off_grid:
        return UNSEEN
    if coverage <= 0.0 or uniform(seed, params.observe_stream[b], t, i, 0) >= coverage:
        return UNSEEN
    if channel != CAMERA:
        return ATTRIBUTED
    u = uniform(seed, params.recognise_stream[b], t, i, 0)
    missed = params.false_non_match
    wrong = missed + params.false_match
    if u < missed or (u < wrong and alive_in_region == 1):
        return LOST
    return MISATTRIBUTED if u < wrong else ATTRIBUTED


@nb.njit(inline="always", cache=True)
def observe_agent(
    params: ObservationParams, seed: int, t: int, i: int, instances: np.unsignedinteger, coverage: np.ndarray,
    pop: Population, index: RegionIndex, observed: np.ndarray, misattributed: np.ndarray, attributed: np.ndarray,
    candidates: np.ndarray,
) -> tuple[np.uint64, np.uint64]:  # fmt: skip
    """Sort agent ``i``'s instances of today (the behaviour mask ``instances``) by :func:`sighting`.

    Returns the masks of the instances attributed to ``i`` and of those misattributed to
    somebody else (before review). Tallies, by behaviour, the instances ``observed``,
    ``misattributed`` and ``attributed`` (whose points are applied), and, by region, the
    camera instances that are ``candidates`` for review. ``coverage``: (channel, region) today.
    """
    own = np.uint64(0)
    wrong = np.uint64(0)
    r = pop.region[i]
    for b in range(params.channel.shape[0]):
        if not has(instances, b):
            continue
        channel = params.channel[b]
        outcome = sighting(params, b, seed, t, i, coverage[channel, r], is_set(pop.traits[i], CASHLESS),
                           is_set(pop.adapted[i], OFF_GRID), index.alive[r])  # fmt: skip
        if outcome == UNSEEN:
            continue
        tally(observed, b, 1)
        if outcome == LOST:
            continue
        if channel == CAMERA:
            tally(candidates, r, 1)
        if outcome == MISATTRIBUTED:
            wrong |= bit(b)
            tally(misattributed, b, 1)
        else:
            own |= bit(b)
            tally(attributed, b, 1)
    return own, wrong


def review_shares(params: ObservationParams, candidates: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, float]:
    """Each region's share of review candidates that are reviewed today, and the review backlog.

    ``candidates`` and ``alive`` (at the start of the day) are per region. A region
    reviews ``review_per_capita · alive`` candidates a day; with more candidates than
    that, each is reviewed with the capacity's share of them.
    """
    capacity = params.review_per_capita * alive
    backlog = float(np.maximum(0.0, candidates - capacity).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(candidates > 0, np.minimum(1.0, capacity / candidates), 1.0)
    return shares, backlog


@nb.njit(inline="always", cache=True)
def stands_review(params: ObservationParams, b: int, seed: int, t: int, i: int, reviewed_share: float) -> bool:
    """Whether agent ``i``'s misattributed instance of ``b`` stands: not reviewed, or reviewed and not caught."""
    reviewed = reviewed_share >= 1.0 or uniform(seed, params.review_stream[b], t, i, 0) < reviewed_share
    return not (reviewed and uniform(seed, params.catch_stream[b], t, i, 0) < params.review_catch)


@nb.njit(inline="always", cache=True)
def pinned_on(params: ObservationParams, b: int, seed: int, t: int, i: int, r: int, index: RegionIndex) -> int:
    """The agent a misattribution of ``i`` (of region ``r``) lands on: rank ``k`` among the region's others."""
    k = np.int64(uniform(seed, params.target_stream[b], t, i, 0) * (index.alive[r] - 1))
    if k >= alive_rank(i, r, index):
        k += 1
    return alive_at_rank(k, r, index)


NO_TARGET = -1
"""What :func:`review_actor` records for a behaviour with no misattribution that stands."""


@nb.njit(inline="always", cache=True)
def review_actor(
    params: ObservationParams, seed: int, t: int, i: int, r: int, reviewed_share: float,
    misattributed: np.unsignedinteger, index: RegionIndex, targets: np.ndarray, caught: np.ndarray,
) -> None:  # fmt: skip
    """Review agent ``i``'s misattributed instances (the mask ``misattributed``; ``r`` its region).

    ``targets[b]`` becomes the agent a misattribution of ``b`` that stands lands on, or
    :data:`NO_TARGET`; each one review drops is tallied in ``caught[b]``.
    """
    for b in range(params.points.shape[0]):
        targets[b] = NO_TARGET
        if not has(misattributed, b):
            continue
        if stands_review(params, b, seed, t, i, reviewed_share):
            targets[b] = pinned_on(params, b, seed, t, i, r, index)
        else:
            tally(caught, b, 1)


@nb.njit(inline="always", cache=True)
def land(params: ObservationParams, targets: np.ndarray, out: Outcomes, stood: np.ndarray) -> None:
    """The points of one actor's misattributions that stand land on their ``targets``, in behaviour order.

    Negative points are wrongful for the agent they land on; each landing is tallied in ``stood[b]``.
    """
    for b in range(targets.shape[0]):
        j = targets[b]
        if j == NO_TARGET:
            continue
        points = params.points[b]
        out.landed_points[j] += points
        if points < 0.0:
            out.landed_wrongful[j] += points
        out.wrongly_received[j] |= bit(b)
        tally(stood, b, 1)


# ---------------------------------------------------------------------------------- the CPU driver


class ObservationPhase:
    """Decides which of today's instances the system sees, and whom it pins them on."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = ObservationParams.from_scenario(scenario)

    def step(self, world: World, day: Day) -> None:
        """Sort today's instances, run the review, and leave the points of misattributions that stand."""
        out, tallies, index = day.outcomes, day.tallies, world.regions
        _observe(world.seed, day.t, self.params, world.coverage[day.t], world.population, index, out, tallies)
        shares, day.review_backlog = review_shares(self.params, tallies.candidates.sum(axis=0), index.alive)
        actors = flagged(out.misattributed, np.iinfo(out.misattributed.dtype).max)
        _review(world.seed, day.t, self.params, shares, world.population.region, index, actors, out, tallies)


@nb.njit(parallel=True, cache=True)
def _observe(
    seed: int, t: int, params: ObservationParams, coverage: np.ndarray, pop: Population, index: RegionIndex,
    out: Outcomes, tallies: Tallies,
) -> None:  # fmt: skip
    for c in nb.prange(tallies.observed.shape[0]):
        _observe_chunk(c, seed, t, params, coverage, pop, index, out, tallies)


@chunk_function
def _observe_chunk(
    c: int, seed: int, t: int, params: ObservationParams, coverage: np.ndarray, pop: Population, index: RegionIndex,
    out: Outcomes, tallies: Tallies,
) -> None:  # fmt: skip
    observed, misattributed, penalised, candidates = (
        tallies.observed[c], tallies.misattributed[c], tallies.penalised[c], tallies.candidates[c]
    )
    observed[:] = 0
    misattributed[:] = 0
    penalised[:] = 0
    candidates[:] = 0
    lo, hi = agents_of(c, out.committed.shape[0])
    out.attributed[lo:hi] = 0
    out.misattributed[lo:hi] = 0
    out.wrongly_received[lo:hi] = 0
    for i in range(lo, hi):
        instances = out.committed[i]  # emigrants commit nothing
        if instances != 0:
            out.attributed[i], out.misattributed[i] = observe_agent(
                params, seed, t, i, instances, coverage, pop, index, observed, misattributed, penalised, candidates
            )


@nb.njit(cache=True)
def _review(
    seed: int, t: int, params: ObservationParams, reviewed_share: np.ndarray, region: np.ndarray, index: RegionIndex,
    actors: np.ndarray, out: Outcomes, tallies: Tallies,
) -> None:  # fmt: skip
    # Serially, in order of actor id: points landing on one agent are summed in that order.
    caught, stood = tallies.caught[0], tallies.penalised[-1]
    caught[:] = 0
    stood[:] = 0
    targets = np.empty(params.points.shape[0], dtype=np.int64)
    for i in actors:
        r = region[i]
        review_actor(params, seed, t, i, r, reviewed_share[r], out.misattributed[i], index, targets, caught)
        land(params, targets, out, stood)
