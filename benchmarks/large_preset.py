"""The training preset for large data (conf/experiment/large.yaml): how it was chosen on the
valid split, and what it costs in test ROC-AUC against the default model.

    .venv/bin/python benchmarks/large_preset.py 1000000

The default world at that size (scaled as benchmarks/stages.py scales it) is simulated,
prepared and featurized in this process. Each candidate below is fitted once (seed 7) and
scored on valid; the preset is the fastest candidate whose valid ROC-AUC is within
`VALID_AUC_GIVEN` of the default model's (valid only: the test split is not looked at to
choose), and conf/experiment/large.yaml holds it (the script says if it does not). Then
the default model and the preset are fitted with 3 seeds each and scored on test
(medians). Results: benchmarks/results/large_preset.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import yaml
from learnable import simulate_scaled
from sklearn.metrics import roc_auc_score

from models import ROOT, SEEDS
from tiesignal.config import FeaturesConfig, FeaturizeConfig, ModelConfig, PrepareConfig, load
from tiesignal.features.build import feature_tables
from tiesignal.features.registry import select
from tiesignal.models.data import model_matrix
from tiesignal.models.train import train
from tiesignal.prepare import label_and_split

VALID_AUC_GIVEN = 0.001  # valid ROC-AUC the preset may give up against the default model
# changes to conf/model/lightgbm.yaml: faster rounds (fewer bins, row sampling) and fewer
# of them (a higher learning rate), with more leaves where there are data for them
CANDIDATES = {
    "default": {},
    "lr0.1": {"learning_rate": 0.1},
    "lr0.1_bins63": {"learning_rate": 0.1, "max_bin": 63},
    "lr0.1_bins63_bag0.5": {"learning_rate": 0.1, "max_bin": 63, "bagging_fraction": 0.5},
    "lr0.1_bins63_bag0.5_leaves15": {
        "learning_rate": 0.1,
        "max_bin": 63,
        "bagging_fraction": 0.5,
        "num_leaves": 15,
        "min_child_samples": 1000,
    },  # fmt: skip
    "lr0.15_bins63_bag0.5_leaves15": {
        "learning_rate": 0.15,
        "max_bin": 63,
        "bagging_fraction": 0.5,
        "num_leaves": 15,
        "min_child_samples": 1000,
    },  # fmt: skip
    "lr0.1_bins31_bag0.3_leaves15": {
        "learning_rate": 0.1,
        "max_bin": 31,
        "bagging_fraction": 0.3,
        "num_leaves": 15,
        "min_child_samples": 1000,
    },  # fmt: skip
}


def fit(model: dict, matrices: dict, categorical: list[str], seed: int) -> dict:
    cfg = load(ModelConfig, model | {"seed": seed}, "model")
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = (matrices[s] for s in ("train", "valid", "test"))
    start = time.perf_counter()
    fitted = train(cfg, X_tr, y_tr, X_va, y_va, categorical, progress=lambda _: None)
    seconds = time.perf_counter() - start
    return {
        "fit_seconds": seconds,
        "rounds": fitted.best_iteration,
        "valid_roc_auc": roc_auc_score(y_va, fitted.predict(X_va)),
        "test_roc_auc": roc_auc_score(y_te, fitted.predict(X_te)),
    }


def main(n_requests: int) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    kept, _ = simulate_scaled(n_requests, params)
    split = load(PrepareConfig, params["split"], "split")
    prior = load(FeaturizeConfig, params["featurize"], "featurize").track_record_prior_weight
    tables, spec = feature_tables(label_and_split(kept, split).requests,
                                  split.label_window_days, prior)  # fmt: skip
    chosen = select(load(FeaturesConfig, params["features"], "features").groups)
    matrices = {s: model_matrix(t, chosen, spec["category_levels"]) for s, t in tables.items()}
    categorical = [f.name for f in chosen if f.kind == "categorical"]

    default = params["model"]
    candidates = {}
    for name, changes in CANDIDATES.items():  # chosen on valid, one seed
        candidates[name] = fit(default | changes, matrices, categorical, SEEDS[0])
        candidates[name].pop("test_roc_auc")  # not looked at to choose
        print(name, json.dumps(candidates[name]), flush=True)
    floor = candidates["default"]["valid_roc_auc"] - VALID_AUC_GIVEN
    ok = [n for n, c in candidates.items() if c["valid_roc_auc"] >= floor]
    choice = min(ok, key=lambda n: candidates[n]["fit_seconds"])
    print(f"chosen on valid: {choice}", flush=True)

    preset = yaml.safe_load((ROOT / "conf/experiment/large.yaml").read_text())["model"]
    if preset != CANDIDATES[choice]:
        print(f"conf/experiment/large.yaml holds {preset}, not the choice: {CANDIDATES[choice]}")
    compared = {}
    for name, model in (("default", default), ("large", default | CANDIDATES[choice])):
        runs = [fit(model, matrices, categorical, seed) for seed in SEEDS]
        compared[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        compared[name]["test_roc_auc_by_seed"] = [r["test_roc_auc"] for r in runs]
        print(name, json.dumps(compared[name]), flush=True)
    large, base = compared["large"], compared["default"]
    return {
        "n_requests": n_requests,
        "n_train": len(matrices["train"][0]),
        "date": time.strftime("%Y-%m-%d"),
        "candidates_on_valid": candidates,
        "chosen_on_valid": choice,
        "preset": CANDIDATES[choice],
        "preset_is_conf_experiment_large": preset == CANDIDATES[choice],
        "test": compared,
        "test_roc_auc_cost": base["test_roc_auc"] - large["test_roc_auc"],
        "fit_speedup": base["fit_seconds"] / large["fit_seconds"],
    }


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    out = ROOT / "benchmarks" / "results" / "large_preset.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print({k: result[k] for k in ("chosen_on_valid", "test_roc_auc_cost", "fit_speedup")})
