"""The day's helpers: the ids of flagged agents and the lowest set bit of a word."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from trustsim.day import flagged, lowest_bit


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 100_003])
@pytest.mark.parametrize("share", [0.0, 0.001, 0.3, 1.0])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_])
def test_flagged_are_the_nonzero_entries_of_the_mask_in_id_order(n: int, share: float, dtype: type) -> None:
    rng = np.random.default_rng(n)
    values = ((rng.random(n) < share) * rng.integers(1, 4, n)).astype(dtype)
    bits = 1 if dtype is np.bool_ else 2
    expected = np.flatnonzero(values.astype(np.int64) & bits)
    got = flagged(values.view(np.uint8) if dtype is np.bool_ else values, bits)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.int64


def test_flagged_reads_a_strided_array_too() -> None:
    values = np.zeros(40, dtype=np.uint8)
    values[[3, 10, 11, 38]] = 1
    np.testing.assert_array_equal(flagged(values[::2], 1), [5, 19])


@nb.njit
def _lowest_bits(words: np.ndarray) -> np.ndarray:
    out = np.empty(words.shape[0], dtype=np.int64)
    for k in range(words.shape[0]):
        out[k] = lowest_bit(words[k])
    return out


def test_lowest_bit_of_every_position_and_of_mixed_words() -> None:
    single = np.array([1 << b for b in range(64)], dtype=np.uint64)
    np.testing.assert_array_equal(_lowest_bits(single), np.arange(64))
    words = np.random.default_rng(3).integers(1, 2**63, 1000, dtype=np.int64).astype(np.uint64) << np.uint64(5)
    expected = [(int(w) & -int(w)).bit_length() - 1 for w in words]
    np.testing.assert_array_equal(_lowest_bits(words), expected)
