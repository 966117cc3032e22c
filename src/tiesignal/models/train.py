"""LightGBM with early stopping on valid, and a logistic-regression baseline.

Both return a `TrainedModel`: one object to score with, save and load, whatever the kind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from tiesignal.config import ModelConfig
from tiesignal.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    kind: str
    features: list[str]
    categorical: list[str]
    model: object  # lgb.Booster or a fitted sklearn Pipeline
    best_iteration: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # per-iteration metrics

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """P(opportunity) for each row of a model matrix with these feature columns."""
        X = X[self.features]
        if self.kind == "lightgbm":
            return self.model.predict(X, num_iteration=self.best_iteration or None)
        return self.model.predict_proba(X)[:, 1]

    def importance(self) -> pd.DataFrame:
        """Share of total importance per feature: LightGBM's split gain, or the logistic
        model's absolute standardized coefficients summed over each feature's columns."""
        if self.kind == "lightgbm":
            values = self.model.feature_importance("gain", iteration=self.best_iteration or None)
        else:
            names = self.model[0].get_feature_names_out()
            coef = np.abs(self.model[-1].coef_[0])
            values = np.array(
                [coef[[_source_feature(n, self.features) == f for n in names]].sum()
                 for f in self.features]
            )
        total = values.sum() or 1.0
        return pd.DataFrame({"feature": self.features, "importance": values / total}).round(6)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.kind == "lightgbm":
            text = self.model.model_to_string(num_iteration=self.best_iteration or None)
            with atomic_path(folder / "model.txt") as tmp:
                tmp.write_text(text, encoding="utf-8")
        else:
            with atomic_path(folder / "model.joblib") as tmp:
                joblib.dump(self.model, tmp)
        write_json(
            {
                "kind": self.kind,
                "features": self.features,
                "categorical": self.categorical,
                "best_iteration": self.best_iteration,
            },
            folder / "model.json",
        )

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        meta_path = folder / "model.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: no trained model here (run the train stage)")
        meta = read_json(meta_path)
        if meta["kind"] == "lightgbm":
            model = lgb.Booster(model_file=str(folder / "model.txt"))
            best = 0  # the saved text holds exactly the best iterations
        else:
            model = joblib.load(folder / "model.joblib")
            best = meta["best_iteration"]
        return cls(meta["kind"], meta["features"], meta["categorical"], model, best)


def _source_feature(column: str, features: list[str]) -> str:
    """'numeric__missingindicator_note_length' -> 'note_length' (the longest name it holds)."""
    return max((f for f in features if f in column), key=len, default="")


def lightgbm_params(cfg: ModelConfig) -> dict:
    return {
        "objective": "binary",
        "metric": ["binary_logloss", "auc"],
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": cfg.bagging_freq,
        "lambda_l2": cfg.lambda_l2,
        "seed": cfg.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": cfg.num_threads,
        "verbosity": -1,
    }


def train(
    cfg: ModelConfig,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    categorical: list[str],
    progress: Callable[[str], None] = log.info,
) -> TrainedModel:
    trainers = {"lightgbm": _train_lightgbm, "logistic": _train_logistic}
    if cfg.kind not in trainers:
        raise ValueError(f"model.kind: unknown {cfg.kind!r}; known: {sorted(trainers)}")
    return trainers[cfg.kind](cfg, X_train, y_train, X_valid, y_valid, categorical, progress)


def _train_lightgbm(cfg, X_train, y_train, X_valid, y_valid, categorical, progress):
    features = list(X_train.columns)
    dtrain = lgb.Dataset(X_train, y_train, categorical_feature=categorical, free_raw_data=False)
    dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain, categorical_feature=categorical)
    history: dict = {}

    def report(env: lgb.callback.CallbackEnv) -> None:
        if (env.iteration + 1) % 100 == 0:
            scores = ", ".join(f"{d} {m} {v:.4f}" for d, m, v, _ in env.evaluation_result_list)
            progress(f"  round {env.iteration + 1}: {scores}")

    booster = lgb.train(
        lightgbm_params(cfg),
        dtrain,
        num_boost_round=cfg.max_rounds,
        valid_sets=[dtrain, dvalid],
        valid_names=["train", "valid"],
        callbacks=[
            lgb.early_stopping(cfg.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(history),
            report,
        ],
    )
    flat = {f"{split}_{metric}": values for split, m in history.items() for metric, values in m.items()}
    progress(f"  best round {booster.best_iteration} (early stopping on valid)")
    return TrainedModel("lightgbm", features, categorical, booster, booster.best_iteration, flat)


def _train_logistic(cfg, X_train, y_train, X_valid, y_valid, categorical, progress):
    """Standardized log1p of the (non-negative) numbers with missing-value flags, and
    one-hot categories: the linear model a careful analyst would fit first."""
    features = list(X_train.columns)
    numeric = [c for c in features if c not in categorical]
    prep = ColumnTransformer(
        [
            ("numeric", make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()), numeric),
            ("categorical", make_pipeline(
                SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                OneHotEncoder(handle_unknown="ignore")), categorical),
        ]
    )  # fmt: skip
    model = make_pipeline(
        prep, LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, random_state=cfg.seed)
    )
    model.fit(X_train, y_train)
    progress(f"  logistic regression fitted ({model[-1].n_iter_[0]} iterations)")
    return TrainedModel("logistic", features, categorical, model, 0, {})
