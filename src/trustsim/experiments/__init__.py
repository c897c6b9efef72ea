"""Experiments on top of the core: policy comparison, sweeps, sensitivity, on one machine or a Dask cluster."""

from trustsim.experiments.api import compare, query, sensitivity, sweep

__all__ = ["compare", "query", "sensitivity", "sweep"]
