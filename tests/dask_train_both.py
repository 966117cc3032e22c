"""Train the tiny world with compute=local and with compute=dask (a LocalCluster of two
workers) and print each model's rounds and valid scores as JSON. tests/test_dask.py runs
it inside a private network namespace: LightGBM's training sockets bind every interface.

    python tests/dask_train_both.py ROOT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from conftest import run_stages, tiny_params
from sklearn.metrics import log_loss, roc_auc_score

from tiesignal.io import read_json
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import load_model


def main(root: Path) -> dict:
    run_stages(root, tiny_params(), ("simulate", "ingest", "prepare", "featurize"))
    valid = pd.read_parquet(root / "data" / "features" / "valid.parquet")
    levels = read_json(root / "data" / "features" / "feature_spec.json")["category_levels"]
    scores = {}
    for kind in ("local", "dask"):
        summary = run_stages(root, tiny_params(f"compute={kind}"), ("train",))["train"]
        model = load_model(root / "models" / "train")
        X, y = model_matrix(valid, features_named(model.features), levels)
        p = model.predict(X)
        scores[kind] = {
            "best_iteration": summary.best_iteration,
            "valid_roc_auc": roc_auc_score(y, p),
            "valid_logloss": log_loss(y, p),
        }
    return scores


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
