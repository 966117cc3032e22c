"""MLflow: where runs go, and what one training run records.

The store is the SQLite file `mlflow.db` at the repo root by default, with artifacts in
`mlruns/` beside it, as absolute paths. Queued DVC experiments run in temporary copies;
DVC points `DVC_ROOT` at the real repo there, so their runs land in the same store.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tiesignal.config import TrackingConfig


def repo_home(root: Path) -> Path:
    """The repo whose store a run belongs to: the parent repo inside a queued experiment."""
    return Path(os.environ.get("DVC_ROOT") or root).resolve()


def tracking_uri(cfg: TrackingConfig, root: Path) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if cfg.tracking_uri:
        return cfg.tracking_uri
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


def model_description(example, predictions, kind: str) -> dict:
    """Signature, input example and pinned requirements for an MLflow model of this kind
    (pinning avoids MLflow's slow requirement inference and keeps serving reproducible)."""
    from mlflow.models import infer_signature

    packages = ["numpy", "pandas", "scikit-learn"] + (["lightgbm"] if kind == "lightgbm" else [])
    return {
        "signature": infer_signature(example, predictions),
        "input_example": example,
        "pip_requirements": [f"{p}=={importlib.metadata.version(p)}" for p in packages],
    }


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


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
