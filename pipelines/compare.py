"""Stage `compare`: the feature-group study, its report, and its MLflow parent/child runs."""

from __future__ import annotations

import pandas as pd
from _stage import ROOT, Timer, logger, params, run, section, simulated

from tiesignal.config import ModelConfig, StudyConfig, TrackingConfig, WorldConfig
from tiesignal.io import atomic_dir, file_sha256, read_json, read_parquet, write_json, write_parquet
from tiesignal.prepare import LABEL, SPLITS
from tiesignal.study.run import Truth, run_study, write_outputs
from tiesignal.study.runs import log_study

FEATURES = ROOT / "data" / "features"
TRUTH = ROOT / "data" / "raw" / "truth.parquet"
OUT = ROOT / "reports" / "compare"
METRICS = ROOT / "metrics" / "compare.json"
SCORES = ROOT / "data" / "compare" / "test_scores.parquet"


def main() -> None:
    log = logger("compare")
    all_params = params()
    study = section(StudyConfig, "study", all_params)
    model_cfg = section(ModelConfig, "model", all_params)
    tracking_cfg = section(TrackingConfig, "tracking", all_params)
    timer = Timer()
    spec = read_json(FEATURES / "feature_spec.json")
    tables = {s: read_parquet(FEATURES / f"{s}.parquet") for s in SPLITS}
    truth = None
    if simulated(all_params):  # the study is checked against the world's truth
        truth = Truth(
            read_parquet(TRUTH),
            section(WorldConfig, "world", all_params),
            read_json(TRUTH.with_suffix(".json")),
        )
    else:
        log.info("real data: no truth to check the study against; that section is skipped")
    n_models = len(study.seeds) * (1 + 7 * len(study.kinds))
    log.info("fitting %d models (%s; seeds %s)", n_models, ", ".join(study.kinds), study.seeds)
    result = run_study(study, model_cfg, tables, spec["category_levels"], truth, log.info)

    prepare = read_json(ROOT / "reports" / "prepare.json")
    context = {
        "source": ", ".join(f"{k} ({v:,} requests)" for k, v in prepare["sources"].items()),
        "label_window_days": prepare["label_window_days"],
        "rows": {s: len(tables[s]) for s in SPLITS},
    }
    with atomic_dir(OUT) as tmp:
        write_outputs(result, study, context, tmp)
    write_json({k: round(v, 6) for k, v in result.headline.items()}, METRICS)
    # every model's test scores, for analysis beyond the report (and a cached output, so a
    # fresh clone reruns the study and logs it to MLflow)
    scores = pd.DataFrame({"request_id": tables["test"]["request_id"], LABEL: result.y_test == 1})
    for fit in result.fits:
        scores[f"{fit.variant.name}_seed{fit.seed}"] = fit.test_scores
    write_parquet(scores, SCORES)
    for line in (OUT / "summary.md").read_text(encoding="utf-8").splitlines():
        log.info("%s", line)
    data_hash = "".join(file_sha256(FEATURES / f"{s}.parquet")[:16] for s in SPLITS)
    parent = log_study(
        tracking_cfg, ROOT, study.name, result.fits, result.y_test,
        {"study": all_params["study"], "model": all_params["model"]},
        result.headline, data_hash, OUT,
    )  # fmt: skip
    log.info(
        "MLflow parent run %s; report %s (%s)", parent, (OUT / "report.md").relative_to(ROOT), timer
    )


if __name__ == "__main__":
    run("compare", main)
