"""Train a model of the configured kind, and save and load it whatever its kind.

Each kind is a class (`models/boosted.py`, `models/linear.py`) that owns its fitting,
file, importance and MLflow flavor; this module is the one place that picks the class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.config import ConfigError, LightGBMConfig, LogisticConfig, ModelConfig
from tiesignal.io import read_json, write_json
from tiesignal.models.boosted import LightGBMModel
from tiesignal.models.linear import LogisticModel

log = logging.getLogger(__name__)

TrainedModel = LightGBMModel | LogisticModel
MODEL_CLASSES: dict[type, type[TrainedModel]] = {
    LightGBMConfig: LightGBMModel,
    LogisticConfig: LogisticModel,
}
META = "model.json"


def train(
    cfg: ModelConfig,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    categorical: list[str],
    progress: Callable[[str], None] = log.info,
    client=None,
) -> TrainedModel:
    """`client`: a Dask client whose cluster boosts the model (LightGBM only). That is the
    local model within noise, not the same bytes: each worker bags its own rows and the
    histograms are summed in another order."""
    model_class = MODEL_CLASSES[type(cfg)]
    data = (X_train, y_train, X_valid, y_valid, categorical, progress)
    if client is None:
        return model_class.fit(cfg, *data)
    if model_class is not LightGBMModel:
        raise ConfigError(f"compute=dask trains model=lightgbm only, not {cfg.kind}")
    return model_class.fit(cfg, *data, client)


def importance(model: TrainedModel) -> pd.DataFrame:
    """Share of total importance per feature: LightGBM's split gain, or the logistic
    model's absolute standardized coefficients."""
    values = model.gain()
    total = values.sum() or 1.0
    return pd.DataFrame({"feature": model.features, "importance": values / total}).round(6)


def save_model(model: TrainedModel, folder: Path) -> Path:
    """The model's own file and `model.json` (kind, features); returns the model file."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder)
    meta = {
        "kind": model.kind,
        "features": model.features,
        "categorical": model.categorical,
        "best_iteration": model.best_iteration,
    }
    write_json(meta, folder / META)
    return folder / model.file_name


def load_model(folder: Path) -> TrainedModel:
    meta_path = folder / META
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: no trained model here (run the train stage)")
    meta = read_json(meta_path)
    by_kind = {cls.kind: cls for cls in MODEL_CLASSES.values()}
    if meta["kind"] not in by_kind:
        raise ValueError(f"{meta_path}: unknown model kind {meta['kind']!r}")
    return by_kind[meta["kind"]].load(folder, meta["features"], meta["categorical"])
