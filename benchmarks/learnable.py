"""How close to the oracle the model gets: the recipient policy of the split and the
track-record features, side by side in one run, and LightGBM against its peers on the
same features.

    .venv/bin/python benchmarks/learnable.py 200000 1000000

For each size, the default world scaled as benchmarks/stages.py scales it (members grow
with requests, senders with their square root) is simulated in this process, then:
(a) `split.recipients=disjoint` without the track-record groups (the setup before issue
16), (b) `shared` with the same groups, (c) (b) plus `sender_track_record` and
`recipient_responsiveness` (the default now), and (d) (c) informed by the simulator's latent
intent and sender type, which no feature sees: how much of the gap to the oracle is the
latent. Beside the oracle, an oracle that knows everything but the intent
(`p_opportunity_intent_unknown` in the truth). LightGBM fits each with 3 seeds (medians);
on (c)'s features HistGradientBoosting and XGBoost fit with the same seeds. Every model
is scored on the same test period as the oracle (the world's true probabilities), whose
test rows all setups share. `featurize` is timed with and without the track records.
Results: benchmarks/results/learnable.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time

import pandas as pd
import yaml
from sklearn.metrics import average_precision_score, roc_auc_score

from models import ROOT, model_fitters, print_row, seed_medians
from tiesignal.config import FeaturizeConfig, PrepareConfig, load, load_world
from tiesignal.features.build import History, build_features, feature_tables
from tiesignal.features.registry import GROUPS, TRACK_RECORD_GROUPS, select
from tiesignal.models.data import model_matrix
from tiesignal.prepare import label_and_split
from tiesignal.schema import LABEL, validate_requests
from tiesignal.simulate import simulate_world

LATENT = ("intent", "sender_type")  # what no feature can see: for the informed model (d)
# the true probabilities, and the same to an oracle that knows all but the sender's intent
ORACLES = {"oracle": "p_opportunity", "oracle_intent_unknown": "p_opportunity_intent_unknown"}


def simulate_scaled(n_requests: int, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The default world at `n_requests`, scaled as benchmarks/stages.py scales it, in this
    process: its valid requests and its truth."""
    scale = n_requests / 200_000
    world = dataclasses.replace(
        load_world(params["world"], ROOT),
        n_requests=n_requests,
        n_members=int(150_000 * scale),
        n_senders=int(4_000 * math.sqrt(scale)),
    )
    print(f"{n_requests:,} requests: simulating", flush=True)
    records, truths = zip(*simulate_world(world), strict=True)
    raw = pd.concat(records, ignore_index=True)
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    return kept, pd.concat(truths, ignore_index=True)


def bench(n_requests: int, params: dict) -> dict:
    kept, truth = simulate_scaled(n_requests, params)
    truth = truth[["request_id", "p_opportunity", "p_opportunity_intent_unknown", *LATENT]]
    split = load(PrepareConfig, params["split"], "split")
    featurize = load(FeaturizeConfig, params["featurize"], "featurize")
    window = split.label_window_days

    result: dict = {"n_requests": n_requests}
    tables = {}
    for policy in ("disjoint", "shared"):
        prepared = label_and_split(kept, dataclasses.replace(split, recipients=policy))
        tables[policy] = feature_tables(
            prepared.requests, window, featurize.track_record_prior_weight
        )
        result[f"train_rows_{policy}"] = prepared.report["splits"]["train"]["rows"]
    result["featurize_seconds"] = _featurize_seconds(prepared.requests, tables["shared"][1])

    without = [g for g in GROUPS if g not in TRACK_RECORD_GROUPS]
    setups = {
        "a_disjoint": ("disjoint", without),
        "b_shared": ("shared", without),
        "c_shared_track_records": ("shared", list(GROUPS)),
    }
    setups["d_informed_by_latent_intent"] = ("shared", list(GROUPS))
    for name, (policy, groups) in setups.items():
        (split_tables, spec) = tables[policy]
        chosen = select(groups)
        matrices = {s: model_matrix(t, chosen, spec["category_levels"])
                    for s, t in split_tables.items()}  # fmt: skip
        if name == "d_informed_by_latent_intent":  # not a feature: how much the latent explains
            matrices = {s: _with_latent(m, split_tables[s], truth) for s, m in matrices.items()}
        X_te, y_te = matrices["test"]
        if name == "a_disjoint":  # every setup has the same test rows: one oracle of each
            oracles = split_tables["test"][["request_id"]].merge(truth, on="request_id", how="left")
            for oracle, column in ORACLES.items():
                p_true = oracles[column].to_numpy()
                result[oracle] = {
                    "test_roc_auc": roc_auc_score(y_te, p_true),
                    "test_pr_auc": average_precision_score(y_te, p_true),
                }
                print_row(oracle, result[oracle])
        categorical = [f.name for f in chosen if f.kind == "categorical"]
        if name == "d_informed_by_latent_intent":
            categorical += list(LATENT)
        fitters = model_fitters(params, matrices["train"], matrices["valid"], categorical)
        models = ["lightgbm"]
        if name == "c_shared_track_records":
            models += ["hist_gradient_boosting", "xgboost"]
        for model in models:
            row = seed_medians(fitters[model], X_te, y_te)
            row["auc_gap_to_oracle"] = result["oracle"]["test_roc_auc"] - row["test_roc_auc"]
            result[f"{name}/{model}"] = row
            print_row(f"{name}/{model}", row)
        assert len(y_te) == int(split_tables["test"][LABEL].size)
    return result


def _with_latent(matrix: tuple, table: pd.DataFrame, truth: pd.DataFrame) -> tuple:
    """A model matrix with the simulator's latent intent and sender type as codes."""
    X, y = matrix
    latent = table[["request_id"]].merge(truth, on="request_id", how="left")
    X = X.copy()
    for column in LATENT:
        X[column] = pd.Categorical(latent[column]).codes.astype(float)
    return X, y


def _featurize_seconds(requests: pd.DataFrame, spec: dict) -> dict:
    """build_features over every request, with and without the track records (medians of 3)."""
    from tiesignal.features.track_record import TrackRecordPrior

    prior = TrackRecordPrior(**spec["track_record_prior"])
    times = {"without_track_records": [], "with_track_records": []}
    for _ in range(3):
        for name, history in (("without_track_records", History()),
                              ("with_track_records", History(prior))):  # fmt: skip
            start = time.perf_counter()
            build_features(requests, history)
            times[name].append(time.perf_counter() - start)
    out = {name: sorted(t)[1] for name, t in times.items()}
    out["ratio"] = out["with_track_records"] / out["without_track_records"]
    print(f"featurize: {out}", flush=True)
    return out


def main(sizes: list[int]) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    results = {"date": time.strftime("%Y-%m-%d"), "sizes": []}
    out = ROOT / "benchmarks/results/learnable.json"
    for n in sizes:  # written after each size: a long run keeps what it measured
        results["sizes"].append(bench(n, params))
        out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [200_000])
