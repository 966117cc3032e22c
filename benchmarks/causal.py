"""Does the study's causal section find what the world holds, and what does it cost?

    .venv/bin/python benchmarks/causal.py [WORLD_SEEDS]   # default 3 seeds per world

Three worlds at the default size (200,000 requests), each with its own seeds (the default
seed, then the next ones), each running the default experiment (conf/worlds/default.yaml):
- `default`: a personal note raises the chance of an opportunity. Target: the IV interval
  covers the true effect on compliers of the same requests; the DML estimate's distance
  from the true average effect, and the confounder strength that would explain it.
- `no_note_effect` (conf/world/no_note_effect.yaml): notes change nothing, but senders
  with an opening still personalize more. Target: the IV interval covers 0, while the
  naive difference and the predictive importance of `personalization` (its leave-one-out
  interval) exclude 0.
- `harmful_notes` (conf/world/harmful_notes.yaml): a personal note lowers the chance of an
  opportunity, while senders with an opening still personalize more. Target: the report
  claims no direction from double ML unless its benchmarked bounds exclude 0, and never
  the wrong one.
The study runs as `compare` runs it (conf/study/, its own model, all groups, its seeds);
the causal section (with double ML's sensitivity benchmarked against each group) is timed
on its own: the target is at most 3 minutes on 2 cores.
Results: benchmarks/results/causal.json.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time

import pandas as pd

from models import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from conftest import composed  # noqa: E402

from tiesignal.config import FeaturizeConfig, PrepareConfig, StudyConfig, load, load_world
from tiesignal.features.build import feature_tables
from tiesignal.prepare import label_and_split
from tiesignal.schema import validate_requests
from tiesignal.simulate import TruthAccumulator, simulate_world, truth_summary
from tiesignal.study.report import conclusions
from tiesignal.study.run import Truth, causal_effects, run_study

WORLDS = ("default", "no_note_effect", "harmful_notes")
GROUP = "personalization"  # the registry group of the treatment's columns


def bench(world_name: str, seed: int) -> dict:
    p = composed(f"world={world_name}")
    world = dataclasses.replace(load_world(p["world"], ROOT), seed=seed)
    print(f"[causal] {world_name} world, seed {seed}: simulating", flush=True)
    acc, records, truths = TruthAccumulator(), [], []
    for r, t in simulate_world(world):
        records.append(r)
        truths.append(t)
        acc.add(t)
    raw = pd.concat(records, ignore_index=True)
    truth = Truth(pd.concat(truths, ignore_index=True), world, truth_summary(world, acc))
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    split = load(PrepareConfig, p["split"], "split")
    prior = load(FeaturizeConfig, p["featurize"], "featurize").track_record_prior_weight
    requests = label_and_split(kept, split).requests
    tables, spec = feature_tables(requests, split.label_window_days, prior)
    levels = spec["category_levels"]
    study = load(StudyConfig, p["study"], "study")

    start = time.perf_counter()
    result = run_study(study, study.model, tables, levels, None, lambda _: None)
    study_seconds = time.perf_counter() - start
    start = time.perf_counter()
    causal_effects(result, study, tables, levels,
                   requests[["request_id", "sender_id", "assignment"]],
                   p["data"]["assignment_arms"], truth, lambda _: None)  # fmt: skip
    causal_seconds = time.perf_counter() - start

    row = {"world": world_name, "seed": seed, "study_seconds": round(study_seconds, 1),
           "causal_seconds": round(causal_seconds, 1)}  # fmt: skip
    for e in result.causal:
        row[e.method] = {"value": e.value if e.finding else None, "low": e.low,
                         "high": e.high, "truth": e.truth, "covers_truth": e.covers_truth,
                         "covers_zero": e.low <= 0 <= e.high, **e.details}  # fmt: skip
        if e.strongest is not None:
            row[e.method]["benchmarked"] = [e.strongest.interval_low, e.strongest.interval_high]
    row["conclusions"] = conclusions({e.method: e for e in result.causal})
    loo = result.table.set_index("variant").loc[f"without_{GROUP}"]
    low, high = float(loo["delta_roc_auc_low"]), float(loo["delta_roc_auc_high"])
    row["leave_one_out"] = {"delta_roc_auc": float(loo["delta_roc_auc"]), "low": low,
                            "high": high, "covers_zero": low <= 0 <= high}  # fmt: skip
    shap = result.shap_groups.set_index("group")
    row["shap_share"] = float(shap.loc[GROUP, "share"])
    print(json.dumps(row), flush=True)
    return row


def share(rows: list[dict], test) -> str:
    return f"{sum(bool(test(r)) for r in rows)}/{len(rows)}"


def summarize(rows: list[dict]) -> dict:
    effect = [r for r in rows if r["world"] == "default"]
    none = [r for r in rows if r["world"] == "no_note_effect"]
    harm = [r for r in rows if r["world"] == "harmful_notes"]
    iv, dml = "instrumental_variables", "double_ml"
    return {
        "default": {
            "iv_covers_complier_effect": share(effect, lambda r: r[iv]["covers_truth"]),
            "iv_excludes_zero": share(effect, lambda r: not r[iv]["covers_zero"]),
            "itt_covers_truth": share(effect, lambda r: r["intention_to_treat"]["covers_truth"]),
            "dml_bias_points": [
                round(100 * (r[dml]["value"] - r[dml]["truth"]), 2) for r in effect
            ],  # fmt: skip
            "dml_confounder_explaining_bias": [
                round(r[dml]["to_truth_robustness_value"], 4) for r in effect
            ],  # fmt: skip
            "iv_detectable_effect_points": [
                round(100 * r[iv].get("detectable_effect", float("inf")), 2) for r in effect
            ],  # fmt: skip
            "complier_effect_points": [round(100 * r[iv]["truth"], 2) for r in effect],
        },
        "no_note_effect": {
            "iv_covers_zero": share(none, lambda r: r[iv]["covers_zero"]),
            "naive_excludes_zero": share(none, lambda r: not r["naive_difference"]["covers_zero"]),
            "leave_one_out_excludes_zero": share(
                none, lambda r: not r["leave_one_out"]["covers_zero"]
            ),  # fmt: skip
            "dml_excludes_zero": share(none, lambda r: not r[dml]["covers_zero"]),
        },
        "harmful_notes": {
            "true_ate_points": [round(100 * r[dml]["truth"], 2) for r in harm],
            "dml_points": [round(100 * r[dml]["value"], 2) for r in harm],
            "dml_excludes_zero": share(harm, lambda r: not r[dml]["covers_zero"]),
            # the claim the report makes: a direction only where the interval under the
            # strongest benchmark excludes 0
            "direction_claimed": share(harm, lambda r: "sign survives" in r["conclusions"][-1]),
            "wrong_direction_claimed": share(
                harm,
                lambda r: (
                    "raises P(label)" in r["conclusions"][-1]
                    and "sign survives" in r["conclusions"][-1]
                ),
            ),
        },
        "causal_seconds_median": statistics.median(r["causal_seconds"] for r in rows),
        "study_seconds_median": statistics.median(r["study_seconds"] for r in rows),
    }


def main(n_seeds: int) -> dict:
    base = load_world(composed()["world"], ROOT).seed
    rows = [bench(w, base + k) for k in range(n_seeds) for w in WORLDS]
    return {"summary": summarize(rows), "rows": rows}


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    out = ROOT / "benchmarks" / "results" / "causal.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
