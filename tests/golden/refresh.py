"""Rewrite the golden metrics after an *intended* change of the model's numbers.

    .venv/bin/python tests/golden/refresh.py

Commit the new file together with the change that explains it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trustsim.engine import Simulation
from trustsim.scenario import load_scenario

GOLDEN = Path(__file__).with_name("china_scs_3000x60_seed7.parquet")
SETTINGS = {"agents": 3000, "days": 60, "seed": 7}


def golden_metrics() -> pd.DataFrame:
    """The metrics the golden file holds, computed by the current code."""
    return Simulation(load_scenario("china_scs", **SETTINGS)).run()


if __name__ == "__main__":
    golden_metrics().to_parquet(GOLDEN, index=False)
    print(f"wrote {GOLDEN}")
