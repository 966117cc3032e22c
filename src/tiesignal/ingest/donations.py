"""Donation files as canonical requests: checked, re-keyed with the secret salt, merged.

A file that is foreign, truncated, edited or another study's is one problem of its own;
the others still count. A participant who donated twice is counted once, from the
donation they consented to last.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tiesignal.config import DataConfig
from tiesignal.extract.donation import DonationError, checked, rekeyed, rows_of
from tiesignal.extract.files import clean
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.extract.participant import ORIGIN, row_counts
from tiesignal.ingest.exports import origins_of, requests_frame


def ingest_donations(folder: Path, data: DataConfig, salt: bytes, progress) -> tuple:
    """(requests, each request's file and row, rejects as (file, row, column, reason), one
    report row per file). A donation's rows are numbered from 1, as its checks number them."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: donations folder does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
    if not files:
        raise FileNotFoundError(f"{folder}: no donation files (*.json) in it")
    rekey = Pseudonymizer(salt)
    limit = data.donation.max_body_mb << 20
    reports, rejects, by_participant = [], [], {}
    for i, path in enumerate(files, start=1):
        report = {"file": path.name, "status": "used", "problems": ""}
        try:
            if path.stat().st_size > limit:
                raise DonationError(f"larger than data.donation.max_body_mb ({limit >> 20} MB)")
            try:
                body = json.loads(path.read_bytes())
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise DonationError(f"not JSON (truncated?): {clean(err, 80)}") from err
            body = checked(body, data, salt)
        except DonationError as err:
            report.update(status="not used", problems=str(err))
            rejects.append((path.name, 0, "(file)", str(err)))
            reports.append(report)
            continue
        rows = [{**row, ORIGIN: (path.name, n)} for n, row in enumerate(rows_of(body), start=1)]
        if body["keyed"] == "public":
            rows = rekeyed(rows, rekey)
        participant = rows[0]["recipient_id"] if rows else f"(empty) {path.name}"
        report.update(
            participant_id=rows[0]["recipient_id"] if rows else None,
            keyed=body["keyed"],
            consented_at=body["consented_at"],
            rows_extracted=body.get("rows_extracted"),
            rows_removed=body["rows_removed"],
            **row_counts(rows),
            observed_until=f"{rows[0]['observed_until']:%Y-%m-%d %H:%M}" if rows else None,
        )
        earlier = by_participant.get(participant)
        if earlier is not None:  # the donation consented to last is the participant's
            older, newer = sorted([earlier, (report, rows)], key=lambda d: d[0]["consented_at"])
            older[0].update(status=f"superseded by {newer[0]['file']}")
            by_participant[participant] = newer
        else:
            by_participant[participant] = (report, rows)
        reports.append(report)
        if i % 100 == 0 or i == len(files):
            progress(f"  {i} / {len(files)} donations")
    rows = [row for _, kept in by_participant.values() for row in kept]
    rows.sort(key=lambda r: (r["sent_at"], r["request_id"]))
    return requests_frame(rows), origins_of(rows), rejects, pd.DataFrame(reports)
