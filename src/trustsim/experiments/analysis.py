"""What experiments report: headline metrics per run, paired differences, sensitivity indices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from trustsim.summary import headline

HEADLINE = (
    "ever_wrongly_sanctioned", "blacklisted", "denials", "chilling_effect", "import_share",
    "mean_degree_blacklisted", "mean_degree_others", "off_grid", "emigrated", "stored_bytes",
)  # fmt: skip
"""The metrics ``trustsim compare`` reports, besides the denials of each sanction."""


def run_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """One run's headline figures (:func:`trustsim.summary.headline`) and its denials by sanction."""
    figures = headline(metrics)
    for column in metrics.columns:
        if column.startswith("denials_"):
            figures[column] = float(metrics[column].sum())
    return figures


def compared_metrics(columns: list[str]) -> list[str]:
    """The metrics a comparison reports, in order, among the catalog's columns."""
    return [m for m in HEADLINE if m in columns] + sorted(c for c in columns if c.startswith("denials_"))


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, metrics: list[str], paired: bool = True) -> pd.DataFrame:
    """Mean of A and B, and B − A with a 95% confidence interval, per metric.

    With ``paired`` (common random numbers: row ``r`` of both ran on the same seed) the
    interval is Student's on the differences ``b_r − a_r``; otherwise Welch's two-sample
    interval. ``a`` and ``b`` hold one row per replicate, ordered by replicate.
    """
    rows = []
    for metric in metrics:
        x, y = a[metric].to_numpy(float), b[metric].to_numpy(float)
        keep = np.isfinite(x) & np.isfinite(y) if paired else slice(None)
        x, y = x[keep], y[keep]
        if paired:
            diff = y - x
            n = diff.size
            centre = diff.mean() if n else np.nan
            half = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        else:
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            centre = y.mean() - x.mean() if x.size and y.size else np.nan
            vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
            df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1)) if vx + vy > 0 else 1.0
            half = stats.t.ppf(0.975, df) * np.sqrt(vx + vy)
        rows.append(
            {"metric": metric, "mean_a": _mean(a[metric]), "mean_b": _mean(b[metric]),
             "difference": centre, "ci_low": centre - half, "ci_high": centre + half, "n": int(x.size)}
        )  # fmt: skip
    return pd.DataFrame(rows)


def _mean(values: pd.Series) -> float:
    finite = values.to_numpy(float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else np.nan


def sensitivity_indices(
    problem: dict[str, Any], samples: np.ndarray, outputs: np.ndarray, method: str, seed: int = 1
) -> pd.DataFrame:
    """Sobol (first and total order) or Morris (μ*, σ) indices with 95% confidence intervals, one row a parameter."""
    from SALib.analyze import morris, sobol

    if method == "sobol":
        result = sobol.analyze(problem, outputs, calc_second_order=False, seed=seed)
        columns = {"S1": "S1", "S1_conf": "S1_conf", "ST": "ST", "ST_conf": "ST_conf"}
    else:
        result = morris.analyze(problem, samples, outputs, seed=seed)
        columns = {"mu_star": "mu_star", "mu_star_conf": "mu_star_conf", "sigma": "sigma"}
    frame = pd.DataFrame({"parameter": problem["names"]})
    for name, key in columns.items():
        frame[name] = np.asarray(result[key], dtype=float)
    return frame


def sample(problem: dict[str, Any], method: str, samples: int, seed: int = 1) -> np.ndarray:
    """The parameter sets to run: Saltelli/Sobol' (N·(D+2) rows) or Morris trajectories (N·(D+1))."""
    from SALib.sample import morris, sobol

    if method == "sobol":
        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    return morris.sample(problem, samples, num_levels=4, seed=seed)
