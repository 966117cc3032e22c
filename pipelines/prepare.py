"""Stage `prepare`: validate against the canonical schema, quarantine, censor, split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import DataConfig, PrepareConfig, TargetConfig
from tiesignal.io import read_parquet, write_json, write_parquet
from tiesignal.prepare import AllRejected, prepare_requests

log = logging.getLogger("tiesignal.prepare")


@dataclass(frozen=True)
class Params:
    split: PrepareConfig
    target: TargetConfig
    data: DataConfig  # only data.assignment_arms, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict:
    """Returns the prepare report (also reports/prepare.json)."""
    source = paths.interim / "requests.parquet"
    raw = read_parquet(source)
    log.info("validating %d rows of %s", len(raw), source.relative_to(paths.root))
    try:
        prepared = prepare_requests(
            raw, str(source.relative_to(paths.root)), cfg.split, cfg.target.name,
            tuple(cfg.data.assignment_arms.values()),
        )  # fmt: skip
    except AllRejected as err:  # the rejects are written even when nothing is kept
        write_parquet(err.rejects, paths.prepared / "rejects.parquet")
        raise
    write_parquet(prepared.rejects, paths.prepared / "rejects.parquet")
    write_parquet(prepared.requests, paths.prepared / "requests.parquet")
    write_json(prepared.report, paths.prepare_report)
    r = prepared.report
    splits = ", ".join(f"{s} {v['rows']}" for s, v in r["splits"].items())
    log.info("kept %d, rejected %d; %s; excluded %s", r["rows_kept"], r["rows_rejected"], splits,
             r["excluded"])  # fmt: skip
    return {k: r[k] for k in ("rows_in", "rows_kept", "rows_rejected")}


if __name__ == "__main__":
    main(run)
