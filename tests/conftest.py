"""Shared helpers: small scenarios built from the shipped ones with overrides.

The GPU kernels run under numba's CUDA simulator unless the environment says
otherwise: ``NUMBA_ENABLE_CUDASIM=0 pytest tests/test_gpu.py`` runs them on a real GPU.
The variable must be set before numba is imported, hence here, first.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import subprocess
import sys
from collections.abc import Iterator

import numba
import pandas as pd
import pytest

from trustsim.engine import Simulation
from trustsim.scenario import Scenario, load_scenario

PATIENCE = 600.0
"""Seconds a test waits for an event before calling it a hang; never a measure of speed (a busy machine is slow)."""


def scenario(name: str = "china_scs", *overrides: str, agents: int = 5000, days: int = 30, seed: int = 1) -> Scenario:
    """A shipped scenario at test size with ``--set``-style overrides."""
    return load_scenario(name, overrides=list(overrides), agents=agents, days=days, seed=seed)


def simulate(s: Scenario) -> pd.DataFrame:
    """Run a scenario in memory and return its metrics."""
    return Simulation(s).run()


def only(*kept: str) -> list[str]:
    """Overrides that set every china_scs behaviour's base rate to 0 except ``kept``."""
    names = ["jaywalk", "late_payment", "dissent", "imported_purchase", "gaming_binge", "volunteer"]
    return [f"behaviours.{name}.base_rate=0" for name in names if name not in kept]


NO_ADAPTATION = [
    "adaptation.deterrence_step=0",
    "adaptation.deterrence_relax=0",
    "adaptation.chill_step=0",
    "adaptation.unfriend_rate=0",
    "adaptation.opt_out_rate=0",
    "adaptation.adviser_rate=0",
    "adaptation.emigrate_rate=0",
]


@pytest.fixture
def threads() -> Iterator[None]:
    """Restore numba's thread count after a test that changes it."""
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python -m trustsim ARGS`` in a fresh process, capturing its output."""
    return subprocess.run([sys.executable, "-m", "trustsim", *args], capture_output=True, text=True, timeout=timeout)
