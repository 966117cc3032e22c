"""Stage `featurize`: observable fields -> every registry feature, per split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import FeaturizeConfig, PrepareConfig
from tiesignal.features.build import feature_tables
from tiesignal.io import read_parquet, write_json, write_parquet
from tiesignal.schema import LABEL


@dataclass(frozen=True)
class Params:
    """Every registry feature is built; `features` picks later."""

    featurize: FeaturizeConfig
    split: PrepareConfig  # only its label window, as dvc.yaml declares: when outcomes are known


def run(cfg: Params, paths: Paths) -> dict[str, int]:
    """Returns the rows per split."""
    log = logging.getLogger("tiesignal.featurize")
    requests = read_parquet(paths.prepared / "requests.parquet")
    log.info("building features for %d requests", len(requests))
    tables, spec = feature_tables(
        requests, cfg.split.label_window_days, cfg.featurize.track_record_prior_weight
    )
    for split, table in tables.items():
        write_parquet(table, paths.features / f"{split}.parquet")
        log.info("  %s: %d rows, %d positives", split, len(table), table[LABEL].sum())
    write_json(spec, paths.feature_spec)
    return {split: len(table) for split, table in tables.items()}


if __name__ == "__main__":
    main(run)
