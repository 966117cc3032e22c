"""A like-for-like yardstick for the study's ranking of feature groups: the same study on a
much larger sample of the same world.

    .venv/bin/python benchmarks/ranking_truth.py [SCALE]   # default 5: 5x requests, people

Where every group is confounded by the sender's intent, the causal ranking is no yardstick
for a predictive one. The learnable ranking is: what the same study (its model, seeds and
leave-one-group-out variants) finds when the same world (the same coefficients and seed)
has SCALE times the requests, members and senders. `compare` reports the default study's
Spearman correlation with it, with an interval over test requests, when the world's
coefficients match a recorded reference (by digest). Results:
benchmarks/results/ranking_truth.json (one entry per world digest; rerun after changing
the world's coefficients).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

from models import ROOT

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "pipelines"))
from _stage import Paths  # noqa: E402
from conftest import composed, simulate  # noqa: E402

from tiesignal.config import FeaturizeConfig, PrepareConfig, StudyConfig, load, load_world
from tiesignal.features.build import feature_tables
from tiesignal.prepare import label_and_split
from tiesignal.schema import validate_requests
from tiesignal.study.run import run_study
from tiesignal.study.truth import world_digest


def main(scale: int) -> dict:
    p = composed()
    world = load_world(p["world"], ROOT)
    large = dataclasses.replace(world, n_requests=world.n_requests * scale,
                                n_members=world.n_members * scale,
                                n_senders=world.n_senders * scale)  # fmt: skip
    started = time.perf_counter()
    print(f"[ranking] simulating {large.n_requests:,} requests", flush=True)
    records, _, _ = simulate(large)
    kept = validate_requests(records, "raw", "2000-01-01", "2100-01-01").kept
    del records
    split = load(PrepareConfig, p["split"], "split")
    prior = load(FeaturizeConfig, p["featurize"], "featurize").track_record_prior_weight
    tables, spec = feature_tables(label_and_split(kept, split).requests,
                                  split.label_window_days, prior)  # fmt: skip
    del kept
    study = dataclasses.replace(load(StudyConfig, p["study"], "study"), kinds=["without"])
    print(f"[ranking] the study on {len(tables['train']):,} training requests", flush=True)
    result = run_study(study, study.model, tables, spec["category_levels"], None,
                       lambda line: print(f"[ranking] {line}", flush=True))  # fmt: skip
    loo = result.table[result.table["kind"] == "without"]
    return {
        "scale": scale,
        "n_requests": large.n_requests,
        "test_requests": len(tables["test"]),
        "seeds": study.seeds,
        "full_test_roc_auc": round(float(result.headline["full_test_roc_auc"]), 6),
        # AUC lost without each group (positive: the group helps), as the study's table
        "loo_drop": {r.group: round(-float(r.delta_roc_auc), 6) for r in loo.itertuples()},
        "seconds": round(time.perf_counter() - started, 1),
    }, world_digest(world)


if __name__ == "__main__":
    entry, digest = main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    out = Paths(ROOT).ranking_truth
    recorded = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    recorded[digest] = entry
    out.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(entry, indent=1))
