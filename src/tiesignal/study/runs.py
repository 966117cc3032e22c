"""The study in MLflow: one parent run, one child run per variant and seed, so the UI's
compare view lines the variants up (filter on `tags.study` or open the parent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from tiesignal.config import TrackingConfig
from tiesignal.models import tracking
from tiesignal.study.variants import Fit


def log_study(
    tracking_cfg: TrackingConfig,
    root: Path,
    study_name: str,
    fits: list[Fit],
    y_test: np.ndarray,
    params: dict,
    headline: dict[str, float],
    data_sha256: str,
    artifacts: Path,
) -> str:
    """Log the study; returns the parent run's id."""
    import mlflow

    tags = {**tracking.run_tags(root, data_sha256), "study": study_name}
    full_by_seed = {f.seed: f.test_scores for f in fits if f.variant.kind == "full"}
    with tracking.start(tracking_cfg, root, run_name=f"study-{study_name}") as parent:
        mlflow.set_tags({**tags, "study_role": "parent"})
        mlflow.log_params(tracking.flatten(params))
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
