"""What experiments report: headline metrics per run, paired differences, sensitivity indices."""

from __future__ import annotations

import warnings
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


SENSITIVITY_METRICS = ("ever_wrongly_sanctioned", "blacklisted", "chilling_effect", "isolated")
"""The metrics ``trustsim sensitivity`` analyses unless told others."""

HEADLINE_NAMES = (
    "days", "alive", "score_mean", "blacklisted", "blacklisted_share", "blacklist_entries", "ever_sanctioned",
    "ever_wrongly_sanctioned", "denials", "misattributed", "misattributions_caught", "chilling_effect",
    "import_share", "isolated", "mean_degree_blacklisted", "mean_degree_others", "off_grid", "advised",
    "emigrated", "review_backlog_mean", "stored_bytes",
)  # fmt: skip
"""Every figure of :func:`trustsim.summary.headline` (a test keeps the two the same)."""


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
    means and the interval are over the replicates where both values are defined, the
    interval Student's on the differences ``b_r − a_r``; otherwise each side's defined
    values and Welch's two-sample interval. ``a`` and ``b`` hold one row per replicate,
    ordered by replicate. Too few values give NaN.
    """
    rows = []
    for metric in metrics:
        x, y = a[metric].to_numpy(float), b[metric].to_numpy(float)
        if not np.isfinite(x).any() or not np.isfinite(y).any():  # e.g. a sanction only one scenario has
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            centre, half = np.nan, np.nan
        elif paired:
            keep = np.isfinite(x) & np.isfinite(y)
            x, y = x[keep], y[keep]
            centre, half = _student(y - x)
        else:
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            centre, half = _welch(x, y)
        rows.append(
            {"metric": metric, "mean_a": x.mean() if x.size else np.nan, "mean_b": y.mean() if y.size else np.nan,
             "difference": centre, "ci_low": centre - half, "ci_high": centre + half, "n_a": x.size, "n_b": y.size}
        )  # fmt: skip
    return pd.DataFrame(rows)


def _student(diff: np.ndarray) -> tuple[float, float]:
    if diff.size < 2:
        return (float(diff.mean()) if diff.size else np.nan), np.nan
    return float(diff.mean()), float(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size))


def _welch(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if x.size < 2 or y.size < 2:
        return (float(y.mean() - x.mean()) if x.size and y.size else np.nan), np.nan
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if vx + vy == 0:
        return float(y.mean() - x.mean()), 0.0
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return float(y.mean() - x.mean()), float(stats.t.ppf(0.975, df) * np.sqrt(vx + vy))


def sensitivity_indices(
    problem: dict[str, Any], samples: np.ndarray, outputs: np.ndarray, method: str, seed: int = 1
) -> pd.DataFrame:
    """Sobol (first and total order) or Morris (μ*, σ) indices with 95% confidence intervals, one row a parameter.

    A metric undefined (NaN) in some runs gets NaN indices and the count in ``undefined_runs``:
    its indices would mean nothing.
    """
    from SALib.analyze import morris, sobol

    undefined = int(np.count_nonzero(~np.isfinite(outputs)))
    if undefined:
        names = ["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol" else ["mu_star", "mu_star_conf", "sigma"]
        frame = pd.DataFrame({"parameter": problem["names"]} | {name: np.nan for name in names})
        frame["undefined_runs"] = undefined
        return frame

    with warnings.catch_warnings():  # a metric that never varies: SALib divides by its zero spread
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "sobol":
            result = sobol.analyze(problem, outputs, calc_second_order=False, seed=seed)
        else:
            result = morris.analyze(problem, samples, outputs, seed=seed)
    if method == "sobol":
        columns = {"S1": "S1", "S1_conf": "S1_conf", "ST": "ST", "ST_conf": "ST_conf"}
    else:
        columns = {"mu_star": "mu_star", "mu_star_conf": "mu_star_conf", "sigma": "sigma"}
    frame = pd.DataFrame({"parameter": problem["names"]})
    for name, key in columns.items():
        frame[name] = np.asarray(result[key], dtype=float)
    frame["undefined_runs"] = 0
    return frame


def sample(problem: dict[str, Any], method: str, samples: int, seed: int = 1) -> np.ndarray:
    """The parameter sets to run: Saltelli/Sobol' (N·(D+2) rows) or Morris trajectories (N·(D+1))."""
    from SALib.sample import morris, sobol

    if method == "sobol":
        with warnings.catch_warnings():  # SALib warns when N is not a power of 2; the docs say so instead
            warnings.simplefilter("ignore", UserWarning)
            return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    return morris.sample(problem, samples, num_levels=4, seed=seed)
