"""LightGBM against the logistic baseline and scikit-learn's HistGradientBoosting, on the
same features of the same splits, side by side in one run, with the oracle beside them.

    bash scripts/repro.sh && .venv/bin/python benchmarks/models.py

Reads data/features/ and data/raw/truth.parquet of the current workspace (run the pipeline
first). Each model is fitted with 3 seeds; the table gives medians. Results go to
benchmarks/results/models.json.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from tiesignal.config import FeaturesConfig, ModelConfig, load
from tiesignal.features.registry import select
from tiesignal.models.data import model_matrix
from tiesignal.models.train import train

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (7, 8, 9)


def main() -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    features = load(FeaturesConfig, params["features"], "features")
    spec = json.loads((ROOT / "data/features/feature_spec.json").read_text())
    chosen = select(features.groups)
    splits = {
        s: model_matrix(
            pd.read_parquet(ROOT / f"data/features/{s}.parquet"), chosen, spec["category_levels"]
        )
        for s in ("train", "valid", "test")
    }
    test_ids = pd.read_parquet(ROOT / "data/features/test.parquet", columns=["request_id"])
    truth = pd.read_parquet(
        ROOT / "data/raw/truth.parquet", columns=["request_id", "p_opportunity"]
    )
    p_true = test_ids.merge(truth, on="request_id", how="left")["p_opportunity"].to_numpy()
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = splits["train"], splits["valid"], splits["test"]

    def lightgbm(seed):
        cfg = load(ModelConfig, params["model"] | {"kind": "lightgbm", "seed": seed}, "model")
        return train(cfg, X_tr, y_tr, X_va, y_va, categorical, progress=lambda _: None).predict

    def logistic(seed):
        base = yaml.safe_load((ROOT / "conf/model/logistic.yaml").read_text())
        cfg = load(ModelConfig, base | {"seed": seed}, "model")
        return train(cfg, X_tr, y_tr, X_va, y_va, categorical, progress=lambda _: None).predict

    def hist_gradient_boosting(seed):
        cat_mask = [c in categorical for c in X_tr.columns]
        model = HistGradientBoostingClassifier(
            categorical_features=cat_mask, early_stopping=True, validation_fraction=None,
            random_state=seed, max_iter=2000, learning_rate=0.03, max_leaf_nodes=7,
            min_samples_leaf=300, l2_regularization=10.0, n_iter_no_change=50,
        )  # fmt: skip
        model.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)  # early stopping on the same valid split
        return lambda X: model.predict_proba(X)[:, 1]

    results = {"oracle": {"test_roc_auc": roc_auc_score(y_te, p_true),
                          "test_pr_auc": average_precision_score(y_te, p_true)}}  # fmt: skip
    for name, fit in (
        ("lightgbm", lightgbm),
        ("logistic", logistic),
        ("hist_gradient_boosting", hist_gradient_boosting),
    ):
        aucs, aps, secs = [], [], []
        for seed in SEEDS:
            start = time.perf_counter()
            predict = fit(seed)
            secs.append(time.perf_counter() - start)
            p = predict(X_te)
            aucs.append(roc_auc_score(y_te, p))
            aps.append(average_precision_score(y_te, p))
        results[name] = {
            "test_roc_auc": statistics.median(aucs),
            "test_roc_auc_by_seed": aucs,
            "test_pr_auc": statistics.median(aps),
            "fit_seconds": statistics.median(secs),
        }
        _print_row(name, results[name])
    _print_row("oracle", results["oracle"])
    results["n_train"], results["n_test"], results["date"] = (
        len(X_tr),
        len(X_te),
        time.strftime("%Y-%m-%d"),
    )
    out = ROOT / "benchmarks/results/models.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def _print_row(name: str, row: dict) -> None:
    fit = f"  fit {row['fit_seconds']:.1f}s" if "fit_seconds" in row else ""
    print(
        f"{name:24s} AUC {row['test_roc_auc']:.4f}  PR-AUC {row['test_pr_auc']:.4f}{fit}",
        flush=True,
    )


def _print_row(name: str, row: dict) -> None:
    fit = f"  fit {row['fit_seconds']:.1f}s" if "fit_seconds" in row else ""
    print(f"{name:24s} AUC {row['test_roc_auc']:.4f}  PR-AUC {row['test_pr_auc']:.4f}{fit}")


if __name__ == "__main__":
    main()
