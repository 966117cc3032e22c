"""Stage `train`: fit the configured model on train, stop early on valid, log one MLflow run."""

from __future__ import annotations

from _stage import ROOT, Timer, logger, params, run, section

from tiesignal.config import FeaturesConfig, ModelConfig, TrackingConfig
from tiesignal.features.registry import select
from tiesignal.io import file_sha256, read_json, read_parquet
from tiesignal.models import tracking
from tiesignal.models.data import model_matrix
from tiesignal.models.train import TrainedModel, lightgbm_params, train

FEATURES = ROOT / "data" / "features"
OUT = ROOT / "models" / "train"


def main() -> None:
    log = logger("train")
    all_params = params()
    features_cfg = section(FeaturesConfig, "features", all_params)
    model_cfg = section(ModelConfig, "model", all_params)
    tracking_cfg = section(TrackingConfig, "tracking", all_params)
    timer = Timer()

    spec = read_json(FEATURES / "feature_spec.json")
    levels = spec["category_levels"]
    chosen = select(features_cfg.groups)
    X_train, y_train = model_matrix(read_parquet(FEATURES / "train.parquet"), chosen, levels)
    X_valid, y_valid = model_matrix(read_parquet(FEATURES / "valid.parquet"), chosen, levels)
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    log.info(
        "training %s on %d rows x %d features (groups: %s)",
        model_cfg.kind,
        len(X_train),
        X_train.shape[1],
        ", ".join(features_cfg.groups),
    )
    model = train(model_cfg, X_train, y_train, X_valid, y_valid, categorical, progress=log.info)
    model.save(OUT)
    model_file = OUT / ("model.txt" if model.kind == "lightgbm" else "model.joblib")

    data_hash = (
        file_sha256(FEATURES / "train.parquet")[:16] + file_sha256(FEATURES / "valid.parquet")[:16]
    )
    with tracking.start(tracking_cfg, ROOT, run_name=f"{model.kind}-{features_cfg.name}"):
        import mlflow

        mlflow.set_tags(
            {
                **tracking.run_tags(ROOT, data_hash),
                "model_sha256": file_sha256(model_file),
                "model_kind": model.kind,
                "feature_set": features_cfg.name,
            }
        )
        flat = tracking.flatten({k: v for k, v in all_params.items() if k != "tracking"})
        if model.kind == "lightgbm":
            flat.update(tracking.flatten({"lightgbm": lightgbm_params(model_cfg)}))
        mlflow.log_params(flat)
        _log_history(model)
        mlflow.log_metrics(
            {
                "best_iteration": model.best_iteration,
                "n_features": X_train.shape[1],
                "n_train": len(X_train),
                "n_valid": len(X_valid),
            }
        )
        _log_model(model, X_valid)
        log.info(
            "MLflow run %s in %s",
            mlflow.active_run().info.run_id,
            tracking.tracking_uri(tracking_cfg, ROOT),
        )
    log.info("done (%s)", timer)


def _log_history(model: TrainedModel) -> None:
    import mlflow
    from mlflow.entities import Metric

    metrics = [
        Metric(name, float(value), 0, step)
        for name, values in model.history.items()
        for step, value in enumerate(values, start=1)
    ]
    client = mlflow.MlflowClient()
    run_id = mlflow.active_run().info.run_id
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def _log_model(model: TrainedModel, X_valid) -> None:
    """The model with its signature and an input example; its pyfunc returns P(opportunity)."""
    import mlflow

    example = X_valid.head(5)
    described = tracking.model_description(example, model.predict(example), model.kind)
    if model.kind == "lightgbm":
        info = mlflow.lightgbm.log_model(model.model, name="model", **described)
    else:
        info = mlflow.sklearn.log_model(
            model.model, name="model", pyfunc_predict_fn="predict_proba", **described
        )
    mlflow.set_tag("model_uri", info.model_uri)  # what `export` registers


if __name__ == "__main__":
    run("train", main)
