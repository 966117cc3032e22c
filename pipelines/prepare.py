"""Stage `prepare`: validate against the canonical schema, quarantine, censor, split.

The table streams through in `compute.chunk_rows` chunks: only the columns that labelling
and splitting read are held whole; the kept rows wait in a scratch file and are written
in time order by an external sort."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import ComputeConfig, DataConfig, PrepareConfig, TargetConfig
from tiesignal.io import (
    TableChunks,
    parquet_chunks,
    parquet_rows,
    scratch_dir,
    write_in_order,
    write_json,
    write_parquet,
)
from tiesignal.prepare import KEPT_ROW, AllRejected, added_columns, prepare_chunks

log = logging.getLogger("tiesignal.prepare")


@dataclass(frozen=True)
class Params:
    split: PrepareConfig
    target: TargetConfig
    data: DataConfig  # only data.assignment_arms, as dvc.yaml declares
    compute: ComputeConfig  # only compute.chunk_rows, as dvc.yaml declares


def run(cfg: Params, paths: Paths) -> dict:
    """Returns the prepare report (also reports/prepare.json)."""
    source = paths.interim / "requests.parquet"
    file = str(source.relative_to(paths.root))
    log.info("validating %d rows of %s", parquet_rows(source), file)
    chunks = parquet_chunks(source, cfg.compute.chunk_rows,
                            on_rows=lambda done: log.info("  %d rows validated", done))  # fmt: skip
    with scratch_dir(paths.prepared) as scratch:
        spool = TableChunks(scratch / "kept.parquet", spool=True)
        try:
            prepared = prepare_chunks(
                chunks, file, cfg.split, cfg.target.name,
                tuple(cfg.data.assignment_arms.values()), keep=spool.write,
            )  # fmt: skip
        except AllRejected as err:  # the rejects are written even when nothing is kept
            write_parquet(err.rejects, paths.prepared / "rejects.parquet")
            raise
        finally:
            spool.close()
        write_parquet(prepared.rejects, paths.prepared / "rejects.parquet")
        labelled = prepared.requests
        log.info("writing %d kept rows in time order", len(labelled))
        write_in_order(
            spool.path, labelled[KEPT_ROW].to_numpy(), labelled[added_columns(labelled)],
            paths.prepared / "requests.parquet", cfg.compute.chunk_rows,
        )  # fmt: skip
    write_json(prepared.report, paths.prepare_report)
    r = prepared.report
    splits = ", ".join(f"{s} {v['rows']}" for s, v in r["splits"].items())
    log.info("kept %d, rejected %d; %s; excluded %s", r["rows_kept"], r["rows_rejected"], splits,
             r["excluded"])  # fmt: skip
    return {k: r[k] for k in ("rows_in", "rows_kept", "rows_rejected")}


if __name__ == "__main__":
    main(run)
