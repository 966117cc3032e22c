"""Simulated data only: the study's answers against the world's truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from tiesignal.config import WorldConfig
from tiesignal.features.registry import GROUPS
from tiesignal.schema import LABEL
from tiesignal.simulate.requests import sigmoid, tie_strength_effect
from tiesignal.study import attribution

BUMP = 0.02  # log-odds a curve must rise above both ends to count as an inverted U


@dataclass(frozen=True)
class Truth:
    """What the simulator knows: per-request truth rows and the world that made them."""

    rows: pd.DataFrame  # data/raw/truth.parquet, any order
    world: WorldConfig
    summary: dict  # data/raw/truth.json


@dataclass(frozen=True)
class TruthRecovery:
    """The study's answers beside the truth: (a) which groups matter, (b) the tie-strength
    curve, (c) personalization's predictive importance beside its causal effect."""

    groups: pd.DataFrame  # per group: the truth's AUC drop, the study's, the SHAP share
    tie_strength: pd.DataFrame  # learned and true curves over a grid of mutual connections
    peaks: dict[str, dict]  # by industry type: `peak` of the learned and the true curve
    true_bump_peak: float  # where the world's opportunity bump peaks
    personalization: dict[str, float | None]
    headline: dict[str, float | None]


def recover_truth(
    truth: Truth,
    test: pd.DataFrame,
    shown: np.ndarray,
    explained: pd.DataFrame,
    models: list,
    importance: pd.Series,
    shap_groups: pd.DataFrame,
) -> TruthRecovery:
    """`shown` indexes the test rows in `explained` (the rows attribution used); `models`
    are the full model's boosters over the seeds."""
    rows = test[["request_id", LABEL]].merge(truth.rows, on="request_id", how="left")
    if rows["p_opportunity"].isna().any():
        raise ValueError("the truth file does not cover the test split")
    groups = _group_ranking(rows, importance, shap_groups)
    curves, peaks = _tie_strength(truth.world, rows.iloc[shown], explained, models)
    p = groups.set_index("group").loc["personalization"]
    personalization = {
        "study_loo_drop": float(p["study_loo_drop"]),
        "shap_share": float(p["shap_share"]),
        "truth_auc_drop": float(p["truth_auc_drop"]),
        **_personalization(test, truth.summary["personalization_effect"]),
    }
    learned_peak, true_peak = peaks["all"]["learned"]["peak_at"], peaks["all"]["true"]["peak_at"]
    by_group = groups.set_index("group")
    # personalization predicts through the intent it reveals (part c), which no knock-out of
    # its own terms removes: the ranking of the other groups, for comparison
    others = by_group.drop(index="personalization")
    headline = {
        "spearman_loo_vs_truth": rank_agreement(
            by_group["study_loo_drop"], by_group["truth_auc_drop"]
        ),
        "spearman_shap_vs_truth": rank_agreement(
            by_group["shap_share"], by_group["truth_auc_drop"]
        ),
        "spearman_loo_vs_truth_without_personalization": rank_agreement(
            others["study_loo_drop"], others["truth_auc_drop"]
        ),
        "tie_peak_learned": learned_peak,
        "tie_peak_true": true_peak,
        "tie_peak_ratio": learned_peak / true_peak if true_peak else None,
        "tie_inverted_u_found": float(peaks["all"]["learned"]["inverted_u"]),
        "tie_rise_digital_learned": peaks["digital"]["learned"]["rise_from_zero"],
        "tie_rise_non_digital_learned": peaks["non_digital"]["learned"]["rise_from_zero"],
    }
    return TruthRecovery(
        groups=groups.sort_values("truth_auc_drop", ascending=False).reset_index(drop=True),
        tie_strength=curves,
        peaks=peaks,
        true_bump_peak=truth.world.opportunity.tie_strength.peak_mutuals,
        personalization=personalization,
        headline=headline,
    )


def _group_ranking(rows: pd.DataFrame, importance: pd.Series, shap_groups: pd.DataFrame):
    """(a) Per group: the truth's AUC drop beside the study's and the SHAP share."""
    y = rows[LABEL].to_numpy(dtype=bool)
    knockouts = {g: rows[f"p_opportunity_without_{g}"].to_numpy() for g in GROUPS}
    groups = group_truth_importance(y, rows["p_opportunity"].to_numpy(), knockouts)
    groups = groups.merge(importance.rename("study_loo_drop").reset_index(), on="group")
    return groups.merge(
        shap_groups[["group", "share"]].rename(columns={"share": "shap_share"}), on="group"
    )


def _tie_strength(
    world: WorldConfig, shown: pd.DataFrame, explained: pd.DataFrame, models: list
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """(b) Learned against true partial dependence on mutual connections, by industry type."""
    mutuals = explained["mutual_connections"].to_numpy()
    upper = float(np.nanquantile(mutuals, 0.99))
    grid = (
        np.unique(np.round(np.geomspace(1, max(upper, 2), 45)))
        if upper > 60
        else np.arange(0, upper + 1)
    )
    grid = np.unique(np.r_[0.0, grid])
    digital = shown["digital_intensity"].to_numpy()
    curves = {"mutual_connections": grid}
    peaks = {}
    for name, mask in (
        ("digital", digital >= 0.5),
        ("non_digital", digital < 0.5),
        ("all", digital >= 0),
    ):
        learned = np.mean(
            [
                attribution.partial_dependence(m, explained[mask], "mutual_connections", grid, 0)[0]
                for m in models
            ],
            axis=0,
        )[:, 1]  # the mean_log_odds column, averaged over seeds
        ok = ~np.isnan(mutuals[mask])
        true = tie_strength_truth(
            world, grid, mutuals[mask][ok], shown["p_accept"].to_numpy()[mask][ok],
            shown["p_opportunity_given_accept"].to_numpy()[mask][ok], digital[mask][ok],
        )  # fmt: skip
        curves[f"learned_{name}"], curves[f"true_{name}"] = learned, true
        peaks[name] = {"learned": peak(grid, learned), "true": peak(grid, true)}
    return pd.DataFrame(curves).round(6), peaks


def _personalization(test: pd.DataFrame, effect: dict) -> dict[str, float | None]:
    """(c) The observed gap between personal notes and no note, and the true causal effect."""
    personal = (
        (test["note_mentions_name"] > 0)
        | (test["note_mentions_company"] > 0)
        | (test["note_skill_mentions"] > 0)
    )
    no_note = test["has_note"] == 0
    label = test[LABEL].astype(bool)
    association = (
        float(label[personal].mean() - label[no_note].mean())
        if no_note.any() and personal.any()
        else None
    )
    return {
        "ate_probability": effect["ate_probability"],
        "mean_p_if_none": effect["mean_p_if_none"],
        "observed_difference": association,
        "base_rate": float(label.mean()),
    }


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
        p = sigmoid(acc_rest + a * np.log1p(m)) * sigmoid(
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
