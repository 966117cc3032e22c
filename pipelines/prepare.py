"""Stage `prepare`: validate against the canonical schema, quarantine, censor, split.

The table streams through in parts (`compute.chunk_rows` rows here, a row group on a Dask
cluster): only the columns that labelling and splitting read are held whole; each part's
kept rows wait in a scratch file and are written in time order by an external sort. The
duplicates are found here over the request ids, part by part in file order, so each part
can be validated wherever the executor runs it: the same bytes either way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from _stage import Paths, main

from tiesignal.compute import executor
from tiesignal.config import ComputeConfig, DataConfig, PrepareConfig, TargetConfig
from tiesignal.io import (
    parquet_rows,
    read_parquet,
    scratch_dir,
    write_in_order,
    write_json,
    write_parquet,
)
from tiesignal.prepare import (
    KEPT_ROW,
    AllRejected,
    added_columns,
    duplicates_before,
    in_the_source,
    prepare_chunks,
    validate_and_set_aside,
)
from tiesignal.schema import (
    ORIGIN_COLUMNS,
    EarlierRows,
    FoundDuplicates,
    InputError,
    Validated,
)

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
    with scratch_dir(paths.prepared) as scratch, executor(cfg.compute) as runner:
        kept: list[Path] = []  # each part's kept rows, in file order, for the external sort
        earlier = EarlierRows()

        def before(ids: pd.DataFrame) -> tuple[FoundDuplicates, Path]:
            kept.append(scratch / f"kept.{len(kept)}.parquet")
            return duplicates_before(earlier, ids), kept[-1]

        validated = runner.parts(source, validate_and_set_aside, (file, cfg.split, arms),
                                 before, reads=["request_id"])  # fmt: skip
        try:
            prepared = prepare_chunks(_progress(validated, total), file, cfg.split,
                                      cfg.target.name)  # fmt: skip
        except AllRejected as err:  # the stage fails, its outputs as they were: the rejects
            kept = paths.logs / "prepare_rejects.parquet"  # go beside its logs
            write_parquet(_in_the_source(err.rejects, paths), kept)
            raise InputError(f"{err}: {kept.relative_to(paths.root)}") from None
        write_parquet(_in_the_source(prepared.rejects, paths), paths.prepared / "rejects.parquet")
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


def _in_the_source(rejects: pd.DataFrame, paths: Paths) -> pd.DataFrame:
    """The rejects named by the source's file and row (read only when there are some)."""
    if rejects.empty:
        return rejects
    origins = read_parquet(paths.origins, columns=list(ORIGIN_COLUMNS))
    rows = parquet_rows(paths.interim / "requests.parquet")
    if len(origins) != rows:
        raise InputError(f"{paths.origins.relative_to(paths.root)}: {len(origins)} rows for "
                         f"{rows} requests; run `dvc repro ingest`")  # fmt: skip
    return in_the_source(rejects, origins)


def _progress(validated: Iterator[Validated], total: int) -> Iterator[Validated]:
    done = 0
    for checked in validated:
        done += checked.rows
        log.info("  %d of %d rows validated", done, total)
        yield checked


if __name__ == "__main__":
    main(run)
