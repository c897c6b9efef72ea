"""Headline figures of a run, computed from its daily metrics alone."""

from __future__ import annotations

import numpy as np
import pandas as pd


def headline(metrics: pd.DataFrame) -> dict[str, float]:
    """The figures a reader asks for first, from a run's metrics table.

    Final-day states (score, listed, isolated, ...) and whole-run totals (denials,
    misattributions, chilling = 1 − Σ dissent committed / Σ unchilled expectation).
    """
    last = metrics.iloc[-1]
    alive = float(last["alive"])
    denials = sum(metrics[c].sum() for c in metrics.columns if c.startswith("denials_"))
    misattributed = sum(metrics[c].sum() for c in metrics.columns if c.startswith("misattributed_"))
    caught = sum(metrics[c].sum() for c in metrics.columns if c.startswith("caught_"))
    unchilled = metrics["dissent_unchilled"].sum()
    return {
        "days": float(len(metrics)),
        "alive": alive,
        "score_mean": float(last["score_mean"]),
        "blacklisted": float(last["blacklisted"]),
        "blacklisted_share": float(last["blacklisted"]) / alive if alive else np.nan,
        "blacklist_entries": float(metrics["blacklist_entries_score"].sum() + metrics["blacklist_entries_court"].sum()),
        "ever_sanctioned": float(last["ever_sanctioned"]),
        "ever_wrongly_sanctioned": float(last["ever_wrongly_sanctioned"]),
        "denials": float(denials),
        "misattributed": float(misattributed),
        "misattributions_caught": float(caught),
        "chilling_effect": float(1.0 - metrics["dissent_committed"].sum() / unchilled) if unchilled > 0 else np.nan,
        "import_share": float(metrics["import_share"].mean()),
        "isolated": float(last["isolated"]),
        "mean_degree_blacklisted": float(last["mean_degree_blacklisted"]),
        "mean_degree_others": float(last["mean_degree_others"]),
        "off_grid": float(last["off_grid"]),
        "advised": float(last["advised"]),
        "emigrated": float(last["emigrated"]),
        "review_backlog_mean": float(metrics["review_backlog"].mean()),
        "stored_bytes": float(last["stored_bytes"]),
    }
