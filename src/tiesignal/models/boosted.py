"""LightGBM with early stopping on valid: the model the pipeline exports and the study explains."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from tiesignal.config import STOPPING_METRICS, LightGBMConfig
from tiesignal.io import atomic_path


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
        client=None,
    ) -> LightGBMModel:
        """Boost on this machine, or with a Dask `client` over its cluster."""
        data = (X_train, y_train, X_valid, y_valid, categorical)
        if client is None:
            booster, history = _boost(cfg, *data, progress)
        else:
            booster, history = _boost_on_dask(cfg, client, *data, progress)
        best = booster.best_iteration
        p_valid = booster.predict(X_valid, num_iteration=best)
        at_best = {f"best_valid_{m}": float(score(y_valid, p_valid)) for m, score in SCORES.items()}
        progress(f"  best round {best} (early stopping on valid {cfg.stopping_metric}): "
                 + ", ".join(f"{k} {v:.4f}" for k, v in at_best.items()))  # fmt: skip
        return cls(list(X_train.columns), categorical, booster, best, history, at_best)

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


def _boost(cfg, X_train, y_train, X_valid, y_valid, categorical, progress):
    """LightGBM with early stopping on valid; the booster and its per-round metrics."""
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
            lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True, verbose=False),
            lgb.record_evaluation(history),
            report,
        ],
    )
    flat = {f"{split}_{metric}": v for split, m in history.items() for metric, v in m.items()}
    return booster, flat


def _boost_on_dask(cfg, client, X_train, y_train, X_valid, y_valid, categorical, progress):
    """`_boost` over a Dask cluster (`lightgbm.dask`): the training rows are split among
    the workers, which grow each tree together. LightGBM's Dask interface has no early
    stopping, so each worker scores the same whole valid set after every round and stops
    by the same rule (`StopAlike`); they agree, as their trees are the same."""
    import dask.array as da
    from lightgbm import DaskLGBMClassifier

    from tiesignal.compute import worker_threads

    workers, threads = worker_threads(client)
    rows = -(-len(X_train) // workers)
    X = da.from_array(X_train.to_numpy(), chunks=(rows, X_train.shape[1]))
    y = da.from_array(y_train, chunks=rows)
    # lightgbm.dask gives each worker as many threads as Dask does (and warns of any other)
    params = {k: v for k, v in booster_params(cfg).items() if k != "num_threads"}
    progress(f"  on {workers} Dask worker(s) of {threads} thread(s)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")  # its own default
        fitted = DaskLGBMClassifier(client=client, n_estimators=cfg.max_rounds, **params).fit(
            X, y, feature_name=list(X_train.columns), categorical_feature=categorical,
            callbacks=StopAlike(X_valid, y_valid, categorical, cfg).callbacks(),
        )  # fmt: skip
    history = fitted.evals_result_[StopAlike.name][cfg.stopping_metric]  # as the workers scored
    return fitted.booster_, {f"valid_{cfg.stopping_metric}": history}


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


class StopAlike:
    """Early stopping as `lgb.early_stopping` decides it, on the whole valid set: a callback
    each Dask worker runs on its own copy, so all stop at the same round. The valid set
    joins the worker's booster, so LightGBM adds each new tree to its scores in C++."""

    name: ClassVar[str] = "whole_valid"
    # after the sklearn interface's record_evaluation, as lgb.early_stopping
    order: ClassVar[int] = 30
    before_iteration: ClassVar[bool] = False

    def __init__(self, X_valid: pd.DataFrame, y_valid: np.ndarray, categorical: list[str],
                 cfg: LightGBMConfig) -> None:  # fmt: skip
        self.valid = (X_valid, y_valid, categorical)
        self.metric, self.patience = cfg.stopping_metric, cfg.early_stopping_rounds
        self.best = (-np.inf, -1)  # (score signed so higher is better; 0-based round)

    def callbacks(self) -> list:
        return [_JoinValid(self), self]

    def join(self, booster: lgb.Booster) -> None:
        """Add the valid set to the booster before its first round, binned as train is: from
        then on LightGBM scores it with the worker's other evaluations."""
        if self.name not in booster.name_valid_sets:
            X, y, categorical = self.valid
            train = booster.train_set
            valid = lgb.Dataset(X, y, reference=train, categorical_feature=categorical,
                                params=train.get_params())  # fmt: skip
            booster.add_valid(valid, self.name)

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        value, higher = next((v, higher) for data, metric, v, higher
                             in env.evaluation_result_list
                             if data == self.name and metric == self.metric)  # fmt: skip
        better = value if higher else -value
        if better > self.best[0]:
            self.best = (better, env.iteration)
        last = env.iteration == env.end_iteration - 1
        if env.iteration - self.best[1] >= self.patience or last:
            raise lgb.callback.EarlyStopException(
                self.best[1], [("valid", self.metric, abs(self.best[0]), higher)]
            )


class _JoinValid:
    """`StopAlike.join` before the first round (LightGBM runs these before each round)."""

    order: ClassVar[int] = 0
    before_iteration: ClassVar[bool] = True

    def __init__(self, stop: StopAlike) -> None:
        self.stop = stop

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        self.stop.join(env.model)
