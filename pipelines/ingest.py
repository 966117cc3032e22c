"""Stage `ingest`: the chosen source (`data=...`) as the canonical request table.

Real sources leave here pseudonymized: no names, emails, profile URLs or message text in
`data/interim`, the reports or the logs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import ComputeConfig, DataConfig, PrepareConfig
from tiesignal.ingest.sources import ingest_source
from tiesignal.io import write_json
from tiesignal.schema import InputError

log = logging.getLogger("tiesignal.ingest")


@dataclass(frozen=True)
class Params:
    data: DataConfig
    split: PrepareConfig  # min_sent_at, max_sent_at and label_window_days, as dvc.yaml declares
    compute: ComputeConfig  # only compute.chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict:
    """Returns the ingest report (also reports/ingest.json)."""
    source = paths.source(cfg.data.path)
    report = ingest_source(
        cfg.data, cfg.split, source, paths.interim, os.environ, paths.root, log.info,
        cfg.compute.chunk_rows,
    )  # fmt: skip
    write_json(report, paths.ingest_report)
    if report["requests"] == 0:
        raise InputError(f"{cfg.data.path}: no usable requests (see {paths.ingest_report})")
    return report


if __name__ == "__main__":
    main(run)
