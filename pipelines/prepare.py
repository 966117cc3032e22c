"""Stage `prepare`: validate against the canonical schema, quarantine, censor, split."""

from __future__ import annotations

from _stage import ROOT, Timer, logger, run, section

from tiesignal.config import PrepareConfig
from tiesignal.io import read_parquet, write_json, write_parquet
from tiesignal.prepare import label_and_split
from tiesignal.schema import InputError, validate_requests

SOURCE = ROOT / "data" / "interim" / "requests.parquet"
OUT = ROOT / "data" / "prepared"


def main() -> None:
    log = logger("prepare")
    cfg = section(PrepareConfig, "split")
    timer = Timer()
    raw = read_parquet(SOURCE)
    log.info("validating %d rows of %s", len(raw), SOURCE.relative_to(ROOT))
    checked = validate_requests(
        raw, str(SOURCE.relative_to(ROOT)), cfg.min_sent_at, cfg.max_sent_at
    )
    write_parquet(checked.rejects, OUT / "rejects.parquet")  # complete even if we stop here
    if checked.kept.empty:
        top = checked.rejects.groupby(["reject_column"]).size().nlargest(3)
        raise InputError(
            f"{SOURCE.relative_to(ROOT)}: all {len(raw)} rows rejected "
            "(see data/prepared/rejects.parquet); "
            f"most often in column(s) {', '.join(f'{c} ({n} rows)' for c, n in top.items())}"
        )
    prepared = label_and_split(checked.kept, cfg)
    requests = prepared.requests.drop(columns=["note"])  # no text: `ingest` kept only note_*
    report = {
        "rows_in": len(raw),
        "rows_kept": len(requests),
        "rows_rejected": len(checked.rejects),
        "rejected_by_column": checked.rejects["reject_column"]
        .value_counts()
        .sort_index()
        .to_dict(),
        **prepared.report,
    }
    assert report["rows_in"] == report["rows_kept"] + report["rows_rejected"]
    write_parquet(requests, OUT / "requests.parquet")
    write_json(report, ROOT / "reports" / "prepare.json")
    splits = report["splits"]
    log.info(
        "kept %d, rejected %d; train %d, valid %d, test %d; excluded %s (%s)",
        report["rows_kept"],
        report["rows_rejected"],
        splits["train"]["rows"],
        splits["valid"]["rows"],
        splits["test"]["rows"],
        report["excluded"],
        timer,
    )


if __name__ == "__main__":
    run("prepare", main)
