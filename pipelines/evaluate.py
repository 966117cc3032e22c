"""Stage `evaluate`: score the test split, compare with the oracle, plot, log to MLflow."""

from __future__ import annotations

import pandas as pd
from _stage import ROOT, Timer, logger, params, run, section, simulated

from tiesignal.config import EvaluateConfig, TrackingConfig
from tiesignal.evaluation import metrics as m
from tiesignal.evaluation import plots
from tiesignal.io import file_sha256, read_json, read_parquet, write_csv, write_json, write_parquet
from tiesignal.models import tracking
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import TrainedModel

FEATURES = ROOT / "data" / "features"
MODEL = ROOT / "models" / "train"
TRUTH = ROOT / "data" / "raw" / "truth.parquet"
PLOTS = ROOT / "plots" / "evaluate"
METRICS = ROOT / "metrics" / "evaluate.json"
PREDICTIONS = ROOT / "data" / "predictions" / "test.parquet"


def main() -> None:
    log = logger("evaluate")
    all_params = params()
    cfg = section(EvaluateConfig, "evaluate", all_params)
    timer = Timer()
    model = TrainedModel.load(MODEL)
    spec = read_json(FEATURES / "feature_spec.json")
    test = read_parquet(FEATURES / "test.parquet")
    X, y = model_matrix(test, features_named(model.features), spec["category_levels"])
    p = model.predict(X)
    write_parquet(
        pd.DataFrame(
            {"request_id": test["request_id"], "p_opportunity": p, "label": y.astype(bool)}
        ),
        PREDICTIONS,
    )
    scores = m.classification_metrics(y, p, cfg.calibration_bins, cfg.top_fractions)

    oracle = None
    if simulated(all_params):  # how far from the Bayes-optimal model?
        truth = read_parquet(TRUTH, columns=["request_id", "p_opportunity"])
        p_true = test[["request_id"]].merge(truth, on="request_id", how="left")["p_opportunity"]
        if p_true.notna().all():
            oracle = m.oracle_metrics(y, p, p_true.to_numpy())
            scores.update(oracle)
        else:
            log.warning("truth file does not cover the test split: no oracle comparison")
    write_json({k: round(v, 6) for k, v in scores.items()}, METRICS)

    curves = m.curve_tables(y, p)
    calibration = m.calibration_table(y, p, cfg.calibration_bins).round(6)
    importance = model.importance().sort_values("importance", ascending=False)
    for name, table in {**curves, "calibration": calibration, "importance": importance}.items():
        write_csv(table, PLOTS / f"{name}.csv")
    plots.roc_plot(
        curves["roc"], scores["roc_auc"], oracle and oracle["oracle_roc_auc"], PLOTS / "roc.png"
    )
    plots.pr_plot(curves["pr"], scores["pr_auc"], scores["base_rate"], PLOTS / "pr.png")
    plots.calibration_plot(calibration, PLOTS / "calibration.png")
    plots.importance_plot(importance, PLOTS / "importance.png")

    _log_to_training_run(all_params, model, scores, log)
    summary = ", ".join(f"{k} {scores[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece"))
    if oracle:
        summary += (
            f"; oracle AUC {oracle['oracle_roc_auc']:.4f}, gap {oracle['auc_gap_to_oracle']:.4f}"
        )
    log.info("%s (%s)", summary, timer)


def _log_to_training_run(all_params: dict, model: TrainedModel, scores: dict, log) -> None:
    """Add test metrics and plots to the run that trained this exact model file."""
    import mlflow

    tracking_cfg = section(TrackingConfig, "tracking", all_params)
    model_file = MODEL / ("model.txt" if model.kind == "lightgbm" else "model.joblib")
    trained = tracking.training_run(tracking_cfg, ROOT, file_sha256(model_file))
    if trained:
        active = mlflow.start_run(run_id=trained.info.run_id)
    else:
        log.warning("no MLflow run holds this model (store reset?): logging to a new run")
        active = tracking.start(tracking_cfg, ROOT, run_name=f"{model.kind}-evaluate-only")
    with active:
        mlflow.log_metrics({f"test_{k}": v for k, v in scores.items()})
        mlflow.log_artifacts(str(PLOTS), artifact_path="evaluate")
        mlflow.log_artifact(str(METRICS), artifact_path="evaluate")
        log.info("logged to MLflow run %s", active.info.run_id)


if __name__ == "__main__":
    run("evaluate", main)
