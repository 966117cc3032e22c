"""Cross-validation over participants, for studies too small to split by time: each fold
is once the test fold, the next fold stops the fit early, the others train it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from tiesignal.config import ModelConfig
from tiesignal.features.registry import Feature
from tiesignal.models.data import model_matrix
from tiesignal.models.train import train
from tiesignal.schema import SPLITS

log = logging.getLogger(__name__)


def out_of_fold_scores(
    cfg: ModelConfig,
    tables: dict[str, pd.DataFrame],
    chosen: list[Feature],
    levels: dict[str, list[str]],
    progress: Callable[[str], None] = log.info,
) -> pd.DataFrame:
    """Every labelled request scored by the model of the rotation that held its fold out:
    `request_id`, `recipient_id`, `fold`, `p_opportunity`, `label`. `tables`: the
    feature tables by split, with the `fold` column prepare gives under this method."""
    rows = pd.concat([tables[s] for s in SPLITS], ignore_index=True)
    X, y = model_matrix(rows, chosen, levels)
    folds = rows["fold"].to_numpy(dtype=int)
    k = int(folds.max()) + 1
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    scored = []
    for test in range(k):
        valid = (test + 1) % k
        fit = (folds != test) & (folds != valid)
        progress(f"fold {test + 1}/{k}: train on {fit.sum()} rows, stop early on fold {valid}")
        model = train(cfg, X[fit], y[fit], X[folds == valid], y[folds == valid], categorical,
                      progress)  # fmt: skip
        held_out = folds == test
        scored.append(
            pd.DataFrame(
                {
                    "request_id": rows.loc[held_out, "request_id"],
                    "recipient_id": rows.loc[held_out, "recipient_id"],
                    "fold": test,
                    "p_opportunity": model.predict(X[held_out]),
                    "label": y[held_out].astype(bool),
                }
            )
        )
    return pd.concat(scored, ignore_index=True).astype({"fold": np.int8})
