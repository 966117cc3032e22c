"""Stage `export`: the trained model for other tools (ONNX, LightGBM text, MLflow model),
with its feature recipe and model card, registered in MLflow under an alias."""

from __future__ import annotations

import os

from _stage import ROOT, Timer, logger, params, run, section

from tiesignal.config import ExportConfig, FeaturesConfig, PrepareConfig, TrackingConfig
from tiesignal.export.bundle import write_export
from tiesignal.export.card import model_card
from tiesignal.features.registry import describe
from tiesignal.io import file_sha256, read_json, read_parquet, write_json
from tiesignal.models import tracking
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import TrainedModel
from tiesignal.prepare import LABEL

MODEL = ROOT / "models" / "train"
FEATURES = ROOT / "data" / "features"
OUT = ROOT / "models" / "export"
METRICS = ROOT / "metrics" / "export.json"


def main() -> None:
    log = logger("export")
    all_params = params()
    cfg = section(ExportConfig, "export", all_params)
    tracking_cfg = section(TrackingConfig, "tracking", all_params)
    feature_set = section(FeaturesConfig, "features", all_params).name
    split = section(PrepareConfig, "split", all_params)
    timer = Timer()
    model = TrainedModel.load(MODEL)
    if model.kind != "lightgbm":
        raise ValueError(
            f"export needs a LightGBM model, and model.kind is {model.kind!r}; "
            "to compare other models stop before export: `dvc exp run evaluate -S model=...`"
        )
    levels = read_json(FEATURES / "feature_spec.json")["category_levels"]
    chosen = features_named(model.features)
    X_test, _ = model_matrix(read_parquet(FEATURES / "test.parquet"), chosen, levels)
    data = read_json(ROOT / "reports" / "prepare.json")
    metrics = read_json(ROOT / "metrics" / "evaluate.json")
    spec = {
        **describe(chosen, levels),
        "label": LABEL,
        "label_window_days": data["label_window_days"],
        "valid_sent_at": [split.min_sent_at, split.max_sent_at],  # what `predict` accepts
    }
    card = model_card(
        spec,
        metrics,
        data,
        {
            "registered_model": cfg.registered_model,
            "alias": cfg.alias,
            "trees": model.model.num_trees(),
            "feature_set": feature_set,
        },
    )
    model_text = (MODEL / "model.txt").read_text(encoding="utf-8")
    log.info("exporting %d features, checking agreement on %d test rows", len(chosen), len(X_test))
    agreement = write_export(OUT, model_text, spec, card, X_test, cfg.onnx_tolerance)
    write_json(vars(agreement), METRICS)
    log.info(
        "ONNX max |diff| %.2e, MLflow max |diff| %.2e vs LightGBM",
        agreement.onnx_max_abs_diff,
        agreement.mlflow_max_abs_diff,
    )
    _register(cfg, tracking_cfg, file_sha256(MODEL / "model.txt"), log)
    log.info("wrote %s (%s)", OUT.relative_to(ROOT), timer)


def _register(cfg: ExportConfig, tracking_cfg: TrackingConfig, model_sha256: str, log) -> None:
    """The trained model as a registry version (one per distinct model file). `dvc repro`
    moves the alias to it; a DVC experiment registers its version and leaves the alias, so
    a queued sweep cannot promote whichever variant happens to finish last."""
    import mlflow

    client = mlflow.MlflowClient(tracking.tracking_uri(tracking_cfg, ROOT))
    name = cfg.registered_model
    same_model = client.search_model_versions(
        f"name = '{name}' and tags.model_sha256 = '{model_sha256}'",
        order_by=["version_number ASC"],
    )
    if same_model:
        version = same_model[0].version
    else:
        trained = tracking.training_run(tracking_cfg, ROOT, model_sha256)
        if trained is None or "model_uri" not in trained.data.tags:
            raise FileNotFoundError(
                f"no MLflow run in {tracking.tracking_uri(tracking_cfg, ROOT)} logged "
                "models/train/model.txt (store reset?); `dvc repro --force train` logs it again"
            )
        tags = {"model_sha256": model_sha256, **tracking.run_tags(ROOT, "")}
        tags.pop("data_sha256")
        version = mlflow.register_model(trained.data.tags["model_uri"], name, tags=tags).version
    experiment = os.environ.get("DVC_EXP_NAME")
    if experiment:
        log.info(
            "registered %s version %s for experiment %s; @%s not moved (to promote: "
            "`dvc exp apply %s` then `dvc repro --force --single-item export`)",
            name, version, experiment, cfg.alias, experiment,
        )  # fmt: skip
    else:
        client.set_registered_model_alias(name, cfg.alias, version)
        log.info("registered %s version %s as @%s", name, version, cfg.alias)


if __name__ == "__main__":
    run("export", main)
