"""Stage `ingest`: the chosen source (`data=...`) as the canonical request table.

Real sources leave here pseudonymized: no names, emails, profile URLs or message text in
`data/interim`, the reports or the logs.
"""

from __future__ import annotations

import os
from pathlib import Path

from _stage import ROOT, Timer, logger, run, section

from tiesignal.config import ConfigError, DataConfig, PrepareConfig
from tiesignal.ingest.exports import ingest_exports, rejects_frame
from tiesignal.ingest.pseudonym import Pseudonymizer, load_salt
from tiesignal.ingest.table import ingest_table
from tiesignal.io import (
    TableChunks,
    atomic_path,
    read_parquet,
    write_csv,
    write_json,
    write_parquet,
)
from tiesignal.schema import InputError

OUT = ROOT / "data" / "interim"
REPORT = ROOT / "reports" / "ingest.json"


def main() -> None:
    log = logger("ingest")
    cfg = section(DataConfig, "data")
    split = section(PrepareConfig, "split")
    source = Path(cfg.path).expanduser()
    source = source if source.is_absolute() else ROOT / source
    timer = Timer()
    if cfg.source == "simulated":
        requests = read_parquet(source, skip=("note",))  # note_* are computed already
        write_parquet(requests, OUT / "requests.parquet")
        write_parquet(rejects_frame([]), OUT / "rejects.parquet")
        write_json({"source": "simulated", "requests": len(requests)}, REPORT)
        log.info("simulated requests: %d (%s)", len(requests), timer)
        return
    if cfg.source not in ("member_exports", "table"):
        raise ConfigError(f"data.source: {cfg.source!r} is not simulated, member_exports or table")
    pseudonymize = Pseudonymizer(load_salt(os.environ, cfg.salt_env, cfg.salt_file, ROOT))
    if cfg.source == "member_exports":
        report = _member_exports(source, cfg, pseudonymize, log, timer)
    else:
        report = _table(source, split, pseudonymize, log, timer)
    write_json(report, REPORT)
    if report["requests"] == 0:
        raise InputError(f"{cfg.path}: no usable requests (see {REPORT.relative_to(ROOT)})")


def _member_exports(folder: Path, cfg: DataConfig, pseudonymize, log, timer) -> dict:
    def progress(done: int, total: int, export: dict) -> None:
        if export["status"] != "used" or export["problems"]:
            log.warning("%s: %s %s", export["export"], export["status"], export["problems"])
        if done % 100 == 0 or done == total:
            log.info("  %d / %d exports (%s)", done, total, timer)

    result = ingest_exports(folder, cfg, pseudonymize, on_export=progress)
    write_parquet(result.requests, OUT / "requests.parquet")
    write_parquet(result.rejects, OUT / "rejects.parquet")
    write_csv(result.participants, OUT / "participants.csv")
    exports = result.participants
    report = {
        "source": "member_exports",
        "exports": len(exports),
        "exports_by_status": exports["status"].value_counts().sort_index().to_dict(),
        "ignored_entries": len(result.ignored),
        "requests": len(result.requests),
        "requests_rejected": int(exports["requests_rejected"].sum()),
        "bad_rows": int(exports["bad_rows"].sum()),
        "rejects_by_reason": result.rejects["reject_reason"]
        .str.replace(r"^\d+ requests: ", "", regex=True)
        .str.replace(r" \(.*", "", regex=True)
        .value_counts()
        .sort_index()
        .to_dict(),
        **{c: int(exports[c].sum()) for c in ("accepted", "labelled", "opportunities")},
        "labels_by_rule": {
            c.removeprefix("rule_"): int(exports[c].sum())
            for c in sorted(exports)
            if c.startswith("rule_")
        },
    }
    log.info(
        "%d exports -> %d requests (%d rejected, %d bad rows), %d labelled, %d opportunities; "
        "see data/interim/participants.csv (%s)",
        report["exports"], report["requests"], report["requests_rejected"], report["bad_rows"],
        report["labelled"], report["opportunities"], timer,
    )  # fmt: skip
    return report


def _table(path: Path, split: PrepareConfig, pseudonymize, log, timer) -> dict:
    rows = rejected = 0
    with (
        atomic_path(OUT / "requests.parquet") as kept_tmp,
        atomic_path(OUT / "rejects.parquet") as rejects_tmp,
    ):
        kept_out, rejects_out = TableChunks(kept_tmp), TableChunks(rejects_tmp)
        for kept, rejects in ingest_table(path, pseudonymize, split.min_sent_at, split.max_sent_at):
            kept_out.write(kept)
            rejects_out.write(rejects)
            rows, rejected = rows + len(kept), rejected + len(rejects)
            log.info("  %d rows kept, %d rejected (%s)", rows, rejected, timer)
        kept_out.close()
        rejects_out.close()
    return {"source": "table", "requests": rows, "rows_rejected": rejected}


if __name__ == "__main__":
    run("ingest", main)
