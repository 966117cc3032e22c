"""The whole study as one function over feature tables, and its files."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.compute import Executor
from tiesignal.config import EvaluateConfig, ModelConfig, StudyConfig
from tiesignal.evaluation.drift import Drift, drift
from tiesignal.features.build import encode
from tiesignal.features.registry import FEATURES
from tiesignal.io import write_csv, write_text
from tiesignal.schema import LABEL, SPLITS
from tiesignal.study import TRUTH_FILES, attribution, plots
from tiesignal.study.cache import FitCache, data_digest
from tiesignal.study.causal import Effect, estimate_effects
from tiesignal.study.report import report_html, report_markdown
from tiesignal.study.summary import group_importance, markdown_table, summarize
from tiesignal.study.truth import Truth, TruthRecovery, recover_truth
from tiesignal.study.variants import Fit, absent_groups, fit_all


@dataclass
class StudyResult:
    fits: list[Fit]
    y_test: np.ndarray
    table: pd.DataFrame
    shap_features: pd.DataFrame
    shap_groups: pd.DataFrame
    dependence: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
    headline: dict[str, float]
    truth: TruthRecovery | None = None  # None on real data
    causal: list[Effect] = field(default_factory=list)  # what causes (study/causal.py)
    causal_notes: list[str] = field(default_factory=list)  # what it skipped, and why
    drift: Drift | None = None  # the test period against training's (time splits only)
    absent_groups: list[str] = field(default_factory=list)  # no value in these data: not fitted


def run_study(
    study: StudyConfig,
    model_cfg: ModelConfig,
    tables: dict[str, pd.DataFrame],
    levels: dict[str, list[str]],
    truth_data: Truth | None,
    progress: Callable[[str], None],
    cache: Path | None = None,
    runner: Executor | None = None,
    periods: EvaluateConfig | None = None,
) -> StudyResult:
    """`cache`: a folder of fits kept between runs (study/cache.py), or None; `runner`:
    where the fits run (`fit_all`); `periods`: the drift check's settings where the splits
    are consecutive periods (a drifted test period shifts the study's comparisons)."""
    X = {s: encode(tables[s], list(FEATURES), levels) for s in SPLITS}
    y = {s: tables[s][LABEL].to_numpy(dtype=bool).astype(np.int8) for s in SPLITS}
    absent = absent_groups(X["train"])
    if absent and set(study.kinds) & {"without", "only"}:
        progress(f"not in these data (no feature has a value): {', '.join(absent)}; "
                 "no variant leaves them out or keeps them alone")  # fmt: skip
    fits = fit_all(study, model_cfg, X, y, progress, FitCache(cache, data_digest(X, y)), runner,
                   absent)  # fmt: skip
    progress("bootstrap intervals and attribution")
    table = summarize(fits, y["test"], study)
    full_models = [f.model.booster for f in fits if f.variant.kind == "full"]
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
    result = StudyResult(fits, y["test"], table, shap_features, shap_groups, dependence, headline,
                         absent_groups=absent)  # fmt: skip
    if periods is not None:  # the drift check of `evaluate`, on the study's own full model
        result.drift = drift(
            {s: tables[s]["sent_at"] for s in SPLITS}, y,
            {s: np.mean([f.model.predict(X[s]) for f in fits if f.variant.kind == "full"],
                        axis=0) for s in SPLITS},
            periods.calibration_bins, min_relative_change=periods.drift_min_relative_change,
        )  # fmt: skip
    if truth_data is not None:
        result.truth = recover_truth(
            truth_data, tables["test"], shown, explained, fits, importance, shap_groups, study
        )
        headline.update({k: v for k, v in result.truth.headline.items() if np.isfinite(v)})
    return result


def causal_effects(
    result: StudyResult,
    study: StudyConfig,
    tables: dict[str, pd.DataFrame],
    levels: dict[str, list[str]],
    requests: pd.DataFrame,
    arms: dict[str, str],
    truth_data: Truth | None,
    progress: Callable[[str], None],
) -> None:
    """The study's causal section over every labelled request of the three splits;
    `requests`: their `request_id`, `sender_id` and `assignment` (data/prepared)."""
    frame = pd.concat([tables[s] for s in SPLITS], ignore_index=True)
    frame = frame.merge(requests, on="request_id", how="left", validate="one_to_one")
    truth = None
    if truth_data is not None:
        truth = frame[["request_id"]].merge(truth_data.rows, on="request_id", how="left")
    encoded = encode(frame, list(FEATURES), levels)
    result.causal, result.causal_notes = estimate_effects(
        frame, encoded, LABEL, study.causal, arms, study.confidence, truth, progress
    )
    for effect in result.causal:
        result.headline.update(effect.metrics())


def compared(result: StudyResult) -> dict[str, dict[str, float]]:
    """The study's figures that `dvc exp show` lines up (metrics/compare.json): the change
    in test ROC-AUC without each group, and each causal estimate of each treatment; every
    figure is in `result.headline` (reports/compare/figures.json)."""
    out = {"without": {}}
    for row in result.table[result.table["kind"] == "without"].itertuples():
        if np.isfinite(row.delta_roc_auc):
            out["without"][row.group] = round(float(row.delta_roc_auc), 6)
    for effect in result.causal:
        if effect.finding and np.isfinite(effect.value):
            out.setdefault(effect.treatment, {})[effect.method] = round(float(effect.value), 6)
    return out


def test_scores(result: StudyResult, test: pd.DataFrame) -> pd.DataFrame:
    """Every model's score of every test request, for analysis beyond the report."""
    scores = pd.DataFrame({"request_id": test["request_id"], LABEL: result.y_test == 1})
    for fit in result.fits:
        scores[f"{fit.variant.name}_seed{fit.seed}"] = fit.test_scores
    return scores


def report_context(prepare_report: dict, tables: dict[str, pd.DataFrame]) -> dict:
    """What the report tells the reader about the data: source, label window, split sizes."""
    return {
        "source": ", ".join(f"{k} ({v:,} requests)" for k, v in prepare_report["sources"].items()),
        "label_window_days": prepare_report["label_window_days"],
        "target": prepare_report["target"],
        "rows": {s: len(tables[s]) for s in SPLITS},
        "split": (
            "consecutive periods"
            if prepare_report["split_method"] == "time"
            else "the first rotation of a cross-validation over participants: test fold 0, "
            "valid fold 1; the study judges one fold of participants, not all"
        ),
    }


def write_outputs(result: StudyResult, study: StudyConfig, context: dict, folder: Path) -> None:
    """CSV, PNG and the report (Markdown, and HTML with the plots inlined) into `folder`;
    the same inputs give the same bytes."""
    write_csv(result.table, folder / "summary.csv")
    write_text(markdown_table(result.table, study.confidence), folder / "summary.md")
    plots.deltas_plot(result.table, folder / "deltas.png")
    write_csv(result.shap_features, folder / "shap_features.csv")
    write_csv(result.shap_groups, folder / "shap_groups.csv")
    plots.group_shap_plot(result.shap_groups, folder / "shap_groups.png")
    # every feature's curve in one table, a panel each in `dvc plots` (.dvc/plots/by_feature.json)
    curves = [curve.assign(feature=f) for f, (curve, _) in result.dependence.items()]
    columns = ["feature", "value", "mean_log_odds"]
    write_csv(pd.concat(curves)[columns] if curves else pd.DataFrame(columns=columns),
              folder / "partial_dependence.csv")  # fmt: skip
    for feature, (curve, ice) in result.dependence.items():
        write_csv(ice, folder / f"ice_{feature}.csv")
        plots.dependence_plot(curve, ice, feature, folder / f"pdp_{feature}.png")
    benchmarks = [dataclasses.asdict(b) | {"treatment": e.treatment}
                  for e in result.causal for b in e.benchmarks]  # fmt: skip
    if benchmarks:
        write_csv(pd.DataFrame(benchmarks).round(6), folder / "causal_benchmarks.csv")
    for effect in result.causal:
        if effect.benchmarks:
            plots.sensitivity_plot(effect, folder / f"sensitivity_{effect.treatment}.png")
    if result.truth is not None:
        groups, curves, curves_plot = (folder / name for name in TRUTH_FILES)
        write_csv(result.truth.groups, groups)
        write_csv(result.truth.tie_strength.curves, curves)
        plots.tie_strength_plot(result.truth.tie_strength.curves, curves_plot)
    report = report_markdown(result, study, context)
    write_text(report, folder / "report.md")
    write_text(report_html(report, folder), folder / "report.html")


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
