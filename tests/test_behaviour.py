"""Phase A's rule: the ceiling that lets the CPU driver compute ``p`` only for a few words is never below ``p``."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from conftest import scenario
from trustsim.mechanisms.behaviour import (
    BehaviourParams,
    chill_of,
    commits,
    could_commit,
    probability,
    unchilled_probability,
)
from trustsim.population import FRAILTY_TOP_CODE, GAP_ZERO, frailty_of


@nb.njit
def _ceiling_misses(params: BehaviourParams, inputs: np.ndarray, bands: int) -> int:
    # For each row (frailty code, gap code, chill code, advised, outspoken, band seed) and each
    # behaviour: the words just below, at and above p·2**32 that commit but are ruled out.
    misses = 0
    for row in range(inputs.shape[0]):
        code, gap, chill, advised, outspoken, band = inputs[row]
        frailty = frailty_of(code)
        for b in range(params.base_rate.shape[0]):
            unchilled = unchilled_probability(params, b, frailty, band % bands, np.uint16(gap), advised == 1,
                                              outspoken == 1)  # fmt: skip
            p = probability(params, b, unchilled, chill_of(np.uint16(chill)))
            edge = np.int64(min(p * 2.0**32, 2.0**32 - 1))
            for word in (edge - 1, edge, edge + 1):
                w = np.uint32(min(max(word, 0), 2**32 - 1))
                if commits(w, p) and not could_commit(params, b, frailty, w):
                    misses += 1
    return misses


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("china_scs", ()),
        ("china_scs", ("adaptation.adviser_effect=1.7", "behaviours.dissent.outspoken_multiplier=40")),
        ("china_family", ()),  # age factors up to 2
        ("uk_credit", ()),
    ],
)
def test_a_word_that_commits_is_always_below_the_ceiling(name: str, overrides: tuple[str, ...]) -> None:
    params = BehaviourParams.from_scenario(scenario(name, *overrides))
    rng = np.random.default_rng(5)
    n = 200_000
    inputs = np.stack(
        [
            rng.integers(0, FRAILTY_TOP_CODE + 1, n),  # frailties from 2**-48 to 2**15: p ≥ 1 happens
            rng.choice([1, 2, 4096, 30_000, GAP_ZERO - 1, GAP_ZERO], n),
            rng.choice([1, 2, 4096, 30_000, GAP_ZERO - 1, GAP_ZERO], n),
            rng.integers(0, 2, n),
            rng.integers(0, 2, n),
            rng.integers(0, 1000, n),
        ],
        axis=1,
    ).astype(np.int64)
    assert _ceiling_misses(params, inputs, params.age_multiplier.shape[1]) == 0


def test_the_ceiling_rules_out_most_words() -> None:
    # The point of the ceiling: at china_scs's rates it rules out all but a few percent of the words.
    params = BehaviourParams.from_scenario(scenario("china_scs"))
    words = np.random.default_rng(2).integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    kept = [could_commit(params, 0, 1.0, w) for w in words]  # jaywalk, base rate 0.02, frailty 1
    assert 0.015 < np.mean(kept) < 0.025
