"""Each source (`data.source`) into the canonical tables of `data/interim`, with its report.

These are the ingest stage's edges: each reads its source and writes `requests.parquet`
and `rejects.parquet` (and, for exports, `participants.csv`) into `out`, and the file and
row each request came from to `origins`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from tiesignal.config import ConfigError, DataConfig, PrepareConfig
from tiesignal.extract.keys import Pseudonymizer, key_fingerprint
from tiesignal.ingest.donations import ingest_donations
from tiesignal.ingest.exports import ingest_exports, rejects_frame
from tiesignal.ingest.pseudonym import load_salt
from tiesignal.ingest.table import ingest_table
from tiesignal.io import TableChunks, atomic_path, parquet_chunks, write_csv, write_parquet
from tiesignal.schema import NOTE_TEXT, origins_frame

SOURCES = ("simulated", "member_exports", "donations", "table")


def ingest_source(
    data: DataConfig,
    split: PrepareConfig,
    source: Path,
    out: Path,
    origins: Path,
    environ: Mapping[str, str],
    root: Path,
    progress: Callable[[str], None],
    chunk_rows: int,
) -> dict:
    """The source `data.source` names into `out`, and each request's file and row in it
    into `origins` (named as `data.path` names them); real sources need the secret salt
    (from `environ` or the salt file, never inside `root`). Returns the ingest report.
    Tables (simulated or not) stream through `chunk_rows` rows at a time."""
    if data.source not in SOURCES:
        raise ConfigError(f"data.source: {data.source!r} is not one of {SOURCES}")
    if data.source == "simulated":
        return ingest_simulated(source, data.path, out, origins, chunk_rows)
    salt = load_salt(environ, data.salt_env, data.salt_file, root)
    report = _ingest_real(data, split, source, out, origins, salt, progress, chunk_rows)
    # which salt keyed the ids, without revealing it: a changed salt changes every id
    return {**report, "salt_fingerprint": key_fingerprint(salt)}


def salt_warning(last: Mapping[str, str], data_key: str, report: dict) -> str | None:
    """One line when this run's salt differs from the last run's on the same data
    (`last`: data -> the fingerprint of the salt it was ingested with)."""
    before, now = last.get(data_key), report.get("salt_fingerprint")
    if before is None or now is None or before == now:
        return None
    return (f"the salt differs from the last run's on {data_key} (fingerprint {before} -> "
            f"{now}): every pseudonym changed; ids from the two runs cannot be joined")  # fmt: skip


def _ingest_real(
    data: DataConfig,
    split: PrepareConfig,
    source: Path,
    out: Path,
    origins: Path,
    salt: bytes,
    progress: Callable[[str], None],
    chunk_rows: int,
) -> dict:
    pseudonymize = Pseudonymizer(salt)
    if data.source == "donations":
        return ingest_donation_files(source, data, salt, out, origins, progress)
    if data.source == "member_exports":
        noted: Counter = Counter()  # kinds of note, digits left out, by exports that have them

        def on_export(done: int, total: int, export: dict) -> None:
            if export["status"] != "used" or export["problems"]:
                progress(f"{export['export']}: {export['status']} {export['problems']}")
            noted.update({re.sub(r"\d+", "N", n) for n in export["notes"].split("; ") if n})
            if done % 100 == 0 or done == total:
                progress(f"  {done} / {total} exports")
            if done == total:
                for note, exports in noted.most_common():
                    progress(f"  {exports} export(s): {note} (participants.csv, notes)")

        return ingest_member_exports(
            source, data, pseudonymize, split.label_window_days, out, origins, on_export
        )
    return ingest_canonical_table(
        source, data.path, split, data.observed_until, pseudonymize, out, origins, chunk_rows,
        on_chunk=lambda kept, bad: progress(f"  {kept} rows kept, {bad} rejected"),
        on_note=progress,
    )  # fmt: skip


def ingest_simulated(source: Path, name: str, out: Path, origins: Path, chunk_rows: int) -> dict:
    """The simulator's requests as they are: its `note_*` are computed already."""
    rows = 0
    with atomic_path(out / "requests.parquet") as tmp, atomic_path(origins) as origins_tmp:
        requests, came_from = TableChunks(tmp), TableChunks(origins_tmp)
        for chunk in parquet_chunks(source, chunk_rows, skip=(NOTE_TEXT,)):
            requests.write(chunk)
            came_from.write(origins_frame([name] * len(chunk), range(rows, rows + len(chunk))))
            rows += len(chunk)
        requests.close()
        came_from.close()
    write_parquet(rejects_frame([]), out / "rejects.parquet")
    return {"source": "simulated", "requests": rows}


def ingest_member_exports(
    folder: Path,
    cfg: DataConfig,
    pseudonymize: Pseudonymizer,
    label_window_days: int,
    out: Path,
    origins: Path,
    on_export: Callable[[int, int, dict], None],
) -> dict:
    result = ingest_exports(folder, cfg, pseudonymize, label_window_days, on_export=on_export)
    write_parquet(result.requests, out / "requests.parquet")
    write_parquet(result.origins, origins)
    write_parquet(result.rejects, out / "rejects.parquet")
    write_csv(result.participants, out / "participants.csv")
    exports = result.participants
    return {
        "source": "member_exports",
        "exports": len(exports),
        "exports_by_status": exports["status"].value_counts().sort_index().to_dict(),
        "ignored_entries": len(result.ignored),
        "requests_rejected": int(exports["requests_rejected"].sum()),
        # requests a newer export of the same participant also held: counted once
        "requests_superseded": int(exports["requests_superseded"].sum()),
        "bad_rows": int(exports["bad_rows"].sum()),
        "messages_spam": int(exports["messages_spam"].sum()),
        "messages_draft": int(exports["messages_draft"].sum()),
        "rejects_by_reason": result.rejects["reject_reason"].value_counts().sort_index().to_dict(),
        **outcome_counts(result.requests),
        "labels_by_rule": {
            c.removeprefix("rule_"): int(exports[c].sum())
            for c in sorted(exports)
            if c.startswith("rule_")
        },
    }


def ingest_donation_files(
    folder: Path,
    cfg: DataConfig,
    salt: bytes,
    out: Path,
    origins: Path,
    progress: Callable[[str], None],
) -> dict:
    requests, came_from, rejects, files = ingest_donations(folder, cfg, salt, progress)
    write_parquet(requests, out / "requests.parquet")
    write_parquet(came_from, origins)
    write_parquet(rejects_frame(rejects), out / "rejects.parquet")
    write_csv(files, out / "participants.csv")
    for _, bad in files[files["status"] != "used"].iterrows():
        progress(f"{bad['file']}: {bad['status']} {bad['problems']}")
    used = files[files["status"] == "used"]
    return {
        "source": "donations",
        "donations": len(files),
        "donations_by_status": files["status"].value_counts().sort_index().to_dict(),
        "rows_removed_by_participants": int(used["rows_removed"].sum()) if len(used) else 0,
        **outcome_counts(requests),
    }


def outcome_counts(requests) -> dict:
    """The table's own counts (a request two exports held is one request)."""
    if requests.empty:
        return dict.fromkeys(("requests", "accepted", "labelled", "unclear", "opportunities"), 0)
    return {
        "requests": len(requests),
        "accepted": int(requests["accepted"].sum()),
        "labelled": int(requests["opportunity"].notna().sum()),
        "unclear": int(requests["opportunity_unclear"].sum()),
        "opportunities": int(requests["opportunity"].fillna(False).sum()),
    }


def ingest_canonical_table(
    path: Path,
    name: str,
    split: PrepareConfig,
    observed_until: str,
    pseudonymize: Pseudonymizer,
    out: Path,
    origins: Path,
    chunk_rows: int,
    on_chunk: Callable[[int, int], None],
    on_note: Callable[[str], None],
) -> dict:
    """A CSV or Parquet table in the canonical schema, chunk by chunk."""
    rows = rejected = 0
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        on_note(text)

    with (
        atomic_path(out / "requests.parquet") as kept_tmp,
        atomic_path(out / "rejects.parquet") as rejects_tmp,
        atomic_path(origins) as origins_tmp,
    ):
        kept_out, rejects_out = TableChunks(kept_tmp), TableChunks(rejects_tmp)
        came_from = TableChunks(origins_tmp)
        for kept, rejects in ingest_table(
            path, pseudonymize, split.min_sent_at, split.max_sent_at, chunk_rows,
            on_note=note, observed_until=observed_until,
        ):  # fmt: skip
            kept_out.write(kept)
            rejects_out.write(rejects)
            read = np.arange(rows + rejected, rows + rejected + len(kept) + len(rejects))
            kept_rows = np.setdiff1d(read, rejects["reject_row"].to_numpy(), assume_unique=True)
            came_from.write(origins_frame([name] * len(kept), kept_rows))
            rows, rejected = rows + len(kept), rejected + len(rejects)
            on_chunk(rows, rejected)
        for table in (kept_out, rejects_out, came_from):
            table.close()
    return {"source": "table", "requests": rows, "rows_rejected": rejected, "notes": notes}
