"""Agent state as named arrays indexed by agent id, and its initialisation (docs/model.md §1).

:class:`Population` is the one declaration of the agents' state: every array's name,
dtype, shape (per agent, or per behaviour and agent), meaning and the section of
docs/model.md that defines it. :data:`STATE` reads that table back; the agent arrays,
checkpoint validation, the host memory estimate and the GPU memory plan are all derived
from it.

Initialisation draws (all with ``t = 0``, ``k`` = agent id, slot 0 unless said):

* ``init:region_order``: one uniform per agent; agents sorted by it (stable) form the
  random permutation over which exact regional quotas (largest remainder) are dealt;
* ``init:decile``: ``income_decile = floor(10·U)``;
* ``init:outspoken``, ``init:privacy``: Bernoulli draws ``U < share``;
* ``init:cashless``: ``U < cashless_share[region]``;
* ``init:frailty:<behaviour>``: Gamma(h, 1/h) by :func:`trustsim.rng.gamma_unit_mean`;
* with households, regions and income deciles are the household's
  (:mod:`trustsim.households`); with ages, ``init:age_band`` and ``init:age``.

Streams are named after behaviours, not their position, so adding a behaviour to a
scenario leaves every other agent attribute unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, get_type_hints

import numba as nb
import numpy as np

from trustsim.households import Households, draw_ages, household_deciles, household_regions
from trustsim.rng import gamma_unit_mean, stream_id, uniform_array
from trustsim.scalar import greater, lesser, pick
from trustsim.scenario import Scenario


@dataclass(frozen=True)
class Column:
    """How one state array is stored and what it means."""

    dtype: type[np.generic]
    meaning: str
    section: str  # of docs/model.md
    per_behaviour: bool = False  # shape (B, N), one row per behaviour in scenario order; else (N,)
    gap_of: str | None = None  # stored as 1 − this variable of the model; outputs give the variable
    decoded_by: Callable[[np.ndarray], np.ndarray] | None = None  # stored as codes; this gives the values
    with_ages: bool = False  # held only when the scenario has ages (docs/model.md §14); empty otherwise
    bits: tuple[str, ...] = ()  # a byte of flags: bit k is the flag ``bits[k]`` (:func:`flag_values`)

    def shape(self, n_agents: int, n_behaviours: int, aged: bool) -> tuple[int, ...]:
        """The array's shape for ``n_agents`` agents and ``n_behaviours`` behaviours, with ages or not."""
        if self.with_ages and not aged:
            return (0,)
        return (n_behaviours, n_agents) if self.per_behaviour else (n_agents,)

    def bytes_per_agent(self, n_behaviours: int, aged: bool) -> int:
        """Bytes this array takes per agent."""
        if self.with_ages and not aged:
            return 0
        return np.dtype(self.dtype).itemsize * (n_behaviours if self.per_behaviour else 1)


FRAILTY_MIN_EXPONENT = -48
"""The smallest frailty stored is ``2**-48``; the largest just below ``2**15`` (:func:`frailty_code`)."""

_FRAILTY_MANTISSA = 1024  # 10 stored bits of mantissa: a relative step of 2**-10, a rounding of at most 2**-11
FRAILTY_TOP_CODE = 62 * _FRAILTY_MANTISSA + _FRAILTY_MANTISSA - 1
"""The largest frailty code (exponents 0 … 62 above the smallest): a larger one is not a frailty."""


@nb.njit(inline="always", cache=True)
def frailty_of(code: int) -> float:
    """The frailty a 16-bit code stands for: ``2**(e - 48) · (1 + m/1024)`` with ``e = code >> 10``, ``m`` its
    low 10 bits (exact in double and in single precision; only shifts, a product and conversions, so the
    drawing loops that read it still vectorise)."""
    c = np.int64(code)
    return np.float64(np.int64(1) << (c >> 10)) * np.float64(_FRAILTY_MANTISSA + (c & 1023)) * 2.0**-58


@nb.njit(cache=True)
def frailty_code(value: float) -> np.uint16:
    """The code of the frailty nearest ``value`` (round to nearest, ties to even): 10 bits of mantissa and 6 of
    exponent, so within 2**-11 of ``value`` relatively; values beyond the range are clamped to its ends."""
    if not value > 2.0**FRAILTY_MIN_EXPONENT:  # also NaN, which a Gamma draw never is
        return np.uint16(0)
    if not value < 2.0**15:
        return np.uint16(FRAILTY_TOP_CODE)
    mantissa, exponent = math.frexp(value)  # value = mantissa · 2**exponent, 0.5 ≤ mantissa < 1
    e = exponent - 1 - FRAILTY_MIN_EXPONENT
    m = np.int64(np.rint((2.0 * mantissa - 1.0) * _FRAILTY_MANTISSA))
    if m == _FRAILTY_MANTISSA:  # rounded up to the next power of two
        e, m = e + 1, 0
    return np.uint16(min(e * _FRAILTY_MANTISSA + m, FRAILTY_TOP_CODE))


@nb.njit(parallel=True, cache=True)
def _decode_frailties(codes: np.ndarray, out: np.ndarray) -> None:
    for j in nb.prange(codes.shape[0]):
        out[j] = frailty_of(codes[j])


def _decoded(codes: np.ndarray, decode: Callable[[np.ndarray, np.ndarray], None]) -> np.ndarray:
    """The values (float64, same shape as ``codes``) that ``decode`` writes for the flattened codes."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.float64)
    decode(flat, out)
    return out.reshape(codes.shape)


def frailty_values(codes: np.ndarray) -> np.ndarray:
    """The frailties (float64, same shape) that the 16-bit ``codes`` stand for (:func:`frailty_of`)."""
    return _decoded(codes, _decode_frailties)


GAP_STEPS_PER_HALVING = 4096
"""Codes per halving of a gap: a code ``c`` stands for the gap ``2**(-c/4096)`` (:func:`gap_of`)."""

GAP_ZERO = 65535
"""The code of a gap of exactly 0 (a deterrence or chill of 1, where every agent starts)."""

GAP_TOP_CODE = GAP_ZERO - 1
"""The code of the smallest gap above 0, ``2**(-65534/4096)`` (about 1.5·10⁻⁵)."""


def _halving_powers() -> tuple[np.ndarray, np.ndarray]:
    """``2**(-k)`` for the 16 whole halvings and ``2**(-f/4096)`` for the 4096 fractions, built from square roots
    and products only: IEEE 754 rounds both exactly, so the tables are the same on every machine (a ``log`` or
    ``exp`` of a maths library may differ in its last bit)."""
    roots = [0.5]  # roots[i] = 2**(-2**-i), i = 0 … 12
    for _ in range(12):
        roots.append(math.sqrt(roots[-1]))
    fractions = np.empty(GAP_STEPS_PER_HALVING)
    for f in range(GAP_STEPS_PER_HALVING):
        value = 1.0
        for k in range(11, -1, -1):  # 2**(-f/4096) = Π 2**(-2**(k-12)) = Π roots[12-k] over f's set bits k
            if f >> k & 1:
                value *= roots[12 - k]
        fractions[f] = value
    return np.ldexp(1.0, -np.arange(GAP_ZERO // GAP_STEPS_PER_HALVING + 1)), fractions


_HALVINGS, _FRACTIONS = _halving_powers()


@nb.njit(inline="always", cache=True)
def gap_of(code: int) -> float:
    """The gap (``1 − deterrence`` or ``1 − chill``) a 16-bit code stands for: ``2**(-code/4096)``, and 0 for
    :data:`GAP_ZERO`. Two table reads and a product (exact: the first is a power of two), so the drawing loops
    that read it still vectorise."""
    c = np.int32(code)
    return pick(c == GAP_ZERO, 0.0, _HALVINGS[c >> 12] * _FRACTIONS[c & (GAP_STEPS_PER_HALVING - 1)])


@nb.njit(inline="always", cache=True)
def gap_code(gap: float) -> np.uint16:
    """The code of the gap nearest ``gap`` by :func:`gap_of` (ties to the larger code): at least 1, since a gap
    of 1 is a deterrence or chill of 0, which docs/model.md §1 rules out; :data:`GAP_ZERO` below half the
    smallest gap. Within a factor ``2**(1/8192)`` of ``gap`` in between.

    ``-log2(gap)·4096`` guesses it; the tables then decide between the guess and its two
    neighbours, so the code does not depend on the last bit of a maths library's ``log2``.
    """
    if gap <= 0.5 * gap_of(GAP_TOP_CODE):
        return np.uint16(GAP_ZERO)
    guess = lesser(greater(np.int64(math.floor(-math.log2(gap) * GAP_STEPS_PER_HALVING + 0.5)), 1), GAP_TOP_CODE)
    best, distance = guess, abs(gap_of(guess) - gap)
    for c in (guess - 1, guess + 1):
        if 1 <= c <= GAP_TOP_CODE:
            d = abs(gap_of(c) - gap)
            if d < distance or (d == distance and c > best):
                best, distance = c, d
    return np.uint16(best)


@nb.njit(inline="always", cache=True)
def relaxed_code(code: int, steps: int) -> np.uint16:
    """A gap ``code`` after ``steps`` codes of relaxation (each a factor ``2**(-1/4096)``), 0 once past the smallest."""
    return np.uint16(lesser(np.int64(code) + steps, GAP_ZERO))


def relaxation_rate(relax: float) -> float:
    """Codes a day of relaxation ``gap ← gap·(1 − relax)`` takes: ``-log2(1 − relax)·4096`` (infinite for 1)."""
    return math.inf if relax >= 1.0 else -math.log2(1.0 - relax) * GAP_STEPS_PER_HALVING


@nb.njit(inline="always", cache=True)
def relaxation_steps(rate: float, t: int) -> int:
    """Codes of relaxation on day ``t``: ``floor((t+1)·rate) − floor(t·rate)``, so that any run of days relaxes
    by its days times ``rate`` to within one code, with no draw and no drift (at most ``GAP_ZERO``)."""
    if rate >= GAP_ZERO:
        return GAP_ZERO
    return np.int64(math.floor((t + 1) * rate)) - np.int64(math.floor(t * rate))


@nb.njit(parallel=True, cache=True)
def _decode_gaps(codes: np.ndarray, out: np.ndarray) -> None:
    for j in nb.prange(codes.shape[0]):
        out[j] = gap_of(codes[j])


def gap_values(codes: np.ndarray) -> np.ndarray:
    """The gaps (float64, same shape) that the 16-bit ``codes`` stand for (:func:`gap_of`)."""
    return _decoded(codes, _decode_gaps)


TRAITS = ("outspoken", "privacy_minded", "cashless")
"""The flags of :attr:`Population.traits`, bit 0 first (docs/model.md §1)."""
OUTSPOKEN, PRIVACY_MINDED, CASHLESS = (np.uint8(1 << k) for k in range(len(TRAITS)))

RECORD = ("court_listed", "listed_wrongly", "ever_sanctioned", "ever_wrongly_sanctioned")
"""The flags of :attr:`Population.record`, bit 0 first (docs/model.md §6)."""
COURT_LISTED, LISTED_WRONGLY, EVER_SANCTIONED, EVER_WRONGLY_SANCTIONED = (np.uint8(1 << k) for k in range(len(RECORD)))

ADAPTED = ("off_grid", "advised")
"""The flags of :attr:`Population.adapted`, bit 0 first (docs/model.md §7)."""
OFF_GRID, ADVISED = (np.uint8(1 << k) for k in range(len(ADAPTED)))


@nb.njit(inline="always", cache=True)
def is_set(flags: np.uint8, bit: np.uint8) -> bool:
    """Whether the flag ``bit`` is set in an agent's byte of flags."""
    return (flags & bit) != 0


@nb.njit(inline="always", cache=True)
def with_flag(flags: np.uint8, bit: np.uint8, on: bool) -> np.uint8:
    """An agent's byte of flags with the flag ``bit`` set (``on``) or cleared, the others kept."""
    return np.uint8((flags & ~bit) | pick(on, bit, np.uint8(0)))


def flag_values(flags: np.ndarray, bit: np.uint8) -> np.ndarray:
    """The flag ``bit`` of every byte of ``flags`` (bool, same shape)."""
    return (flags & bit) != 0


def packed(*flags: tuple[np.ndarray, np.uint8]) -> np.ndarray:
    """Bytes of flags holding each bool array of ``flags`` at its bit (all the same shape)."""
    out = np.zeros(flags[0][0].shape, dtype=np.uint8)
    for values, bit in flags:
        out |= np.where(values, bit, np.uint8(0)).astype(np.uint8)
    return out


class Population(NamedTuple):
    """Every agent attribute and state variable of docs/model.md §1: an array each, flags a bit each.

    A named tuple of arrays, so that kernels on both backends take it as one record.
    The flags an agent's own rules set and read are packed, a byte per mechanism
    (``traits``, ``record``, ``adapted``: bit ``k`` is the ``k``-th name of
    :data:`TRAITS`, :data:`RECORD`, :data:`ADAPTED`); ``blacklisted`` and ``emigrated``,
    which other agents' rules and whole-array masks read, stay one byte each.
    ``frailty`` is stored as a 16-bit code (:func:`frailty_code`, read back by
    :func:`frailty_of`: within 2**-11 of the Gamma draw), since it is read for every
    behaviour of every agent every day and is the largest array of the state;
    arithmetic on it is in double.
    """

    region: Annotated[Any, Column(np.int16, "region 0 … R-1", "§1")]
    income_decile: Annotated[Any, Column(np.int8, "income decile 0 … 9", "§1")]
    traits: Annotated[Any, Column(np.uint8, "fixed flags: OUTSPOKEN (posts criticism far more often), "
                                  "PRIVACY_MINDED (may opt out of the connected life), CASHLESS (pays by phone, "
                                  "so purchases are visible)", "§1", bits=TRAITS)]  # fmt: skip
    frailty: Annotated[Any, Column(np.uint16, "multiplier of each behaviour's base rate", "§1", True,
                                   decoded_by=frailty_values)]  # fmt: skip
    score: Annotated[Any, Column(np.float32, "the social credit score", "§5")]
    wrongful: Annotated[Any, Column(np.float32, "part of the score's deficit owed to unearned points", "§5")]
    blacklisted: Annotated[Any, Column(np.bool_, "on the public list", "§6")]
    record: Annotated[Any, Column(np.uint8, "the agent's record: COURT_LISTED (listed by a court), LISTED_WRONGLY "
                                  "(listed by score only because of wrongful points), EVER_SANCTIONED (had an "
                                  "active sanction on some day), EVER_WRONGLY_SANCTIONED (had a wrongful one)",
                                  "§6", bits=RECORD)]  # fmt: skip
    listed_day: Annotated[Any, Column(np.int16, "day of (first) listing; -1 when not listed", "§6")]
    days_above_exit: Annotated[Any, Column(np.int16, "consecutive days at or above the exit score", "§6")]
    deterrence_gap: Annotated[Any, Column(np.uint16, "1 − deterrence: how far the multiplier on each negative "
                                          "behaviour's rate is below 1", "§7.1", True, "deterrence",
                                          decoded_by=gap_values)]  # fmt: skip
    chill_gap: Annotated[Any, Column(np.uint16, "1 − chill: how far the multiplier on dissent is below 1", "§7.2",
                                     gap_of="chill", decoded_by=gap_values)]  # fmt: skip
    adapted: Annotated[Any, Column(np.uint8, "how the agent adapted: OFF_GRID (opted out: cash only, no phone, "
                                   "no online life), ADVISED (has hired a score adviser)", "§7",
                                   bits=ADAPTED)]  # fmt: skip
    emigrated: Annotated[Any, Column(np.bool_, "has left; takes no further part", "§7.6")]
    denials_since_row: Annotated[Any, Column(np.uint16, "refusals by every sanction since the last groups row "
                                             "(at most 65,535: the scenario bounds the row interval)", "§15")]
    wrongful_since_row: Annotated[Any, Column(np.float32, "wrongful points (−Δw) since the last groups row", "§15")]
    age: Annotated[Any, Column(np.int16, "age in whole years (an emigrant keeps its age at leaving); empty without "
                               "ages", "§14", with_ages=True)]  # fmt: skip

    @property
    def n_agents(self) -> int:
        """Number of agents N (alive or not)."""
        return int(self.score.shape[0])

    def flag(self, name: str) -> np.ndarray:
        """The flag ``name`` of every agent (bool), read from the byte of flags that holds it."""
        holder, bit = FLAGS[name]
        return flag_values(getattr(self, holder), bit)

    def arrays(self) -> dict[str, Any]:
        """All state arrays by name (for checkpoints and the agent table)."""
        return self._asdict()

    def select(self, ids: np.ndarray) -> Population:
        """The state of the agents ``ids`` only (copies; an array held only with ages stays empty without them)."""
        return Population(*(values[..., ids] if values.shape[-1] else values.copy() for values in self))


STATE: dict[str, Column] = {
    name: hint.__metadata__[0] for name, hint in get_type_hints(Population, include_extras=True).items()
}
"""The state table: every :class:`Population` array's :class:`Column`, in order."""

FLAGS: dict[str, tuple[str, np.uint8]] = {
    flag: (name, np.uint8(1 << k)) for name, column in STATE.items() for k, flag in enumerate(column.bits)
}
"""Every packed flag by name: the state array that holds it and its bit."""


def state_bytes_per_agent(n_behaviours: int, aged: bool) -> int:
    """Bytes of agent state per agent (every array of :data:`STATE`), with ages or not."""
    return sum(column.bytes_per_agent(n_behaviours, aged) for column in STATE.values())


def state_problems(
    arrays: dict[str, np.ndarray], n_agents: int, n_behaviours: int, n_regions: int, aged: bool
) -> list[str]:
    """Why ``arrays`` cannot be the agent state of ``n_agents`` agents (empty if they can): a missing array, a
    wrong dtype or shape, or a region or frailty code that the kernels would read as an index or a rate it is not."""
    if set(arrays) != set(STATE):
        return [f"agent arrays {sorted(arrays)} are not {sorted(STATE)}"]
    problems = []
    for name, column in STATE.items():
        values, shape = arrays[name], column.shape(n_agents, n_behaviours, aged)
        if values.dtype != column.dtype or values.shape != shape:
            problems.append(
                f"agent array {name} is {values.dtype}{list(values.shape)}, not {np.dtype(column.dtype)}{list(shape)}"
            )
    if problems:
        return problems
    region, frailty = arrays["region"], arrays["frailty"]
    if region.size and (region.min() < 0 or region.max() >= n_regions):
        problems.append(f"agent array region holds a region outside 0 … {n_regions - 1}")
    if frailty.size and frailty.max() > FRAILTY_TOP_CODE:
        problems.append(f"agent array frailty holds a code above {FRAILTY_TOP_CODE}")
    for name, column in STATE.items():
        undeclared = np.uint8(0xFF & ~((1 << len(column.bits)) - 1))
        if column.bits and np.any(arrays[name] & undeclared):
            problems.append(f"agent array {name} sets a bit beyond its {len(column.bits)} flags")
    for name in ("deterrence_gap", "chill_gap"):
        if arrays[name].size and arrays[name].min() == 0:
            problems.append(f"agent array {name} holds the code 0, a gap of 1 (a {STATE[name].gap_of} of 0)")
    return problems


def region_quotas(n_agents: int, shares: list[float]) -> np.ndarray:
    """Exact agent counts per region by the largest-remainder method (ties: lower index)."""
    ideal = np.asarray(shares, dtype=np.float64) * n_agents
    quotas = np.floor(ideal).astype(np.int64)
    short = n_agents - int(quotas.sum())
    order = sorted(range(len(shares)), key=lambda r: (-(ideal[r] - quotas[r]), r))
    for r in order[:short]:
        quotas[r] += 1
    return quotas


def _deal_regions(quotas: np.ndarray, seed: int) -> np.ndarray:
    n_agents = int(quotas.sum())
    order = np.argsort(uniform_array(seed, "init:region_order", 0, np.arange(n_agents)), kind="stable")
    region = np.empty(n_agents, dtype=np.int32)
    region[order] = np.repeat(np.arange(quotas.shape[0], dtype=np.int32), quotas)
    return region


@nb.njit(parallel=True, cache=True)
def _frailty(shape: float, seed: int, streams: np.ndarray, out: np.ndarray) -> None:
    for i in nb.prange(out.shape[1]):
        for b in range(streams.shape[0]):
            out[b, i] = frailty_code(gamma_unit_mean(shape, seed, streams[b], i))


def _frailties(shape: float, seed: int, streams: np.ndarray, n_agents: int) -> np.ndarray:
    # numpy allocates the array that phase A reads every day: numpy asks the kernel for
    # transparent huge pages on large arrays, numba's allocator does not.
    out = np.empty((streams.shape[0], n_agents), dtype=STATE["frailty"].dtype)
    _frailty(shape, seed, streams, out)
    return out


def initialise(scenario: Scenario, households: Households | None = None) -> Population:
    """Draw a population for ``scenario`` from its seed (docs/model.md §1; with households and ages, §14)."""
    n = scenario.run.agents
    seed = scenario.run.seed
    ids = np.arange(n)
    pop = scenario.population
    quotas = region_quotas(n, [r.share for r in scenario.regions])
    decile_type = STATE["income_decile"].dtype
    if households is None:
        region = _deal_regions(quotas, seed)
        income_decile = np.floor(uniform_array(seed, "init:decile", 0, ids) * 10).astype(decile_type)
    else:  # a household shares its region and its income (docs/model.md §14)
        region = household_regions(households, quotas, seed)[households.member_of]
        income_decile = household_deciles(households, seed)[households.member_of].astype(decile_type)
    cashless_share = np.array([r.cashless_share for r in scenario.regions])
    streams = np.array([stream_id(f"init:frailty:{b}") for b in scenario.behaviours], dtype=np.int64)
    n_behaviours = len(scenario.behaviours)

    def filled(name: str, value: float) -> np.ndarray:
        return np.full(STATE[name].shape(n, n_behaviours, scenario.ages is not None), value, dtype=STATE[name].dtype)

    return Population(
        region=region.astype(STATE["region"].dtype),
        income_decile=income_decile,
        traits=packed(
            (uniform_array(seed, "init:outspoken", 0, ids) < pop.outspoken_share, OUTSPOKEN),
            (uniform_array(seed, "init:privacy", 0, ids) < pop.privacy_share, PRIVACY_MINDED),
            (uniform_array(seed, "init:cashless", 0, ids) < cashless_share[region], CASHLESS),
        ),
        frailty=_frailties(pop.heterogeneity, seed, streams, n),
        score=filled("score", scenario.score.base_score),
        wrongful=filled("wrongful", 0),
        blacklisted=filled("blacklisted", False),
        record=filled("record", 0),
        listed_day=filled("listed_day", -1),
        days_above_exit=filled("days_above_exit", 0),
        deterrence_gap=filled("deterrence_gap", GAP_ZERO),
        chill_gap=filled("chill_gap", GAP_ZERO),
        adapted=filled("adapted", 0),
        emigrated=filled("emigrated", False),
        denials_since_row=filled("denials_since_row", 0),
        wrongful_since_row=filled("wrongful_since_row", 0),
        age=draw_ages(scenario, STATE["age"].dtype) if scenario.ages is not None else filled("age", 0),
    )
