"""Stage `compare`: the feature-group study, its report, and its MLflow parent/child runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal import tracking
from tiesignal.compute import executor
from tiesignal.config import (
    ComputeConfig,
    DataConfig,
    EvaluateConfig,
    StudyConfig,
    TrackingConfig,
    WorldConfig,
    load,
)
from tiesignal.io import atomic_dir, read_json, read_parquet, write_json, write_parquet
from tiesignal.schema import SPLITS
from tiesignal.study.report import run_description
from tiesignal.study.run import (
    Truth,
    causal_effects,
    compared,
    report_context,
    run_study,
    test_scores,
    write_outputs,
)
from tiesignal.study.truth import world_digest

log = logging.getLogger("tiesignal.compare")


@dataclass(frozen=True)
class Params:
    data: DataConfig  # only data.source (is there a truth?) and data.assignment_arms
    study: StudyConfig
    tracking: TrackingConfig
    compute: ComputeConfig  # where the study's fits run (the same bytes wherever)
    evaluate: EvaluateConfig  # the drift check, on the study's own model


def run(cfg: Params, paths: Paths) -> str:
    """Returns the MLflow parent run's id."""
    tracking.connect(cfg.tracking, paths.root)  # fails in seconds if it cannot log
    files = {s: paths.features / f"{s}.parquet" for s in SPLITS}
    tables = {s: read_parquet(f) for s, f in files.items()}
    prepared = read_json(paths.prepare_report)
    truth = None
    if cfg.data.source != "simulated":
        log.info("real data: no truth to check the study against; that section is skipped")
    elif prepared["target"] != "opportunity":  # the truth's group effects are opportunity's
        log.info("target %s: the truth is checked for the opportunity target only; that "
                 "section is skipped", prepared["target"])  # fmt: skip
    else:
        summary = read_json(paths.truth_summary)  # holds the world that made the data
        world = load(WorldConfig, summary["coefficients"], f"{paths.truth_summary}: coefficients")
        truth = Truth(read_parquet(paths.truth), world, summary, learnable_ranking(world, paths))
    levels = read_json(paths.feature_spec)["category_levels"]
    with executor(cfg.compute) as runner:
        periods = cfg.evaluate if prepared["split_method"] == "time" else None
        result = run_study(cfg.study, cfg.study.model, tables, levels, truth, log.info,
                           paths.study_cache, runner, periods)  # fmt: skip
    requests = read_parquet(paths.prepared / "requests.parquet",
                            columns=["request_id", "sender_id", "assignment"])  # fmt: skip
    causal_effects(result, cfg.study, tables, levels, requests, cfg.data.assignment_arms, truth,
                   log.info)  # fmt: skip
    context = report_context(prepared, tables)
    with atomic_dir(paths.compare_report) as tmp:
        write_outputs(result, cfg.study, context, tmp)
        write_json({k: round(v, 6) for k, v in result.headline.items()},
                   tmp / paths.compare_figures.name)  # fmt: skip
    write_json(compared(result), paths.compare_metrics)
    write_parquet(test_scores(result, tables["test"]), paths.compare_scores)
    for line in (paths.compare_report / "summary.md").read_text(encoding="utf-8").splitlines():
        log.info("%s", line)
    return tracking.log_study(
        cfg.tracking, paths.root, cfg.study.name, result.fits, result.y_test,
        tracking.config_params(study=cfg.study), result.headline,
        files, paths.compare_report,
        result.table, truth.summary["coefficients"] if truth else None, result.causal,
        run_description(result, cfg.study),
    )  # fmt: skip


def learnable_ranking(world: WorldConfig, paths: Paths) -> dict[str, float] | None:
    """The same study's leave-one-out drops on a much larger sample of this world, where
    benchmarks/ranking_truth.py recorded them (by the world's digest), else None."""
    recorded = read_json(paths.ranking_truth) if paths.ranking_truth.exists() else {}
    entry = recorded.get(world_digest(world))
    if entry is None:
        log.info("no learnable ranking recorded for this world (benchmarks/ranking_truth.py)")
    return None if entry is None else entry["loo_drop"]


if __name__ == "__main__":
    main(run)
