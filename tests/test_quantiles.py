"""The O(N) percentiles equal numpy's, ties and all."""

from __future__ import annotations

import numpy as np
import pytest

from trustsim.quantiles import percentiles


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 200_000])
def test_percentiles_equal_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(1000, 40, n), 1)  # many ties
    values[: n // 3] = 1000.0  # a heavy atom, as on early days
    include = rng.random(n) < 0.9
    include[0] = True
    expected = np.percentile(values[include], [10, 50, 90])
    assert percentiles(values, include, (10, 50, 90)) == list(expected)


def test_constant_and_empty() -> None:
    assert percentiles(np.full(5, 7.0), np.ones(5, bool), (10, 90)) == [7.0, 7.0]
    assert all(np.isnan(percentiles(np.ones(3), np.zeros(3, bool), (50,))))
