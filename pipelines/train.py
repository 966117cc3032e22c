"""Stage `train`: fit the configured model on train, stop early on valid, log one MLflow run."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal import tracking
from tiesignal.config import FeaturesConfig, ModelConfig, TrackingConfig
from tiesignal.features.registry import select
from tiesignal.io import file_sha256, read_json, read_parquet
from tiesignal.models.data import model_matrix
from tiesignal.models.train import save_model, train

log = logging.getLogger("tiesignal.train")


@dataclass(frozen=True)
class Params:
    features: FeaturesConfig
    model: ModelConfig
    tracking: TrackingConfig


@dataclass(frozen=True)
class Summary:
    run_id: str
    best_iteration: int
    train_rows: int


def run(cfg: Params, paths: Paths) -> Summary:
    tracking.connect(cfg.tracking, paths.root)  # fails in seconds if it cannot log
    levels = read_json(paths.feature_spec)["category_levels"]
    chosen = select(cfg.features.groups)
    files = [paths.features / f"{split}.parquet" for split in ("train", "valid")]
    (X_train, y_train), (X_valid, y_valid) = (
        model_matrix(read_parquet(f), chosen, levels) for f in files
    )
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    log.info("training %s on %d rows x %d features (groups: %s)", cfg.model.kind, len(X_train),
             X_train.shape[1], ", ".join(cfg.features.groups))  # fmt: skip
    model = train(cfg.model, X_train, y_train, X_valid, y_valid, categorical, progress=log.info)
    model_file = save_model(model, paths.model)
    run_id = tracking.log_training(
        cfg.tracking, paths.root, model, file_sha256(model_file),
        data=dict(zip(("train", "valid"), files, strict=True)),
        params=tracking.config_params(features=cfg.features, model=cfg.model),
        run_name=f"{model.kind}-{cfg.features.name}", tags={"feature_set": cfg.features.name},
        matrices={"train": X_train, "valid": X_valid},
        counts={"n_features": X_train.shape[1], "n_train": len(X_train), "n_valid": len(X_valid)},
    )  # fmt: skip
    return Summary(run_id, model.best_iteration, len(X_train))


if __name__ == "__main__":
    main(run)
