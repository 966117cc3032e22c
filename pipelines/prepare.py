"""Stage `prepare`: validate against the canonical schema, quarantine, censor, split.

The table streams through in `compute.chunk_rows` chunks: only the columns that labelling
and splitting read are held whole; the kept rows wait in a scratch file and are written
in time order by an external sort. Under compute=dask the Dask workers validate the
file's row groups side by side, with the duplicates this stage finds beforehand over the
request ids, and write each row group's kept rows to scratch themselves: the same bytes
either way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _stage import Paths, main

from tiesignal.cluster import dask_client, row_groups_on_cluster
from tiesignal.config import ComputeConfig, DataConfig, PrepareConfig, TargetConfig
from tiesignal.io import (
    TableChunks,
    parquet_chunks,
    parquet_columns,
    parquet_row_groups,
    parquet_rows,
    read_row_group,
    scratch_dir,
    write_in_order,
    write_json,
    write_parquet,
)
from tiesignal.prepare import (
    KEPT_ROW,
    AllRejected,
    added_columns,
    prepare_chunks,
    validate_and_set_aside,
    validated_chunks,
)
from tiesignal.schema import EarlierRows, FoundDuplicates, Validated, request_ids

log = logging.getLogger("tiesignal.prepare")


@dataclass(frozen=True)
class Params:
    split: PrepareConfig
    target: TargetConfig
    data: DataConfig  # only data.assignment_arms, as dvc.yaml declares
    compute: ComputeConfig  # kind, workers and chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict:
    """Returns the prepare report (also reports/prepare.json)."""
    source = paths.interim / "requests.parquet"
    file = str(source.relative_to(paths.root))
    total = parquet_rows(source)
    log.info("validating %d rows of %s", total, file)
    arms = tuple(cfg.data.assignment_arms.values())
    with ExitStack() as stack:
        scratch = stack.enter_context(scratch_dir(paths.prepared))
        if cfg.compute.kind == "dask":  # the workers write the kept rows, a file per row group
            client = stack.enter_context(dask_client(cfg.compute))
            kept = [scratch / f"kept.{g}.parquet" for g in range(parquet_row_groups(source))]
            validated = validated_on_cluster(client, source.resolve(), file, cfg.split, arms, kept)
            spool = None
        else:
            spool = TableChunks(scratch / "kept.parquet", spool=True)
            kept = [spool.path]
            chunks = parquet_chunks(source, cfg.compute.chunk_rows)
            validated = validated_chunks(chunks, file, cfg.split, arms)
        try:
            prepared = prepare_chunks(
                _progress(validated, total), file, cfg.split, cfg.target.name,
                keep=spool.write if spool else lambda labelling_columns: None,
            )  # fmt: skip
        except AllRejected as err:  # the rejects are written even when nothing is kept
            write_parquet(err.rejects, paths.prepared / "rejects.parquet")
            raise
        finally:
            if spool:
                spool.close()
        write_parquet(prepared.rejects, paths.prepared / "rejects.parquet")
        labelled = prepared.requests
        log.info("writing %d kept rows in time order", len(labelled))
        write_in_order(
            kept, labelled[KEPT_ROW].to_numpy(), labelled[added_columns(labelled)],
            paths.prepared / "requests.parquet", cfg.compute.chunk_rows,
        )  # fmt: skip
    write_json(prepared.report, paths.prepare_report)
    r = prepared.report
    splits = ", ".join(f"{s} {v['rows']}" for s, v in r["splits"].items())
    log.info("kept %d, rejected %d; %s; excluded %s", r["rows_kept"], r["rows_rejected"], splits,
             r["excluded"])  # fmt: skip
    return {k: r[k] for k in ("rows_in", "rows_kept", "rows_rejected")}


def validated_on_cluster(
    client,
    source: Path,
    file: str,
    cfg: PrepareConfig,
    arms: tuple[str, ...],
    kept: list[Path],
) -> Iterator[Validated]:
    """Each row group validated on the cluster's workers, in file order, with the
    duplicates this process finds beforehand over the request ids alone; each row group's
    kept rows go to its file of `kept` (where the workers can write)."""
    has_ids = "request_id" in parquet_columns(source)  # else the workers say it is missing

    def duplicates() -> Iterator[tuple]:
        earlier = EarlierRows()
        for group in range(parquet_row_groups(source)):
            rows, first = earlier.rows, np.empty(0, dtype=np.int64)
            if has_ids:
                ids = request_ids(read_row_group(source, group, ["request_id"]))
                first = earlier.duplicates(ids)
            yield file, cfg, FoundDuplicates(rows, first), arms, kept[group]

    return row_groups_on_cluster(client, source, validate_and_set_aside, duplicates())


def _progress(validated: Iterator[Validated], total: int) -> Iterator[Validated]:
    done = 0
    for checked in validated:
        done += checked.rows
        log.info("  %d of %d rows validated", done, total)
        yield checked


if __name__ == "__main__":
    main(run)
