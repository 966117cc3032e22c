"""What the full model uses: mean |SHAP| per feature and group from LightGBM's own
contributions, and partial dependence with ICE curves, on the log-odds scale."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from tiesignal.features.registry import BY_NAME


def shap_importance(booster: lgb.Booster, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean |contribution| to the log-odds per feature and per group, with their shares."""
    contributions = booster.predict(X.to_numpy(dtype=float), pred_contrib=True)[:, :-1]
    per_feature = pd.DataFrame(
        {
            "feature": list(X.columns),
            "group": [BY_NAME[c].group for c in X.columns],
            "mean_abs_shap": np.abs(contributions).mean(axis=0),
        }
    )
    per_feature["share"] = per_feature["mean_abs_shap"] / (
        per_feature["mean_abs_shap"].sum() or 1.0
    )
    # a group's contribution is the sum of its features' contributions, row by row
    by_group = pd.DataFrame(contributions, columns=per_feature["group"]).T.groupby(level=0).sum().T
    per_group = pd.DataFrame(
        {"group": by_group.columns, "mean_abs_shap": np.abs(by_group.to_numpy()).mean(axis=0)}
    )
    per_group["share"] = per_group["mean_abs_shap"] / (per_group["mean_abs_shap"].sum() or 1.0)
    order = ["mean_abs_shap", "group"]
    return (
        per_feature.sort_values(order, ascending=[False, True]).round(6).reset_index(drop=True),
        per_group.sort_values(order, ascending=[False, True]).round(6).reset_index(drop=True),
    )


def feature_grid(values: pd.Series, points: int) -> np.ndarray:
    """Values to set a feature to: quantiles of its observed values up to the 99th
    percentile, whole numbers for count features."""
    observed = values.dropna().to_numpy(dtype=float)
    grid = np.quantile(observed, np.linspace(0.0, 0.99, points))
    if np.allclose(observed, np.round(observed)):
        grid = np.round(grid)
    return np.unique(grid)


def ice_matrix(
    booster: lgb.Booster, X: pd.DataFrame, feature: str, grid: np.ndarray, raw_score: bool
) -> np.ndarray:
    """(grid values x rows): each row's prediction with `feature` set to each value, as
    log-odds (`raw_score`) or probabilities."""
    base = X.to_numpy(dtype=float)
    column = list(X.columns).index(feature)
    curves = np.empty((len(grid), len(base)))
    for i, value in enumerate(grid):
        changed = base.copy()
        changed[:, column] = value
        curves[i] = booster.predict(changed, raw_score=raw_score)
    return curves


def partial_dependence(
    booster: lgb.Booster, X: pd.DataFrame, feature: str, grid: np.ndarray, ice_rows: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean predicted log-odds with `feature` set to each grid value for every row (the
    partial dependence), and the same per row for the first `ice_rows` rows (ICE)."""
    curves = ice_matrix(booster, X, feature, grid, raw_score=True)
    pd_curve = pd.DataFrame({"value": grid, "mean_log_odds": curves.mean(axis=1)})
    shown = min(ice_rows, len(X))
    ice = pd.DataFrame(
        {
            "row": np.tile(np.arange(shown), len(grid)),
            "value": np.repeat(grid, shown),
            "log_odds": curves[:, :shown].ravel(),
        }
    )
    return pd_curve.round(6), ice.round(6)
