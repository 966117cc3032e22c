"""Stage `evaluate`: score the test split, compare with the oracle, plot, log to MLflow.

Every split is scored (the drift check compares them) a part at a time, wherever the
executor runs the parts: the same scores either way."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from _stage import Paths, main

from tiesignal import tracking
from tiesignal.compute import executor
from tiesignal.config import (
    ComputeConfig,
    DataConfig,
    EvaluateConfig,
    TargetConfig,
    TrackingConfig,
)
from tiesignal.evaluation.evaluate import (
    evaluate_model,
    scored_rows,
    write_plots,
)
from tiesignal.io import (
    file_sha256,
    read_json,
    read_parquet,
    write_json,
    write_parquet,
    write_text,
)
from tiesignal.models.train import load_model
from tiesignal.schema import SPLITS

log = logging.getLogger("tiesignal.evaluate")
# the simulator's true probability of each target (data/raw/truth.parquet)
TRUE_PROBABILITY = {
    "opportunity": "p_opportunity",
    "opportunity_given_accept": "p_opportunity_given_accept",
    "accepted": "p_accept",
}


@dataclass(frozen=True)
class Params:
    data: DataConfig  # only data.source, as dvc.yaml declares: is there a truth to compare?
    target: TargetConfig
    evaluate: EvaluateConfig
    tracking: TrackingConfig
    compute: ComputeConfig  # kind, workers and chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> str:
    """Returns the metrics in one line."""
    tracking.connect(cfg.tracking, paths.root)  # fails in seconds if it cannot log
    model = load_model(paths.model)
    levels = read_json(paths.feature_spec)["category_levels"]
    with executor(cfg.compute) as runner:  # each part of each split scored where it runs
        parts = {s: runner.parts(paths.features / f"{s}.parquet", scored_rows, (model, levels))
                 for s in SPLITS}  # fmt: skip
        scored = {s: pd.concat(p, ignore_index=True) for s, p in parts.items()}
    test = scored["test"]
    p_true = p_intent_unknown = None
    if cfg.data.source == "simulated":  # how far from the Bayes-optimal model?
        columns = [TRUE_PROBABILITY[cfg.target.name]]
        if cfg.target.name == "opportunity":  # how much of that is the latent intent?
            columns.append("p_opportunity_intent_unknown")
        truth = _truth_of_test(paths, test, columns)
        p_true = truth[columns[0]].to_numpy()
        if len(columns) > 1:
            p_intent_unknown = truth[columns[1]].to_numpy()
    cv = paths.cross_validation
    out_of_fold = read_parquet(cv) if cv.exists() else None
    ev = evaluate_model(model, scored, cfg.evaluate, p_true, out_of_fold, cfg.target.name,
                        p_intent_unknown)  # fmt: skip
    write_parquet(ev.predictions, paths.predictions)
    write_text(ev.report(), paths.evaluate_report)
    write_json({k: round(v, 6) for k, v in ev.scores.items()}, paths.evaluate_scores)
    write_json({k: round(v, 6) for k, v in ev.compared().items()}, paths.evaluate_metrics)
    write_plots(ev, paths.evaluate_plots)
    run_id = tracking.log_evaluation(
        cfg.tracking, paths.root, file_sha256(paths.model / model.file_name), model.kind,
        ev.scores, [paths.evaluate_plots, paths.evaluate_scores],
        {"test": paths.features / "test.parquet"},
    )  # fmt: skip
    return f"{ev.line()} (MLflow run {run_id})"


def _truth_of_test(paths: Paths, test: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The truth's `columns` for the test requests, in their order (one read)."""
    truth = read_parquet(paths.truth, columns=["request_id", *columns])
    rows = test[["request_id"]].merge(truth, on="request_id", how="left")[columns]
    if rows.isna().any().any():
        raise ValueError(f"{paths.truth} does not cover the test split")
    return rows


if __name__ == "__main__":
    main(run)
