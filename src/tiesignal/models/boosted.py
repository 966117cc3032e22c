"""LightGBM with early stopping on valid: the model the pipeline exports and the study explains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from tiesignal.config import STOPPING_METRICS, LightGBMConfig
from tiesignal.io import atomic_path, read_json, write_json


@dataclass
class LightGBMModel:
    features: list[str]
    categorical: list[str]
    booster: lgb.Booster
    best_iteration: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # per-iteration metrics
    at_best: dict[str, float] = field(default_factory=dict)  # every metric at the best round

    kind: ClassVar[str] = "lightgbm"
    file_name: ClassVar[str] = "model.txt"  # LightGBM's own text format, no pickle
    requirements: ClassVar[tuple[str, ...]] = ("numpy", "pandas", "scikit-learn", "lightgbm")

    @classmethod
    def fit(
        cls,
        cfg: LightGBMConfig,
        X_train: pd.DataFrame,
        y_train: np.ndarray,
        X_valid: pd.DataFrame,
        y_valid: np.ndarray,
        categorical: list[str],
        progress: Callable[[str], None],
    ) -> LightGBMModel:
        dtrain = lgb.Dataset(X_train, y_train, categorical_feature=categorical, free_raw_data=False)
        dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain, categorical_feature=categorical)
        history: dict = {}

        def report(env: lgb.callback.CallbackEnv) -> None:
            if (env.iteration + 1) % 100 == 0:
                scores = ", ".join(f"{d} {m} {v:.4f}" for d, m, v, _ in env.evaluation_result_list)
                progress(f"  round {env.iteration + 1}: {scores}")

        booster = lgb.train(
            booster_params(cfg),
            dtrain,
            num_boost_round=cfg.max_rounds,
            # valid only: scoring train every round (AUC sorts 100k+ rows) doubled the fit
            valid_sets=[dvalid],
            valid_names=["valid"],
            callbacks=[
                lgb.early_stopping(
                    cfg.early_stopping_rounds, first_metric_only=True, verbose=False
                ),
                lgb.record_evaluation(history),
                report,
            ],
        )
        flat = {f"{split}_{metric}": v for split, m in history.items() for metric, v in m.items()}
        best = booster.best_iteration
        p_valid = booster.predict(X_valid, num_iteration=best)
        at_best = {f"best_valid_{m}": float(score(y_valid, p_valid)) for m, score in SCORES.items()}
        progress(f"  best round {best} (early stopping on valid {cfg.stopping_metric}): "
                 + ", ".join(f"{k} {v:.4f}" for k, v in at_best.items()))  # fmt: skip
        return cls(list(X_train.columns), categorical, booster, best, flat, at_best)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """P(opportunity) for each row of a model matrix with these feature columns."""
        return self.booster.predict(X[self.features], num_iteration=self.best_iteration or None)

    def gain(self) -> np.ndarray:
        """Total split gain per feature."""
        return self.booster.feature_importance("gain", iteration=self.best_iteration or None)

    def save(self, folder: Path) -> None:
        text = self.booster.model_to_string(num_iteration=self.best_iteration or None)
        with atomic_path(folder / self.file_name) as tmp:
            tmp.write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, features: list[str], categorical: list[str]) -> LightGBMModel:
        booster = lgb.Booster(model_file=str(folder / cls.file_name))
        return cls(features, categorical, booster)  # the saved text holds the best rounds only

    def log_to_mlflow(self, name: str, **description):
        import mlflow.lightgbm

        return mlflow.lightgbm.log_model(self.booster, name=name, **description)


# LightGBM's metric names -> the same scores computed once, at the best round
SCORES = {"binary_logloss": log_loss, "auc": roc_auc_score}
assert set(SCORES) == set(STOPPING_METRICS)


def booster_params(cfg: LightGBMConfig) -> dict:
    """LightGBM's parameters: the config's, plus what makes runs deterministic and quiet."""
    return {
        "objective": "binary",
        # only the one early stopping watches: the others, every round, would cost a quarter
        # of the fit at 1M requests (AUC sorts the valid split); they are scored at the end
        "metric": [cfg.stopping_metric],
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": cfg.bagging_freq,
        "lambda_l2": cfg.lambda_l2,
        "max_bin": cfg.max_bin,
        "seed": cfg.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": cfg.num_threads,
        "verbosity": -1,
    }
