"""Stage `export`: the trained model for other tools (ONNX, LightGBM text, MLflow model),
with its feature recipe and model card, registered in MLflow under an alias."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal import tracking
from tiesignal.config import ExportConfig, FeaturesConfig, PrepareConfig, TrackingConfig
from tiesignal.export.bundle import Agreement, describe_export, write_export
from tiesignal.io import file_sha256, read_json, read_parquet, write_json
from tiesignal.models.boosted import LightGBMModel
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import load_model

log = logging.getLogger("tiesignal.export")


@dataclass(frozen=True)
class Params:
    export: ExportConfig
    features: FeaturesConfig  # only features.name, as dvc.yaml declares
    split: PrepareConfig  # only min_sent_at and max_sent_at: what `predict` accepts
    tracking: TrackingConfig


def run(cfg: Params, paths: Paths) -> Agreement:
    tracking.connect(cfg.tracking, paths.root)  # fails in seconds if it cannot log
    model = load_model(paths.model)
    if not isinstance(model, LightGBMModel):
        raise ValueError(
            f"export needs a LightGBM model, and model.kind is {model.kind!r}; "
            "to compare other models stop before export: `dvc exp run evaluate -S model=...`"
        )
    feature_spec = read_json(paths.feature_spec)
    test = read_parquet(paths.features / "test.parquet")
    X_test, _ = model_matrix(test, features_named(model.features), feature_spec["category_levels"])
    spec, card = describe_export(
        model, feature_spec, read_json(paths.prepare_report), read_json(paths.evaluate_scores),
        {"registered_model": cfg.export.registered_model, "alias": cfg.export.alias,
         "feature_set": cfg.features.name,
         "valid_sent_at": [cfg.split.min_sent_at, cfg.split.max_sent_at],
         "serving_limits": cfg.export.serving_limits()},
    )  # fmt: skip
    log.info("exporting %d features, checking agreement on %d test rows", len(spec["features"]),
             len(X_test))  # fmt: skip
    model_file = paths.model / model.file_name
    text = model_file.read_text(encoding="utf-8")
    agreement = write_export(paths.export, text, spec, card, X_test, cfg.export.onnx_tolerance)
    write_json(vars(agreement), paths.export_agreement)
    registered = tracking.register(cfg.tracking, cfg.export, paths.root, file_sha256(model_file))
    log.info("registered %s version %s%s", registered.name, registered.version,
             f" as @{cfg.export.alias}" if registered.alias_moved else
             " (a DVC experiment: the alias stays; to promote, `dvc exp apply NAME` then "
             "`dvc repro --force --single-item export`)")  # fmt: skip
    return agreement


if __name__ == "__main__":
    main(run)
