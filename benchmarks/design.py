"""Is `tiesignal design`'s predicted power right, what do blocking and CUPED buy, and how
long does its default grid take?

    .venv/bin/python benchmarks/design.py [REPLICATES]   # default: the config's (40)

Runs the design tool on params.yaml's world and `design` grid (24 points, each analysed
plain and adjusted: 48 rows) and records:
- calibration: at how many (row, effect) pairs the predicted power lies within 2 Monte
  Carlo errors of the rejection rate of the simulated experiments (about 1 in 20 outside
  is chance), and the largest gap;
- at the world's own size (12 months, all senders, its uptake): the minimum detectable
  effect on compliers of each assignment and analysis, and the factor by which blocked
  assignment with CUPED lowers it against sender randomization analysed plainly;
- the wall time of the whole grid (target: 3 minutes on 2 cores).
Results: benchmarks/results/design.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

from models import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from conftest import composed  # noqa: E402

from tiesignal.config import DesignConfig, StudyConfig, load, load_world
from tiesignal.design import (
    at_reference,
    calibration,
    design_table,
    population,
    reference_point,
)


def main(replicates: int | None) -> dict:
    p = composed()
    world = load_world(p["world"], ROOT)
    design = load(DesignConfig, p["design"], "design")
    if replicates:
        design = dataclasses.replace(design, replicates=replicates)
    prior = load(StudyConfig, p["study"], "study").causal.pre_period_prior
    started = time.perf_counter()
    pop = population(world, design, prior, lambda line: print(f"[design] {line}", flush=True))
    table = design_table(pop, design, lambda line: print(f"[design] {line}", flush=True))
    seconds = time.perf_counter() - started
    within, total, worst = calibration(table, design.replicates)
    at = at_reference(table, design, world)
    mde = {f"{r.scheme}{'_cuped' if r.adjusted else ''}": round(100 * r.mde_late, 3)
           for r in at.itertuples()}  # fmt: skip
    return {
        "replicates": design.replicates,
        "design_points": len(table) // 2,
        "seconds": round(seconds, 1),
        "calibration_within_2_errors": f"{within}/{total}",
        "calibration_largest_gap_errors": round(worst, 2),
        "reference": reference_point(design, world),
        "true_complier_effect_points": round(100 * float(at["true_late"].iloc[0]), 3),
        "mde_complier_points": mde,
        "mde_factor_blocked_cuped_vs_sender": round(mde["sender"] / mde["blocked_cuped"], 3),
        "size_for_power": {
            f"{r.scheme}{'_cuped' if r.adjusted else ''}": round(r.size_for_power, 2)
            for r in at.itertuples()
        },  # fmt: skip
    }


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    out = ROOT / "benchmarks" / "results" / "design.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
