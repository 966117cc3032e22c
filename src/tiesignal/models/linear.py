"""The logistic-regression baseline: the linear model a careful analyst would fit first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from tiesignal.config import LogisticConfig
from tiesignal.io import atomic_path


@dataclass
class LogisticModel:
    features: list[str]
    categorical: list[str]
    pipeline: Pipeline
    best_iteration: int = 0  # no rounds: kept so every kind answers the same questions
    history: dict[str, list[float]] = field(default_factory=dict)
    at_best: dict[str, float] = field(default_factory=dict)  # no rounds: nothing here

    kind: ClassVar[str] = "logistic"
    file_name: ClassVar[str] = "model.joblib"
    requirements: ClassVar[tuple[str, ...]] = ("numpy", "pandas", "scikit-learn")

    @classmethod
    def fit(
        cls,
        cfg: LogisticConfig,
        X_train: pd.DataFrame,
        y_train: np.ndarray,
        X_valid: pd.DataFrame,
        y_valid: np.ndarray,
        categorical: list[str],
        progress: Callable[[str], None],
    ) -> LogisticModel:
        """Standardized log1p of the (non-negative) numbers with missing-value flags, and
        one-hot categories; valid is not needed (no early stopping)."""
        numeric = [c for c in X_train.columns if c not in categorical]
        prep = ColumnTransformer(
            [
                ("numeric", make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                    StandardScaler()), numeric),
                ("categorical", make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore")), categorical),
            ]
        )  # fmt: skip
        pipeline = make_pipeline(
            prep, LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, random_state=cfg.seed)
        )
        pipeline.fit(X_train, y_train)
        progress(f"  logistic regression fitted ({pipeline[-1].n_iter_[0]} iterations)")
        return cls(list(X_train.columns), categorical, pipeline)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(X[self.features])[:, 1]

    def gain(self) -> np.ndarray:
        """Absolute standardized coefficients summed over each feature's columns."""
        names = self.pipeline[0].get_feature_names_out()
        coef = np.abs(self.pipeline[-1].coef_[0])
        return np.array(
            [coef[[_source_feature(n, self.features) == f for n in names]].sum()
             for f in self.features]
        )  # fmt: skip

    def save(self, folder: Path) -> None:
        with atomic_path(folder / self.file_name) as tmp:
            joblib.dump(self.pipeline, tmp)

    @classmethod
    def load(cls, folder: Path, features: list[str], categorical: list[str]) -> LogisticModel:
        return cls(features, categorical, joblib.load(folder / cls.file_name))

    def log_to_mlflow(self, name: str, **description):
        import mlflow.sklearn

        return mlflow.sklearn.log_model(
            self.pipeline, name=name, pyfunc_predict_fn="predict_proba",
            skops_trusted_types=["numpy.dtype"],  # the imputer's dtype: safe to load
            **description,
        )  # fmt: skip


def _source_feature(column: str, features: list[str]) -> str:
    """'numeric__missingindicator_note_length' -> 'note_length' (the longest name it holds)."""
    return max((f for f in features if f in column), key=len, default="")
