"""LightGBM against the logistic baseline, scikit-learn's HistGradientBoosting and XGBoost,
on the same features of the same splits, side by side in one run, with the oracle beside
them.

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

import numpy as np
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
    X_te, y_te = splits["test"]

    fitters = model_fitters(params, splits["train"], splits["valid"], categorical)
    results = {"oracle": {"test_roc_auc": roc_auc_score(y_te, p_true),
                          "test_pr_auc": average_precision_score(y_te, p_true)}}  # fmt: skip
    for name, fit in fitters.items():
        results[name] = seed_medians(fit, X_te, y_te)
        print_row(name, results[name])
    print_row("oracle", results["oracle"])
    results["n_train"], results["n_test"], results["date"] = (
        len(splits["train"][0]),
        len(X_te),
        time.strftime("%Y-%m-%d"),
    )
    out = ROOT / "benchmarks/results/models.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def model_fitters(params: dict, train_set, valid_set, categorical: list[str]) -> dict:
    """name -> fit(seed) -> predict(X): every model on the same matrices, early stopping on
    the same valid split."""
    (X_tr, y_tr), (X_va, y_va) = train_set, valid_set

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
        model.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
        return lambda X: model.predict_proba(X)[:, 1]

    def xgboost(seed):
        import xgboost as xgb

        # the same capacity as conf/model/lightgbm.yaml's where the two libraries share one
        model = xgb.XGBClassifier(
            n_estimators=2000, learning_rate=0.03, max_leaves=7, max_depth=0,
            grow_policy="lossguide", tree_method="hist", min_child_weight=5.0, reg_lambda=10.0,
            subsample=0.9, colsample_bytree=0.7, early_stopping_rounds=50,
            eval_metric="logloss", enable_categorical=True, random_state=seed, n_jobs=2,
        )  # fmt: skip
        levels = {c: int(max(X_tr[c].max(), X_va[c].max())) + 1 for c in categorical}

        def as_category(X):  # XGBoost wants integer categories; unseen and missing: NaN
            X = X.copy()
            for c, n in levels.items():
                codes = X[c].fillna(-1).to_numpy(dtype=int)
                X[c] = pd.Categorical.from_codes(np.where(codes < n, codes, -1), range(n))
            return X

        model.fit(as_category(X_tr), y_tr, eval_set=[(as_category(X_va), y_va)], verbose=False)
        return lambda X: model.predict_proba(as_category(X))[:, 1]

    return {"lightgbm": lightgbm, "logistic": logistic,
            "hist_gradient_boosting": hist_gradient_boosting, "xgboost": xgboost}  # fmt: skip


def seed_medians(fit, X_test, y_test) -> dict:
    """A model fitted once per seed: the median test ROC-AUC, PR-AUC and fit time."""
    aucs, aps, secs = [], [], []
    for seed in SEEDS:
        start = time.perf_counter()
        predict = fit(seed)
        secs.append(time.perf_counter() - start)
        p = predict(X_test)
        aucs.append(roc_auc_score(y_test, p))
        aps.append(average_precision_score(y_test, p))
    return {
        "test_roc_auc": statistics.median(aucs),
        "test_roc_auc_by_seed": aucs,
        "test_pr_auc": statistics.median(aps),
        "fit_seconds": statistics.median(secs),
    }


def print_row(name: str, row: dict) -> None:
    fit = f"  fit {row['fit_seconds']:.1f}s" if "fit_seconds" in row else ""
    gap = f"  gap {row['auc_gap_to_oracle']:.4f}" if "auc_gap_to_oracle" in row else ""
    print(f"{name:32s} AUC {row['test_roc_auc']:.4f}  PR-AUC {row['test_pr_auc']:.4f}{gap}{fit}",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
