"""Stage `train`: fit the configured model on train, stop early on valid, log one MLflow run;
under cross-validation over participants, also score every fold with its rotation's model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal import tracking
from tiesignal.compute import executor
from tiesignal.config import (
    ComputeConfig,
    FeaturesConfig,
    ModelConfig,
    TargetConfig,
    TrackingConfig,
)
from tiesignal.features.registry import select
from tiesignal.io import (
    file_sha256,
    parquet_chunks,
    parquet_columns,
    parquet_rows,
    read_json,
    read_parquet,
    write_parquet,
)
from tiesignal.models.cross_validation import out_of_fold_scores
from tiesignal.models.data import model_matrix_in_chunks
from tiesignal.models.train import save_model, train
from tiesignal.schema import SPLITS

log = logging.getLogger("tiesignal.train")


@dataclass(frozen=True)
class Params:
    target: TargetConfig
    features: FeaturesConfig
    model: ModelConfig
    tracking: TrackingConfig
    compute: ComputeConfig


@dataclass(frozen=True)
class Summary:
    run_id: str
    best_iteration: int
    train_rows: int


def run(cfg: Params, paths: Paths) -> Summary:
    tracking.connect(cfg.tracking, paths.root)  # fails in seconds if it cannot log
    levels = read_json(paths.feature_spec)["category_levels"]
    chosen = select(cfg.features.groups)
    files = {s: paths.features / f"{s}.parquet" for s in SPLITS}
    (X_train, y_train), (X_valid, y_valid) = (
        model_matrix_in_chunks(parquet_chunks(files[s], cfg.compute.chunk_rows),
                               parquet_rows(files[s]), chosen, levels)
        for s in ("train", "valid")
    )  # fmt: skip
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    log.info("training %s on %d rows x %d features (groups: %s)", cfg.model.kind, len(X_train),
             X_train.shape[1], ", ".join(cfg.features.groups))  # fmt: skip
    with executor(cfg.compute) as runner:  # LightGBM boosts over a Dask cluster itself
        model = train(cfg.model, X_train, y_train, X_valid, y_valid, categorical, log.info,
                      runner.client)  # fmt: skip
    if model.best_iteration == 1:
        log.warning("the model stopped at its first round: no tree beat the base rate on the "
                    "valid split (too few labelled requests or positives?)")  # fmt: skip
    model_file = save_model(model, paths.model)
    paths.cross_validation.unlink(missing_ok=True)
    if "fold" in parquet_columns(files["train"]):  # the only time train reads the test split
        log.info("cross-validating over participants")
        tables = {s: read_parquet(files[s]) for s in SPLITS}  # a small study: whole tables
        oof = out_of_fold_scores(cfg.model, tables, chosen, levels, progress=log.info)
        write_parquet(oof, paths.cross_validation)
    run_id = tracking.log_training(
        cfg.tracking, paths.root, model, file_sha256(model_file),
        data={s: files[s] for s in ("train", "valid")},
        params=tracking.config_params(target=cfg.target, features=cfg.features, model=cfg.model),
        run_name=f"{model.kind}-{cfg.features.name}",
        tags={"feature_set": cfg.features.name, "target": cfg.target.name},
        matrices={"train": X_train, "valid": X_valid},
        counts={"n_features": X_train.shape[1], "n_train": len(X_train), "n_valid": len(X_valid)},
    )  # fmt: skip
    log.info("MLflow run: %s", tracking.run_page(cfg.tracking, paths.root, run_id))
    return Summary(run_id, model.best_iteration, len(X_train))


if __name__ == "__main__":
    main(run)
