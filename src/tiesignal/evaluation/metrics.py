"""Test-split metrics, and on simulated data the gap to the Bayes-optimal (oracle) model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def classification_metrics(
    y: np.ndarray, p: np.ndarray, calibration_bins: int, top_fractions: list[float]
) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        raise ValueError("the test split has one class only: metrics are undefined")
    metrics = {
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)),
        "brier": brier_score_loss(y, p),
        "ece": expected_calibration_error(y, p, calibration_bins),
        "base_rate": float(np.mean(y)),
        "n_test": int(len(y)),
    }
    for fraction in top_fractions:
        metrics[f"precision_at_{fraction * 100:g}pct"] = precision_at(y, p, fraction)
    return {k: float(v) for k, v in metrics.items()}


def oracle_metrics(
    y: np.ndarray, p_model: np.ndarray, p_true: np.ndarray, p_intent_unknown=None
) -> dict[str, float]:
    """The true probabilities scored on the same labels: what no model can beat on average;
    and, where given, the same without the sender's intent: how much of the gap is a latent
    that no field records."""
    oracle = roc_auc_score(y, p_true)
    model = roc_auc_score(y, p_model)
    scores = {
        "oracle_roc_auc": float(oracle),
        "oracle_pr_auc": float(average_precision_score(y, p_true)),
        "auc_gap_to_oracle": float(oracle - model),
    }
    if p_intent_unknown is not None:
        scores["oracle_intent_unknown_roc_auc"] = float(roc_auc_score(y, p_intent_unknown))
    return scores


def precision_at(y: np.ndarray, p: np.ndarray, fraction: float) -> float:
    """Share of positives among the top `fraction` of requests by score (ties by order)."""
    k = max(1, int(round(fraction * len(p))))
    top = np.argsort(-p, kind="stable")[:k]
    return float(np.mean(y[top]))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    table = calibration_table(y, p, bins)
    return float(np.sum(table["count"] / len(p) * np.abs(table["observed"] - table["predicted"])))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int) -> pd.DataFrame:
    """Equal-count bins of predicted probability: mean predicted vs observed rate (fewer
    bins than asked when there are fewer requests: no empty bin)."""
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, bins) if len(g)]
    return pd.DataFrame(
        {
            "bin": np.arange(len(groups)),
            "predicted": [float(np.mean(p[g])) for g in groups],
            "observed": [float(np.mean(y[g])) for g in groups],
            "count": [len(g) for g in groups],
        }
    )


def curve_tables(y: np.ndarray, p: np.ndarray, points: int = 200) -> dict[str, pd.DataFrame]:
    """ROC and PR curves thinned to about `points` rows, for DVC plots."""
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    return {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr}), points),
        "pr": _thin(pd.DataFrame({"recall": recall, "precision": precision}), points),
    }


def _thin(df: pd.DataFrame, points: int) -> pd.DataFrame:
    if len(df) <= points:
        return df.round(6)
    keep = np.unique(np.linspace(0, len(df) - 1, points).round().astype(int))
    return df.iloc[keep].reset_index(drop=True).round(6)
