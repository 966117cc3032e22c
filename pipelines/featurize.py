"""Stage `featurize`: observable fields -> every registry feature, per split.

The prepared requests stream through in `compute.chunk_rows` chunks, in time order; the
history features carry from chunk to chunk."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import ComputeConfig, FeaturizeConfig, PrepareConfig
from tiesignal.features.build import PRIOR_COLUMNS, FeatureTables, track_record_prior
from tiesignal.io import (
    TableChunks,
    atomic_path,
    parquet_chunks,
    parquet_rows,
    read_parquet,
    write_json,
)
from tiesignal.schema import LABEL, SPLITS


@dataclass(frozen=True)
class Params:
    """Every registry feature is built; `features` picks later."""

    featurize: FeaturizeConfig
    split: PrepareConfig  # only its label window, as dvc.yaml declares: when outcomes are known
    compute: ComputeConfig  # only compute.chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict[str, int]:
    """Returns the rows per split."""
    log = logging.getLogger("tiesignal.featurize")
    source = paths.prepared / "requests.parquet"
    log.info("building features for %d requests", parquet_rows(source))
    prior = track_record_prior(
        read_parquet(source, columns=PRIOR_COLUMNS),
        cfg.split.label_window_days,
        cfg.featurize.track_record_prior_weight,
    )
    builder = FeatureTables(prior)
    rows = dict.fromkeys(SPLITS, 0)
    positives = dict.fromkeys(SPLITS, 0)
    with ExitStack() as files:
        outs = {s: TableChunks(files.enter_context(atomic_path(paths.features / f"{s}.parquet")))
                for s in SPLITS}  # fmt: skip
        progress = lambda done: log.info("  %d requests done", done)  # noqa: E731
        for chunk in parquet_chunks(source, cfg.compute.chunk_rows, on_rows=progress):
            for split, table in builder.add(chunk).items():
                outs[split].write(table)
                rows[split] += len(table)
                positives[split] += int(table[LABEL].sum())
        for out in outs.values():
            out.close()
    for split in SPLITS:
        log.info("  %s: %d rows, %d positives", split, rows[split], positives[split])
    write_json(builder.spec(), paths.feature_spec)
    return rows


if __name__ == "__main__":
    main(run)
