"""The whole study as one function over feature tables, and its files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.config import ModelConfig, StudyConfig, WorldConfig
from tiesignal.features.build import encode
from tiesignal.features.registry import FEATURES, GROUPS
from tiesignal.io import write_csv, write_text
from tiesignal.prepare import LABEL, SPLITS
from tiesignal.study import attribution, plots, truth
from tiesignal.study.report import report_markdown
from tiesignal.study.summary import group_importance, markdown_table, summarize
from tiesignal.study.variants import Fit, fit_all


@dataclass(frozen=True)
class Truth:
    """What the simulator knows: per-request truth rows and the world that made them."""

    rows: pd.DataFrame  # data/raw/truth.parquet, any order
    world: WorldConfig
    summary: dict  # data/raw/truth.json


@dataclass
class StudyResult:
    fits: list[Fit]
    y_test: np.ndarray
    table: pd.DataFrame
    shap_features: pd.DataFrame
    shap_groups: pd.DataFrame
    dependence: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
    headline: dict[str, float]
    truth: dict = field(default_factory=dict)  # empty on real data


def run_study(
    study: StudyConfig,
    model_cfg: ModelConfig,
    tables: dict[str, pd.DataFrame],
    levels: dict[str, list[str]],
    truth_data: Truth | None,
    progress: Callable[[str], None],
) -> StudyResult:
    X = {s: encode(tables[s], list(FEATURES), levels) for s in SPLITS}
    y = {s: tables[s][LABEL].to_numpy(dtype=bool).astype(np.int8) for s in SPLITS}
    fits = fit_all(study, model_cfg, X, y, progress)
    progress("bootstrap intervals and attribution")
    table = summarize(fits, y["test"], study)
    full_models = [f.model.model for f in fits if f.variant.kind == "full"]
    rng = np.random.default_rng(study.bootstrap_seed)
    n_test = len(X["test"])
    shown = np.sort(rng.choice(n_test, min(study.attribution_rows, n_test), replace=False))
    explained = X["test"].iloc[shown]
    shap_features, shap_groups = _mean_over_models(
        [attribution.shap_importance(m, explained) for m in full_models]
    )
    dependence = {}
    for feature in study.pdp_features:
        if X["test"][feature].isna().all():  # a source that lacks it (member exports)
            progress(f"partial dependence of {feature}: no values in these data, skipped")
            continue
        grid = attribution.feature_grid(X["test"][feature], study.grid_points)
        curves = [
            attribution.partial_dependence(m, explained, feature, grid, study.ice_rows)
            for m in full_models
        ]
        dependence[feature] = (
            _mean_frames([c[0] for c in curves]),
            _mean_frames([c[1] for c in curves]),
        )
    importance = group_importance(table)
    headline = {
        "full_test_roc_auc": float(table.loc[table["variant"] == "full", "test_roc_auc"].iloc[0]),
        "top_group_loo_drop": float(importance.max()) if len(importance) else 0.0,
    }
    result = StudyResult(fits, y["test"], table, shap_features, shap_groups, dependence, headline)
    if truth_data is not None:
        result.truth = _truth_recovery(
            truth_data, tables["test"], shown, explained, full_models, importance, shap_groups
        )
        headline.update({k: float(v) for k, v in result.truth["headline"].items() if v is not None})
    return result


def _truth_recovery(truth_data, test, shown, explained, models, importance, shap_groups) -> dict:
    """(a) group ranking against the truth's, (b) the tie-strength curve, (c) personalization's
    predictive importance beside its causal effect."""
    rows = test[["request_id", LABEL]].merge(truth_data.rows, on="request_id", how="left")
    if rows["p_opportunity"].isna().any():
        raise ValueError("the truth file does not cover the test split")
    y = rows[LABEL].to_numpy(dtype=bool)
    knockouts = {g: rows[f"p_opportunity_without_{g}"].to_numpy() for g in GROUPS}
    groups = truth.group_truth_importance(y, rows["p_opportunity"].to_numpy(), knockouts)
    groups = groups.merge(importance.rename("study_loo_drop").reset_index(), on="group")
    groups = groups.merge(
        shap_groups[["group", "share"]].rename(columns={"share": "shap_share"}), on="group"
    )
    by_group = groups.set_index("group")
    spearman_loo = truth.rank_agreement(by_group["study_loo_drop"], by_group["truth_auc_drop"])
    spearman_shap = truth.rank_agreement(by_group["shap_share"], by_group["truth_auc_drop"])
    # personalization predicts through the intent it reveals (part c), which no knock-out of
    # its own terms removes: the ranking of the other groups, for comparison
    others = by_group.drop(index="personalization")
    spearman_others = truth.rank_agreement(others["study_loo_drop"], others["truth_auc_drop"])

    # (b) tie strength: learned against true partial dependence, by industry type
    shown = rows.iloc[shown]
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
        true = truth.tie_strength_truth(
            truth_data.world, grid, mutuals[mask][ok], shown["p_accept"].to_numpy()[mask][ok],
            shown["p_opportunity_given_accept"].to_numpy()[mask][ok], digital[mask][ok],
        )  # fmt: skip
        curves[f"learned_{name}"], curves[f"true_{name}"] = learned, true
        peaks[name] = {"learned": truth.peak(grid, learned), "true": truth.peak(grid, true)}
    true_bump_peak = truth_data.world.opportunity.tie_strength.peak_mutuals

    # (c) personalization: what predicts against what causes
    effect = truth_data.summary["personalization_effect"]
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
    p = by_group.loc["personalization"]
    learned_peak, true_peak = peaks["all"]["learned"]["peak_at"], peaks["all"]["true"]["peak_at"]
    return {
        "groups": groups.sort_values("truth_auc_drop", ascending=False).reset_index(drop=True),
        "tie_strength": pd.DataFrame(curves).round(6),
        "peaks": peaks,
        "true_bump_peak": true_bump_peak,
        "personalization": {
            "study_loo_drop": float(p["study_loo_drop"]),
            "shap_share": float(p["shap_share"]),
            "truth_auc_drop": float(p["truth_auc_drop"]),
            "ate_probability": effect["ate_probability"],
            "mean_p_if_none": effect["mean_p_if_none"],
            "observed_difference": association,
            "base_rate": float(label.mean()),
        },
        "headline": {
            "spearman_loo_vs_truth": spearman_loo,
            "spearman_shap_vs_truth": spearman_shap,
            "spearman_loo_vs_truth_without_personalization": spearman_others,
            "tie_peak_learned": learned_peak,
            "tie_peak_true": true_peak,
            "tie_peak_ratio": learned_peak / true_peak if true_peak else None,
            "tie_inverted_u_found": float(peaks["all"]["learned"]["inverted_u"]),
            "tie_rise_digital_learned": peaks["digital"]["learned"]["rise_from_zero"],
            "tie_rise_non_digital_learned": peaks["non_digital"]["learned"]["rise_from_zero"],
        },
    }


def write_outputs(result: StudyResult, study: StudyConfig, context: dict, folder: Path) -> None:
    """CSV, PNG and the Markdown report into `folder`; the same inputs give the same bytes."""
    write_csv(result.table, folder / "summary.csv")
    write_text(markdown_table(result.table, study.confidence), folder / "summary.md")
    plots.deltas_plot(result.table, folder / "deltas.png")
    write_csv(result.shap_features, folder / "shap_features.csv")
    write_csv(result.shap_groups, folder / "shap_groups.csv")
    plots.group_shap_plot(result.shap_groups, folder / "shap_groups.png")
    for feature, (curve, ice) in result.dependence.items():
        write_csv(curve, folder / f"pdp_{feature}.csv")
        write_csv(ice, folder / f"ice_{feature}.csv")
        plots.dependence_plot(curve, ice, feature, folder / f"pdp_{feature}.png")
    if result.truth:
        write_csv(result.truth["groups"], folder / "truth_groups.csv")
        write_csv(result.truth["tie_strength"], folder / "tie_strength.csv")
        plots.tie_strength_plot(result.truth["tie_strength"], folder / "tie_strength.png")
    write_text(report_markdown(result, study, context), folder / "report.md")


def _mean_over_models(pairs):
    features = pd.concat([p[0] for p in pairs]).groupby(["feature", "group"], as_index=False).mean()
    groups = pd.concat([p[1] for p in pairs]).groupby("group", as_index=False).mean()
    order = ["mean_abs_shap", "group"]
    return (
        features.sort_values(order, ascending=[False, True]).round(6).reset_index(drop=True),
        groups.sort_values(order, ascending=[False, True]).round(6).reset_index(drop=True),
    )


def _mean_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    out = frames[0].copy()
    value = out.columns[-1]
    out[value] = np.mean([f[value].to_numpy() for f in frames], axis=0).round(6)
    return out
