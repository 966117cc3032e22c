"""MLflow, in one place: where runs go, what each run records, how a stage finds the run
that trained its model, and the registry.

The store is the SQLite file `mlflow.db` at the repo root by default, with artifacts in
`mlruns/` beside it, as absolute paths. Queued DVC experiments run in temporary copies;
DVC points `DVC_ROOT` at the real repo there, so their runs land in the same store.
Stages call these functions and never `mlflow` directly.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tiesignal.config import ExportConfig, TrackingConfig

if TYPE_CHECKING:
    import pandas as pd

    from tiesignal.models.train import TrainedModel
    from tiesignal.study.variants import Fit


def repo_home(root: Path) -> Path:
    """The repo whose store a run belongs to: the parent repo inside a queued experiment."""
    return Path(os.environ.get("DVC_ROOT") or root).resolve()


def tracking_uri(cfg: TrackingConfig, root: Path) -> str:
    """`tracking.tracking_uri` if set, else $MLFLOW_TRACKING_URI, else the repo's SQLite
    store. (The config comes first: MLflow itself sets the variable once a URI is used.)"""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{repo_home(root) / 'mlflow.db'}"


def start(cfg: TrackingConfig, root: Path, run_name: str):
    """Set the tracking URI and experiment, and start a run; use as a context manager."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg, root))
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        artifacts = (repo_home(root) / "mlruns").as_uri()
        mlflow.create_experiment(cfg.experiment, artifact_location=artifacts)
    mlflow.set_experiment(cfg.experiment)
    return mlflow.start_run(run_name=run_name)


def run_tags(root: Path, data_sha256: str) -> dict[str, str]:
    """Git commit, DVC experiment name and the data's content hash."""
    tags = {"data_sha256": data_sha256, "git_commit": _git_commit(root)}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = os.environ["DVC_EXP_NAME"]
    return tags


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'model': {'learning_rate': 0.05}} -> {'model.learning_rate': '0.05'}"""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def config_params(**sections: Any) -> dict[str, str]:
    """Typed config sections as flat MLflow params: only the keys each section has (a
    logistic model logs no LightGBM keys)."""
    return flatten({name: dataclasses.asdict(cfg) for name, cfg in sections.items()})


def model_description(example, predictions, packages: tuple[str, ...]) -> dict:
    """Signature, input example and the model kind's `packages` pinned to the installed
    versions (pinning avoids MLflow's slow requirement inference and keeps serving
    reproducible)."""
    from mlflow.models import infer_signature

    return {
        "signature": infer_signature(example, predictions),
        "input_example": example,
        "pip_requirements": [f"{p}=={importlib.metadata.version(p)}" for p in packages],
    }


# ---------------------------------------------------------------- one run per trained model


def log_training(
    cfg: TrackingConfig,
    root: Path,
    model: TrainedModel,
    model_sha256: str,
    data_sha256: str,
    params: dict[str, str],
    run_name: str,
    tags: dict[str, str],
    X_valid: pd.DataFrame,
    counts: dict[str, int],
) -> str:
    """The training run: tags, params, per-iteration metrics and the model with its
    signature (its pyfunc returns P(opportunity)); returns the run's id."""
    import mlflow
    from mlflow.entities import Metric

    with start(cfg, root, run_name=run_name) as run:
        mlflow.set_tags(
            {**run_tags(root, data_sha256), "model_sha256": model_sha256,
             "model_kind": model.kind, **tags}
        )  # fmt: skip
        mlflow.log_params(params)
        history = [
            Metric(name, float(value), 0, step)
            for name, values in model.history.items()
            for step, value in enumerate(values, start=1)
        ]
        client = mlflow.MlflowClient()
        for i in range(0, len(history), 1000):
            client.log_batch(run.info.run_id, metrics=history[i : i + 1000])
        mlflow.log_metrics({"best_iteration": model.best_iteration, **counts})
        example = X_valid.head(5)
        described = model_description(example, model.predict(example), model.requirements)
        info = model.log_to_mlflow("model", **described)
        mlflow.set_tag("model_uri", info.model_uri)  # what `register` registers
        return run.info.run_id


def training_run(cfg: TrackingConfig, root: Path, model_sha256: str):
    """The newest MLflow run that trained the model file with this hash, or None."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg, root))
    runs = mlflow.search_runs(
        experiment_names=[cfg.experiment],
        filter_string=f"tags.model_sha256 = '{model_sha256}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0] if runs else None


def log_evaluation(
    cfg: TrackingConfig,
    root: Path,
    model_sha256: str,
    model_kind: str,
    scores: dict[str, float],
    artifacts: list[Path],
    log,
) -> str:
    """Test metrics and plots, added to the run that trained this exact model file (a new
    run if the store lost it); returns the run's id."""
    import mlflow

    trained = training_run(cfg, root, model_sha256)
    if trained:
        active = mlflow.start_run(run_id=trained.info.run_id)
    else:
        log.warning("no MLflow run holds this model (store reset?): logging to a new run")
        active = start(cfg, root, run_name=f"{model_kind}-evaluate-only")
    with active:
        mlflow.log_metrics({f"test_{k}": v for k, v in scores.items()})
        for path in artifacts:
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path="evaluate")
            else:
                mlflow.log_artifact(str(path), artifact_path="evaluate")
        return active.info.run_id


# ---------------------------------------------------------------- the study


def log_study(
    cfg: TrackingConfig,
    root: Path,
    study_name: str,
    fits: list[Fit],
    y_test: np.ndarray,
    params: dict[str, str],
    headline: dict[str, float],
    data_sha256: str,
    artifacts: Path,
) -> str:
    """One parent run and one child per variant and seed, so the UI's compare view lines
    the variants up (filter on `tags.study` or open the parent); returns the parent's id."""
    import mlflow
    from sklearn.metrics import average_precision_score, roc_auc_score

    tags = {**run_tags(root, data_sha256), "study": study_name}
    full_by_seed = {f.seed: f.test_scores for f in fits if f.variant.kind == "full"}
    with start(cfg, root, run_name=f"study-{study_name}") as parent:
        mlflow.set_tags({**tags, "study_role": "parent"})
        mlflow.log_params(params)
        mlflow.log_metrics({**headline, "models": len(fits)})
        for fit in fits:
            v = fit.variant
            with mlflow.start_run(run_name=f"{v.name}-seed{fit.seed}", nested=True):
                mlflow.set_tags(
                    {**tags, "study_role": "variant", "variant": v.name, "kind": v.kind,
                     "group": v.group or "all", "seed": str(fit.seed)}
                )  # fmt: skip
                mlflow.log_params({"groups": ",".join(v.groups), "seed": fit.seed})
                auc = roc_auc_score(y_test, fit.test_scores)
                ap = average_precision_score(y_test, fit.test_scores)
                full = full_by_seed[fit.seed]
                mlflow.log_metrics(
                    {
                        "test_roc_auc": auc,
                        "test_pr_auc": ap,
                        "delta_roc_auc": auc - roc_auc_score(y_test, full),
                        "delta_pr_auc": ap - average_precision_score(y_test, full),
                        "best_iteration": fit.model.best_iteration,
                        "fit_seconds": fit.seconds,
                    }
                )
        mlflow.log_artifacts(str(artifacts), artifact_path="compare")
        return parent.info.run_id


# ---------------------------------------------------------------- the registry


@dataclasses.dataclass(frozen=True)
class Registered:
    name: str
    version: str
    alias_moved: bool  # False inside a DVC experiment: experiments never promote


def register(
    cfg: TrackingConfig, export: ExportConfig, root: Path, model_sha256: str
) -> Registered:
    """The trained model as a registry version (one per distinct model file). `dvc repro`
    moves the alias to it; a DVC experiment registers its version and leaves the alias, so
    a queued sweep cannot promote whichever variant happens to finish last."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri(cfg, root))
    name = export.registered_model
    same_model = client.search_model_versions(
        f"name = '{name}' and tags.model_sha256 = '{model_sha256}'",
        order_by=["version_number ASC"],
    )
    if same_model:
        version = same_model[0].version
    else:
        trained = training_run(cfg, root, model_sha256)
        if trained is None or "model_uri" not in trained.data.tags:
            raise FileNotFoundError(
                f"no MLflow run in {tracking_uri(cfg, root)} logged "
                "models/train/model.txt (store reset?); `dvc repro --force train` logs it again"
            )
        tags = {"model_sha256": model_sha256, **run_tags(root, "")}
        tags.pop("data_sha256")
        version = mlflow.register_model(trained.data.tags["model_uri"], name, tags=tags).version
    in_experiment = bool(os.environ.get("DVC_EXP_NAME"))
    if not in_experiment:
        client.set_registered_model_alias(name, export.alias, version)
    return Registered(name, str(version), alias_moved=not in_experiment)


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
