"""Golden baseline: a small china_scs run must reproduce its committed metrics exactly.

A failure means the model's numbers changed. If that was intended, run
``tests/golden/refresh.py`` and commit the new file with the change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from refresh import GOLDEN, golden_metrics


def test_metrics_match_the_golden_baseline() -> None:
    expected = pd.read_parquet(GOLDEN)
    actual = golden_metrics()
    assert list(actual.columns) == list(expected.columns)
    integers = [c for c in expected.columns if expected[c].dtype.kind == "i"]
    pd.testing.assert_frame_equal(actual[integers], expected[integers], check_exact=True)
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-9)
    assert expected["blacklisted"].iloc[-1] > 0 and expected["misattributed_jaywalk"].sum() > 0
