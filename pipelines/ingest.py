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
from tiesignal.ingest.sources import ingest_source, salt_warning
from tiesignal.io import read_json, write_json
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
        cfg.data, cfg.split, source, paths.interim, paths.origins, os.environ, paths.root,
        log.info, cfg.compute.chunk_rows,
    )  # fmt: skip
    write_json(report, paths.ingest_report)
    _remember_salt(paths, f"{cfg.data.source}:{source}", report)
    if report["requests"] == 0:
        raise InputError(f"{cfg.data.path}: no usable requests (see {paths.ingest_report})")
    return report


def _remember_salt(paths: Paths, data_key: str, report: dict) -> None:
    """Warn when the salt changed since the last run on this data; remember this one's
    fingerprint (in the git-ignored .tiesignal/, which outlives DVC's removal of outputs)."""
    if "salt_fingerprint" not in report:
        return
    memory = paths.root / ".tiesignal" / "salt_fingerprints.json"
    last = read_json(memory) if memory.exists() else {}
    warning = salt_warning(last, data_key, report)
    if warning:
        log.warning(warning)
    write_json({**last, data_key: report["salt_fingerprint"]}, memory)


if __name__ == "__main__":
    main(run)
