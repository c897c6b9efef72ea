"""The counter-based generator of docs/model.md §9."""

from __future__ import annotations

import numpy as np
import pytest

from trustsim.rng import LANES, gamma_unit_mean, lane_uniform_array, philox_block, stream_id, uniform_array

# Known-answer vectors of Philox4x32-10 from Random123 (kat_vectors).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_matches_random123(counter, key, expected) -> None:
    assert philox_block(counter, key) == expected


def test_uniform_is_in_unit_interval_with_right_moments() -> None:
    u = uniform_array(7, "test", 3, np.arange(1_000_000))
    assert u.min() >= 0.0 and u.max() < 1.0
    # mean of 1e6 uniforms: sd 0.000289; 5 sd tolerance
    assert abs(u.mean() - 0.5) < 5 * 0.000289
    assert abs(u.var() - 1 / 12) < 0.001


def test_draws_are_pure_functions_of_their_counter() -> None:
    ks = np.arange(1000)
    a = uniform_array(1, "beh:jaywalk", 5, ks)
    assert np.array_equal(a, uniform_array(1, "beh:jaywalk", 5, ks))
    assert np.array_equal(a[::-1], uniform_array(1, "beh:jaywalk", 5, ks[::-1]))
    for other in (uniform_array(2, "beh:jaywalk", 5, ks), uniform_array(1, "beh:dissent", 5, ks),
                  uniform_array(1, "beh:jaywalk", 6, ks), uniform_array(1, "beh:jaywalk", 5, ks, slot=1)):  # fmt: skip
        assert not np.array_equal(a, other)
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.15


def test_lanes_are_the_four_words_of_one_block_over_two_to_the_32() -> None:
    ks = np.array([0, 1, 7, 2**32 + 5])
    for lane in range(LANES):
        u = lane_uniform_array(9, "beh", 4, ks, 1, lane)
        for k, value in zip(ks, u, strict=True):
            words = philox_block((int(k) % 2**32, int(k) // 2**32, 4, 1), (9, stream_id("beh")))
            assert value == words[lane] / 2**32
    with pytest.raises(ValueError, match="lane 4"):
        lane_uniform_array(9, "beh", 4, ks, 1, LANES)


def test_lanes_are_uniform_and_independent_of_each_other() -> None:
    ks = np.arange(1_000_000)
    lanes = [lane_uniform_array(7, "beh", 3, ks, 0, lane) for lane in range(LANES)]
    for u in lanes:
        assert u.min() >= 0.0 and u.max() < 1.0
        assert abs(u.mean() - 0.5) < 5 * 0.000289
    correlations = np.corrcoef(lanes)[np.triu_indices(LANES, 1)]
    assert np.abs(correlations).max() < 5 / np.sqrt(ks.size)


def test_stream_ids_are_crc32_of_names() -> None:
    assert stream_id("beh:jaywalk") == 0x133ED58B  # zlib.crc32(b"beh:jaywalk"): ids are CRC-32s of names
    assert stream_id("a") != stream_id("b")
    assert 0 <= stream_id("unf") < 2**32


@pytest.mark.parametrize("shape", [0.5, 2.0, 10.0])
def test_gamma_has_mean_one_and_variance_one_over_shape(shape: float) -> None:
    draws = np.array([gamma_unit_mean(shape, 3, stream_id("g"), k) for k in range(100_000)])
    assert draws.min() > 0
    sd_mean = np.sqrt(1 / shape / draws.size)
    assert abs(draws.mean() - 1.0) < 5 * sd_mean
    assert abs(draws.var() - 1 / shape) < 0.05 / shape * 2
