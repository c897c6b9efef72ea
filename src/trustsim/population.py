"""Agent state as named arrays indexed by agent id, and its initialisation (MODEL.md §1).

Initialisation draws (all with ``t = 0``, ``k`` = agent id, slot 0 unless said):

* ``init:region_order``: one uniform per agent; agents sorted by it (stable) form the
  random permutation over which exact regional quotas (largest remainder) are dealt;
* ``init:decile``: ``income_decile = floor(10·U)``;
* ``init:outspoken``, ``init:privacy``: Bernoulli draws ``U < share``;
* ``init:cashless``: ``U < cashless_share[region]``;
* ``init:frailty:<behaviour>``: Gamma(h, 1/h) by :func:`trustsim.rng.gamma_unit_mean`.

Streams are named after behaviours, not their position, so adding a behaviour to a
scenario leaves every other agent attribute unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numba as nb
import numpy as np

from trustsim.rng import gamma_unit_mean, stream_id, uniform_array
from trustsim.scenario import Scenario


@dataclass
class Population:
    """Every agent attribute and state variable of MODEL.md §1, one array each.

    Arrays of shape ``(N,)`` unless noted; ``(B, N)`` arrays hold one row per
    behaviour in scenario order. ``frailty`` is stored in single precision (it is
    read for every behaviour of every agent every day, so its size sets phase A's
    speed); arithmetic on it is in double precision.
    """

    region: np.ndarray  # int32
    income_decile: np.ndarray  # int8
    outspoken: np.ndarray  # bool
    privacy_minded: np.ndarray  # bool
    cashless: np.ndarray  # bool
    frailty: np.ndarray  # float32 (B, N)
    score: np.ndarray  # float64
    wrongful: np.ndarray  # float64
    blacklisted: np.ndarray  # bool
    court_listed: np.ndarray  # bool
    listed_wrongly: np.ndarray  # bool
    listed_day: np.ndarray  # int32, day of (first) listing, -1 when not listed
    days_above_exit: np.ndarray  # int32
    deterrence: np.ndarray  # float64 (B, N); stays 1 for non-negative behaviours
    chill: np.ndarray  # float64
    off_grid: np.ndarray  # bool
    advised: np.ndarray  # bool
    emigrated: np.ndarray  # bool
    ever_sanctioned: np.ndarray  # bool
    ever_wrongly_sanctioned: np.ndarray  # bool

    @property
    def n_agents(self) -> int:
        """Number of agents N (alive or not)."""
        return int(self.score.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """All state arrays by name (for checkpoints and the agent table)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


STATE_DTYPES: dict[str, type[np.generic]] = {
    "region": np.int32, "income_decile": np.int8, "outspoken": np.bool_, "privacy_minded": np.bool_,
    "cashless": np.bool_, "frailty": np.float32, "score": np.float64, "wrongful": np.float64,
    "blacklisted": np.bool_, "court_listed": np.bool_, "listed_wrongly": np.bool_, "listed_day": np.int32,
    "days_above_exit": np.int32, "deterrence": np.float64, "chill": np.float64, "off_grid": np.bool_,
    "advised": np.bool_, "emigrated": np.bool_, "ever_sanctioned": np.bool_, "ever_wrongly_sanctioned": np.bool_,
}  # fmt: skip
"""The dtype of every :class:`Population` array (checked when a saved state is loaded)."""
PER_BEHAVIOUR = ("frailty", "deterrence")
"""The ``(B, N)`` arrays; every other one is ``(N,)``."""


def region_quotas(n_agents: int, shares: list[float]) -> np.ndarray:
    """Exact agent counts per region by the largest-remainder method (ties: lower index)."""
    ideal = np.asarray(shares, dtype=np.float64) * n_agents
    quotas = np.floor(ideal).astype(np.int64)
    short = n_agents - int(quotas.sum())
    order = sorted(range(len(shares)), key=lambda r: (-(ideal[r] - quotas[r]), r))
    for r in order[:short]:
        quotas[r] += 1
    return quotas


def _deal_regions(n_agents: int, shares: list[float], seed: int) -> np.ndarray:
    order = np.argsort(uniform_array(seed, "init:region_order", 0, np.arange(n_agents)), kind="stable")
    region = np.empty(n_agents, dtype=np.int32)
    region[order] = np.repeat(np.arange(len(shares), dtype=np.int32), region_quotas(n_agents, shares))
    return region


@nb.njit(parallel=True, cache=True)
def _frailty(shape: float, seed: int, streams: np.ndarray, out: np.ndarray) -> None:
    for i in nb.prange(out.shape[1]):
        for b in range(streams.shape[0]):
            out[b, i] = gamma_unit_mean(shape, seed, streams[b], i)


def _frailties(shape: float, seed: int, streams: np.ndarray, n_agents: int) -> np.ndarray:
    # numpy allocates the array that phase A reads every day: numpy asks the kernel for
    # transparent huge pages on large arrays, numba's allocator does not.
    out = np.empty((streams.shape[0], n_agents), dtype=np.float32)
    _frailty(shape, seed, streams, out)
    return out


def initialise(scenario: Scenario) -> Population:
    """Draw a population for ``scenario`` from its seed (MODEL.md §1)."""
    n = scenario.run.agents
    seed = scenario.run.seed
    ids = np.arange(n)
    pop = scenario.population
    region = _deal_regions(n, [r.share for r in scenario.regions], seed)
    cashless_share = np.array([r.cashless_share for r in scenario.regions])
    streams = np.array([stream_id(f"init:frailty:{b}") for b in scenario.behaviours], dtype=np.int64)
    n_behaviours = len(scenario.behaviours)
    return Population(
        region=region,
        income_decile=np.floor(uniform_array(seed, "init:decile", 0, ids) * 10).astype(np.int8),
        outspoken=uniform_array(seed, "init:outspoken", 0, ids) < pop.outspoken_share,
        privacy_minded=uniform_array(seed, "init:privacy", 0, ids) < pop.privacy_share,
        cashless=uniform_array(seed, "init:cashless", 0, ids) < cashless_share[region],
        frailty=_frailties(pop.heterogeneity, seed, streams, n),
        score=np.full(n, scenario.score.base_score, dtype=np.float64),
        wrongful=np.zeros(n, dtype=np.float64),
        blacklisted=np.zeros(n, dtype=np.bool_),
        court_listed=np.zeros(n, dtype=np.bool_),
        listed_wrongly=np.zeros(n, dtype=np.bool_),
        listed_day=np.full(n, -1, dtype=np.int32),
        days_above_exit=np.zeros(n, dtype=np.int32),
        deterrence=np.ones((n_behaviours, n), dtype=np.float64),
        chill=np.ones(n, dtype=np.float64),
        off_grid=np.zeros(n, dtype=np.bool_),
        advised=np.zeros(n, dtype=np.bool_),
        emigrated=np.zeros(n, dtype=np.bool_),
        ever_sanctioned=np.zeros(n, dtype=np.bool_),
        ever_wrongly_sanctioned=np.zeros(n, dtype=np.bool_),
    )
