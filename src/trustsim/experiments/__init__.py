"""Experiments on top of the core: policy comparison, sweeps, sensitivity, on one machine or a Dask cluster."""

from trustsim.experiments.api import calibrate, compare, query, sensitivity, sweep

__all__ = ["calibrate", "compare", "query", "sensitivity", "sweep"]
