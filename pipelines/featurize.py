"""Stage `featurize`: observable fields -> every registry feature, per split.

The prepared requests stream through in parts, in time order (`compute.chunk_rows` rows
here, a row group on a Dask cluster). This stage carries the history over the few columns
it reads, part by part, and each part's features are built from the history at its start
wherever the executor runs it: the same bytes either way."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass

import pandas as pd
import pyarrow.compute as pc
from _stage import Paths, main

from tiesignal.compute import executor
from tiesignal.config import ComputeConfig, FeaturizeConfig, PrepareConfig
from tiesignal.features.build import (
    HISTORY_COLUMNS,
    PRIOR_COLUMNS,
    FeatureTables,
    History,
    tables_from,
    track_record_prior,
)
from tiesignal.io import (
    TableChunks,
    atomic_path,
    parquet_rows,
    read_parquet,
    write_json,
)
from tiesignal.schema import LABEL, SPLITS

log = logging.getLogger("tiesignal.featurize")


@dataclass(frozen=True)
class Params:
    """Every registry feature is built; `features` picks later."""

    featurize: FeaturizeConfig
    split: PrepareConfig  # only its label window, as dvc.yaml declares: when outcomes are known
    compute: ComputeConfig  # kind, workers and chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict[str, int]:
    """Returns the rows per split."""
    source = paths.prepared / "requests.parquet"
    total = parquet_rows(source)
    log.info("building features for %d requests", total)
    prior = track_record_prior(
        read_parquet(source, columns=PRIOR_COLUMNS),
        cfg.split.label_window_days,
        cfg.featurize.track_record_prior_weight,
    )
    builder = FeatureTables(prior)

    def history_at_start(keys: pd.DataFrame) -> tuple[History]:
        return (builder.history.advance(keys),)

    rows = dict.fromkeys(SPLITS, 0)
    positives = dict.fromkeys(SPLITS, 0)
    with ExitStack() as stack:
        outs = {s: TableChunks(stack.enter_context(atomic_path(paths.features / f"{s}.parquet")))
                for s in SPLITS}  # fmt: skip
        runner = stack.enter_context(executor(cfg.compute))
        parts = runner.parts(source, tables_from, (builder.prior,), history_at_start,
                             HISTORY_COLUMNS)  # fmt: skip
        done = 0
        for requests, tables, categories in parts:
            builder.categories.append(categories)
            for split, table in tables.items():
                outs[split].write(table)
                rows[split] += table.num_rows
                positives[split] += int(pc.sum(table[LABEL]).as_py() or 0)
            done += requests
            log.info("  %d of %d requests done", done, total)
        for out in outs.values():
            out.close()
    for split in SPLITS:
        log.info("  %s: %d rows, %d positives", split, rows[split], positives[split])
    write_json(builder.spec(), paths.feature_spec)
    return rows


if __name__ == "__main__":
    main(run)
