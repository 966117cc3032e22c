"""Simulated data only: the study's answers against the world's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from tiesignal.config import WorldConfig
from tiesignal.simulate.requests import tie_strength_effect

BUMP = 0.02  # log-odds a curve must rise above both ends to count as an inverted U


def group_truth_importance(
    y: np.ndarray, p_true: np.ndarray, knockouts: dict[str, np.ndarray]
) -> pd.DataFrame:
    """How much the oracle's test ROC-AUC drops when the world loses each group's effects
    (the simulator's probabilities with that group's logit terms removed)."""
    full = roc_auc_score(y, p_true)
    rows = [
        {
            "group": g,
            "oracle_auc_without": roc_auc_score(y, p),
            "truth_auc_drop": full - roc_auc_score(y, p),
        }
        for g, p in knockouts.items()
    ]
    return pd.DataFrame(rows).round(6)


def rank_agreement(study: pd.Series, truth: pd.Series) -> float:
    """Spearman correlation of two importances indexed by group."""
    both = pd.concat([study, truth], axis=1, join="inner")
    return float(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def tie_strength_truth(
    cfg: WorldConfig,
    grid: np.ndarray,
    mutuals: np.ndarray,
    p_accept: np.ndarray,
    p_opportunity_given_accept: np.ndarray,
    digital: np.ndarray,
) -> np.ndarray:
    """The truth's partial dependence of log-odds P(opportunity) on mutual connections over
    these requests: acceptance rises with log1p(mutuals) and the opportunity logit has the
    inverted U, so the model, which sees only the product, should learn this curve."""
    a = cfg.acceptance.mutual_log1p
    acc_rest = _logit(p_accept) - a * np.log1p(mutuals)
    opp_rest = _logit(p_opportunity_given_accept) - tie_strength_effect(cfg, mutuals, digital)
    curve = []
    for m in grid:
        p = _sigmoid(acc_rest + a * np.log1p(m)) * _sigmoid(
            opp_rest + tie_strength_effect(cfg, np.full(len(mutuals), m), digital)
        )
        curve.append(_logit(p).mean())
    return np.array(curve)


def peak(grid: np.ndarray, curve: np.ndarray) -> dict:
    """Where a curve peaks, how far it rises above its start, and whether it is an inverted
    U (an interior maximum at least BUMP above both ends)."""
    i = int(np.argmax(curve))
    rise, fall = curve[i] - curve[0], curve[i] - curve[-1]
    return {
        "peak_at": float(grid[i]),
        "rise_from_zero": float(rise),
        "inverted_u": bool(0 < i < len(grid) - 1 and rise > BUMP and fall > BUMP),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
