"""How often does the study's 95% interval for a group with no effect contain 0?

    .venv/bin/python benchmarks/coverage.py [WORLDS]   # default 20 worlds

Each world is a small simulated world (14k requests, its own seed) in which one group has
no effect at all: timing (no market cycle, no weekday or hour effect) or tie strength (no
bump, no acceptance effect, no pull of connection-seekers). The study runs as configured
(3 seeds, each refitting on a resample of the training rows, leave-one-group-out) and the
script counts the intervals of that group's change in test ROC-AUC that contain 0, with
with each seed refitting on a resample of the training rows and with new seeds only, side
by side. It also counts, in the same runs, how often the interval of industry overlap
(a group that matters in every world) excludes 0: the power the intervals keep.
Results go to results/coverage.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import composed  # noqa: E402
from test_study import model_config, study_config, study_inputs, world  # noqa: E402

from tiesignal.config import PrepareConfig, load  # noqa: E402
from tiesignal.study.run import run_study  # noqa: E402

NULL_GROUPS = {
    "timing": {"opportunity.market_amplitude": 0.0, "acceptance.weekend": 0.0,
               "acceptance.business_hours": 0.0},
    "tie_strength": {"opportunity.tie_strength.height": 0.0,
                     "opportunity.tie_strength.digital_height": 0.0,
                     "acceptance.mutual_log1p": 0.0,
                     "outreach.connections_intent_mutual_boost": 1.0},
}  # fmt: skip


def main(n_worlds: int) -> dict:
    split = load(PrepareConfig, composed()["split"], "split")
    rows = []
    for seed in range(1, n_worlds + 1):
        for group, changes in NULL_GROUPS.items():
            cfg = dataclasses.replace(world(**changes), seed=seed)
            tables, levels, truth = study_inputs(cfg, split)
            for refit in (True, False):
                study = study_config(kinds=["without"], seeds=[1, 2, 3], resample_training=refit,
                                     bootstrap_resamples=200)  # fmt: skip
                start = time.perf_counter()
                result = run_study(study, model_config(), tables, levels, None, lambda _: None)
                table = result.table.set_index("variant")
                r = table.loc[f"without_{group}"]
                low, high = float(r["delta_roc_auc_low"]), float(r["delta_roc_auc_high"])
                rows.append({"world_seed": seed, "group": group, "resample_training": refit,
                             "delta": float(r["delta_roc_auc"]), "low": low, "high": high,
                             "covers_zero": bool(low <= 0 <= high),
                             "informative_excludes_zero": bool(
                                 table.loc["without_industry_overlap", "delta_roc_auc_high"] < 0),
                             "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
                print(rows[-1], flush=True)
    summary = {}
    for refit in (True, False):
        mine = [r for r in rows if r["resample_training"] == refit]
        summary["refit_on_resampled_training" if refit else "refit_with_new_seeds_only"] = {
            "intervals": len(mine),
            "coverage_of_zero": sum(r["covers_zero"] for r in mine) / len(mine),
            "power_industry_overlap": sum(r["informative_excludes_zero"] for r in mine) / len(mine),
            "median_width": sorted(r["high"] - r["low"] for r in mine)[len(mine) // 2],
        }
    return {"summary": summary, "rows": rows}


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    out = ROOT / "benchmarks" / "results" / "coverage.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
