"""Stage `featurize`: observable fields -> every registry feature, per split.

The prepared requests stream through in `compute.chunk_rows` chunks, in time order; the
history features carry from chunk to chunk. Under compute=dask the Dask workers build the
features of the file's row groups side by side, each from the history at its start, which
this stage carries over the few columns the history reads: the same bytes either way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from _stage import Paths, main

from tiesignal.cluster import dask_client, row_groups_on_cluster
from tiesignal.config import ComputeConfig, FeaturizeConfig, PrepareConfig
from tiesignal.features.build import (
    HISTORY_COLUMNS,
    PRIOR_COLUMNS,
    FeatureTables,
    tables_from,
    track_record_prior,
)
from tiesignal.io import (
    TableChunks,
    atomic_path,
    parquet_chunks,
    parquet_row_groups,
    parquet_rows,
    read_parquet,
    read_row_group,
    to_arrow,
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
    rows = dict.fromkeys(SPLITS, 0)
    positives = dict.fromkeys(SPLITS, 0)
    with ExitStack() as stack:
        outs = {s: TableChunks(stack.enter_context(atomic_path(paths.features / f"{s}.parquet")))
                for s in SPLITS}  # fmt: skip
        if cfg.compute.kind == "dask":
            client = stack.enter_context(dask_client(cfg.compute))
            chunks = tables_on_cluster(client, source.resolve(), builder)
        else:
            chunks = tables_here(source, cfg.compute.chunk_rows, builder)
        done = 0
        for requests, tables in chunks:
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


Tables = dict[str, pa.Table]  # a chunk's rows of each split, with their features


def tables_here(
    source: Path, chunk_rows: int, builder: FeatureTables
) -> Iterator[tuple[int, Tables]]:
    """Each chunk's size and tables, in time order, built in this process."""
    for chunk in parquet_chunks(source, chunk_rows):
        yield len(chunk), {split: to_arrow(t) for split, t in builder.add(chunk).items()}


def tables_on_cluster(client, source: Path, builder: FeatureTables) -> Iterator[tuple[int, Tables]]:
    """Each row group's size and tables, in time order, built on the cluster's workers
    from the history at the row group's start, which this process carries."""

    def starts() -> Iterator[tuple]:
        for group in range(parquet_row_groups(source)):
            keys = read_row_group(source, group, columns=HISTORY_COLUMNS)
            yield client.scatter(builder.history.advance(keys), hash=False), builder.prior

    built = row_groups_on_cluster(client, source, tables_from, starts())
    for requests, tables, categories in built:
        builder.categories.append(categories)
        yield requests, tables


if __name__ == "__main__":
    main(run)
