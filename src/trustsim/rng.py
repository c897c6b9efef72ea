"""The counter-based random generator ``U(seed, stream, t, k)`` of docs/model.md §9.

Every random number in trustsim is a pure function of ``(seed, stream, t, k, slot)``:

* the generator is **Philox4x32-10** (Salmon et al., SC'11, the Random123 family);
* the **key** is ``(seed, stream id)``: ``seed`` is an unsigned 32-bit integer and
  the stream id is ``zlib.crc32`` of the stream's name (``"obs:jaywalk"``,
  ``"unf"``, ...), so a stream's draws depend on its *name*, never on where a
  sanction sits in a scenario file (the behaviour draws, which share stream ``beh``
  in lanes, do depend on the behaviour's position: below);
* the **counter** is ``(k mod 2**32, k div 2**32, t, slot)``: ``k`` is an agent id or
  an edge index, ``t`` the day (or, for build-time streams, a round number) and
  ``slot`` separates several draws of one stream for the same ``(t, k)``
  (rejection sampling); ordinary daily draws use slot 0, the behaviour draws slot
  ``b div 4``;
* the **uniform** is made from the first two output words exactly as numpy does
  for doubles: ``((w0 >> 5) * 2**26 + (w1 >> 6)) / 2**53``, a multiple of 2**-53
  in [0, 1);
* draws made for every agent every day use **all four words** of a block instead
  (:func:`block_words`, :func:`lane_uniform`): lane ``j`` is the uniform ``w_j / 2**32``,
  a multiple of 2**-32, so one block serves four of them (docs/model.md §9).

Because no state is carried between draws, results do not depend on the order in
which agents are visited, on the number of threads, or on the backend, and two
scenarios that differ only in policy see the same draws (common random numbers).
The functions here are plain numba functions so that CPU kernels inline them.
"""

from __future__ import annotations

import math
import zlib

import numba as nb
import numpy as np

_M0 = np.uint32(0xD2511F53)
_M1 = np.uint32(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_SHIFT32 = np.uint64(32)
_TWO_POW_26 = 67108864.0
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0
_TWO_POW_MINUS_32 = 1.0 / 4294967296.0
LANES = 4
"""Uniforms one Philox block gives in lanes (:func:`block_words`)."""


def stream_id(name: str) -> int:
    """Return the 32-bit stream id of a stream name (its CRC-32)."""
    return zlib.crc32(name.encode("utf-8")) & 0xFFFFFFFF


@nb.njit(inline="always", cache=True)
def philox4x32(
    c0: np.uint32, c1: np.uint32, c2: np.uint32, c3: np.uint32, k0: np.uint32, k1: np.uint32
) -> tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """Philox4x32-10 block: four 32-bit counter words and two 32-bit key words.

    Written in uint32 arithmetic (64-bit products only for the multiplications) so that
    LLVM can vectorise loops of independent blocks.
    """
    for _ in range(10):
        p0 = np.uint64(c0) * np.uint64(_M0)
        p1 = np.uint64(c2) * np.uint64(_M1)
        hi0 = np.uint32(p0 >> _SHIFT32)
        lo0 = np.uint32(p0)
        hi1 = np.uint32(p1 >> _SHIFT32)
        lo1 = np.uint32(p1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = np.uint32(k0 + _W0)
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


@nb.njit(inline="always", cache=True)
def uniform(seed: int, stream: int, t: int, k: int, slot: int) -> float:
    """``U(seed, stream, t, k)`` in [0, 1): one Philox block, 53 bits of mantissa."""
    kk = np.uint64(k)
    w0, w1, _, _ = philox4x32(
        np.uint32(kk), np.uint32(kk >> _SHIFT32), np.uint32(t), np.uint32(slot), np.uint32(seed), np.uint32(stream)
    )
    return ((w0 >> np.uint32(5)) * _TWO_POW_26 + (w1 >> np.uint32(6))) * _TWO_POW_MINUS_53


@nb.njit(inline="always", cache=True)
def block_words(seed: int, stream: int, t: int, k: int, slot: int) -> tuple[np.uint32, np.uint32, np.uint32, np.uint32]:
    """The four 32-bit words of the block with counter ``(k, t, slot)`` and key ``(seed, stream)``: the
    lanes 0 … 3 of that block, each made a uniform by :func:`lane_uniform`."""
    kk = np.uint64(k)
    w0, w1, w2, w3 = philox4x32(
        np.uint32(kk), np.uint32(kk >> _SHIFT32), np.uint32(t), np.uint32(slot), np.uint32(seed), np.uint32(stream)
    )
    return np.uint32(w0), np.uint32(w1), np.uint32(w2), np.uint32(w3)


@nb.njit(inline="always", cache=True)
def lane_uniform(word: np.uint32) -> float:
    """The uniform in [0, 1) of one lane of a block: ``word / 2**32``, exact in double precision."""
    return np.float64(word) * _TWO_POW_MINUS_32


@nb.njit(inline="always", cache=True)
def standard_normal(seed: int, stream: int, t: int, k: int, slot: int) -> float:
    """A standard normal draw by Box–Muller from two uniforms of slots ``2·slot`` and ``2·slot+1``."""
    u1 = uniform(seed, stream, t, k, 2 * slot)
    u2 = uniform(seed, stream, t, k, 2 * slot + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def gamma_unit_mean(shape: float, seed: int, stream: int, k: int) -> float:
    """Gamma(shape, scale 1/shape) draw (mean 1) by Marsaglia–Tsang, round ``t = 0``.

    Attempt ``a`` uses the normal of slots ``(4a, 4a+1)`` and the acceptance uniform of
    slot ``4a+2``; for ``shape < 1`` the boost ``Gamma(a) = Gamma(a+1)·U^(1/a)`` takes
    its uniform from round ``t = 1``, slot 0.
    """
    a = shape if shape >= 1.0 else shape + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    attempt = 0
    while True:
        x = standard_normal(seed, stream, 0, k, 2 * attempt)
        v = 1.0 + c * x
        if v > 0.0:
            v = v * v * v
            u = uniform(seed, stream, 0, k, 4 * attempt + 2)
            if math.log(1.0 - u) < 0.5 * x * x + d - d * v + d * math.log(v):
                break
        attempt += 1
    g = d * v
    if shape < 1.0:
        g *= (1.0 - uniform(seed, stream, 1, k, 0)) ** (1.0 / shape)
    return g / shape


@nb.njit(parallel=True, cache=True)
def _uniform_array(seed: int, stream: int, t: int, ks: np.ndarray, slot: int) -> np.ndarray:
    out = np.empty(ks.shape[0], dtype=np.float64)
    for n in nb.prange(ks.shape[0]):
        out[n] = uniform(seed, stream, t, ks[n], slot)
    return out


def uniform_array(seed: int, stream: str, t: int, ks: np.ndarray, slot: int = 0) -> np.ndarray:
    """Vector of ``U(seed, stream, t, k)`` for every ``k`` in ``ks`` (for set-up code and tests)."""
    return _uniform_array(seed, stream_id(stream), t, np.asarray(ks, dtype=np.int64), slot)


@nb.njit(parallel=True, cache=True)
def _lane_uniform_array(seed: int, stream: int, t: int, ks: np.ndarray, slot: int, lane: int) -> np.ndarray:
    out = np.empty(ks.shape[0], dtype=np.float64)
    for n in nb.prange(ks.shape[0]):
        out[n] = lane_uniform(block_words(seed, stream, t, ks[n], slot)[lane])
    return out


def lane_uniform_array(seed: int, stream: str, t: int, ks: np.ndarray, slot: int, lane: int) -> np.ndarray:
    """Vector of lane ``lane`` of the blocks ``(k, t, slot)`` of ``stream`` for every ``k`` in ``ks`` (for tests)."""
    if not 0 <= lane < LANES:
        raise ValueError(f"lane {lane} is not one of 0 … {LANES - 1}")
    return _lane_uniform_array(seed, stream_id(stream), t, np.asarray(ks, dtype=np.int64), slot, lane)


def philox_block(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, ...]:
    """One raw Philox4x32-10 block, for known-answer tests against Random123."""
    words = philox4x32(*(np.uint32(c) for c in counter), *(np.uint32(k) for k in key))
    return tuple(int(w) for w in words)
