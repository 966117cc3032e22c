"""Member data exports as canonical requests: the researcher's side of the extraction core.

`tiesignal.extract` turns each participant's exports into rows (the same code the donation
page runs); this module finds the exports in a folder, groups them by participant, re-keys
the rows' pseudonyms with the study's secret salt and converts them to the canonical
columns. Only pseudonymous ids, times, profile fields and the note's `note_*` features
leave this module.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tiesignal.config import DataConfig
from tiesignal.extract.donation import public_pseudonyms, rekeyed
from tiesignal.extract.files import (
    ExportError,
    Found,
    clean,
    decode,
    find_exports,
    read_export,
)
from tiesignal.extract.keys import Pseudonymizer, name_key, profile_key
from tiesignal.extract.participant import (
    COLUMNS,
    ORIGIN,
    TIME_COLUMNS,
    Extracted,
    Settings,
    copies_among,
    extract_participant,
    parse_export,
    unusable,
)
from tiesignal.schema import origins_frame

LABELS_FILE = "labels.csv"
log = logging.getLogger(__name__)


@dataclass
class Ingested:
    requests: pd.DataFrame  # canonical columns, no raw text
    origins: pd.DataFrame  # each request's file and line (ORIGIN_COLUMNS)
    rejects: pd.DataFrame  # file, row (line), column, reason; no raw values
    participants: pd.DataFrame  # one row per export: files, rows, rejects, labels, problems
    ignored: list[str]  # entries of the folder that are not exports


def ingest_exports(
    folder: Path,
    cfg: DataConfig,
    rekey: Pseudonymizer,
    label_window_days: int,
    on_export: Callable[[int, int, dict], None] | None = None,
    now: datetime | None = None,
) -> Ingested:
    """Every export in `folder`, in either layout; one bad export never stops the others.
    A participant's several exports (their folder, or the same person's loose exports) are
    merged by the core; a second download (`... (1).zip`) is reported, not read twice; the
    same person in two participants' folders is used once. Pseudonyms: the study's public
    key, then `rekey` (the secret salt), as a donation's are."""
    settings = Settings.of(cfg, label_window_days, now or datetime.now(UTC))
    public = public_pseudonyms(cfg)
    found, ignored = find_exports(folder)
    if not found:
        raise FileNotFoundError(f"{folder}: no exports (zip files or folders) in it")
    labels, label_rejects = read_labels(folder / LABELS_FILE)
    ignored = [name for name in ignored if name != LABELS_FILE]

    def run(entries: list[Found]) -> _Group:
        return _Group(entries, *_extracted(entries, settings, public, labels))

    # one participant at a time, so that only their exports are in memory: a folder is a
    # participant; a loose export is one, until a later one turns out to be the same person
    folders: dict[str, list[Found]] = {}
    for entry in found:
        if entry.participant:
            folders.setdefault(entry.participant, []).append(entry)
    groups: dict[str, _Group] = {}  # group -> its result; loose ones keyed by first export
    owner: dict[str, str] = {}  # fingerprint -> the group that has that participant
    done = 0
    for entry in found:
        if entry.participant and folders[entry.participant][0] is not entry:
            continue  # a folder runs once, at its first export
        key = f"folder/{entry.participant}" if entry.participant else f"loose/{entry.name}"
        group = run(folders[entry.participant] if entry.participant else [entry])
        first = owner.get(group.fingerprint) if group.fingerprint else None
        if first is not None and first.startswith("loose/") and key.startswith("loose/"):
            key, group = first, run(groups[first].entries + [entry])  # the same person again
        elif first is not None:
            group.set_aside(f"same participant as {groups[first].entries[0].name}")
        elif group.fingerprint:
            owner[group.fingerprint] = key
        groups[key] = group
        new = group.reports if entry.participant else group.reports[-1:]  # this entry's
        for report in new:
            done += 1
            if on_export is not None:
                on_export(done, len(found), report)
    reports = {r["export"]: r for g in groups.values() for r in g.reports}  # the last run's
    rows = [row for g in groups.values() for row in rekeyed(g.result.rows, rekey)]
    return Ingested(
        requests=requests_frame(rows),
        origins=origins_of(rows),
        rejects=rejects_frame(label_rejects + [r for g in groups.values() for r in g.rejects]),
        participants=pd.DataFrame([reports[clean(entry.name)] for entry in found]),
        ignored=ignored,
    )


@dataclass
class _Group:
    """One participant's exports and what the core made of them."""

    entries: list[Found]
    result: Extracted
    reports: list[dict]  # one per entry, in order

    @property
    def fingerprint(self) -> str | None:
        return self.result.fingerprint

    @property
    def rejects(self) -> list:
        return self.result.rejects

    def set_aside(self, why: str) -> None:
        """Not used as a whole: each report says why, its requests count as rejected."""
        for report in self.reports:
            n = report["requests"] + report["requests_rejected"]
            report.update(unusable(report["export"], why), requests_rejected=n,
                          participant=report["participant"])  # fmt: skip
        self.result = Extracted([], [(f"{r['export']}/Invitations.csv", 0, "(export)", why)
                                     for r in self.reports], self.result.reports, None)  # fmt: skip


def _extracted(
    entries: list[Found], settings: Settings, public: Pseudonymizer, labels: dict
) -> tuple[Extracted, list[dict]]:
    """One participant's exports read and extracted; a copy or an unreadable export is
    reported, not read."""
    copies = copies_among([clean(e.name) for e in entries])
    parsed, reports = [], {}
    for entry in entries:
        name = clean(entry.name)
        try:
            export = dataclasses.replace(read_export(entry.path, settings.limits), name=name)
            p = parse_export(export, settings)
            if name in copies:  # not used; its requests counted
                n = len(p.invitations)
                reports[name] = unusable(name, f"a second copy of {copies[name]}")
                reports[name]["requests_rejected"] = n
            else:
                parsed.append(p)
        except ExportError as err:
            reports[name] = unusable(name, str(err))
        except Exception as err:  # noqa: BLE001 - whatever one export does, the others count
            log.debug("%s: not used", name, exc_info=True)
            reports[name] = unusable(name, f"not used: {type(err).__name__}: {clean(err)}")
    hand = {k: v for p in parsed for k, v in labels.get(p.export.name, {}).items()}
    result = extract_participant(parsed, settings, public, hand)
    for p in parsed:
        reports[p.export.name] = p.report
    ordered = [reports[clean(e.name)] for e in entries]
    for entry, report in zip(entries, ordered, strict=True):
        report["participant"] = entry.participant
    for name in copies:
        result.rejects.append((f"{name}/Invitations.csv", 0, "(export)",
                               f"a second copy of {copies[name]}"))  # fmt: skip
    return result, ordered


def requests_frame(rows: list[dict]) -> pd.DataFrame:
    """The core's rows as the canonical columns and types."""
    if not rows:
        return pd.DataFrame()
    column = {c: [r[c] for r in rows] for c in COLUMNS}
    times = {c: pd.Series(column[c], dtype="datetime64[us, UTC]") for c in TIME_COLUMNS}
    lists = pa.list_(pa.string())
    return pd.DataFrame(
        {
            "request_id": pd.array(column["request_id"], dtype="str"),
            "sent_at": times["sent_at"],
            "sender_id": pd.array(column["sender_id"], dtype="str"),
            "recipient_id": pd.array(column["recipient_id"], dtype="str"),
            "sender_headline": pd.array(column["sender_headline"], dtype="str"),
            "sender_industries": pd.Series(column["sender_industries"], dtype=pd.ArrowDtype(lists)),
            "recipient_industry": pd.array(column["recipient_industry"], dtype="str"),
            "recipient_seniority": pd.array(column["recipient_seniority"], dtype="str"),
            "recipient_skills": pd.Series(column["recipient_skills"], dtype=pd.ArrowDtype(lists)),
            "recipient_connections": pd.array(column["recipient_connections"], dtype="Int64"),
            "recipient_profile_completeness": np.asarray(
                column["recipient_profile_completeness"], dtype=float
            ),  # fmt: skip
            "accepted": np.asarray(column["accepted"], dtype=bool),
            "accepted_at": times["accepted_at"],
            "opportunity": pd.array(column["opportunity"], dtype="boolean"),
            "opportunity_at": times["opportunity_at"],
            "opportunity_unclear": np.asarray(column["opportunity_unclear"], dtype=bool),
            "source": pd.array(column["source"], dtype="str"),
            "note_length": np.asarray(column["note_length"], dtype="int32"),
            "note_mentions_name": np.asarray(column["note_mentions_name"], dtype=bool),
            "note_mentions_company": np.asarray(column["note_mentions_company"], dtype=bool),
            "note_skill_mentions": np.asarray(column["note_skill_mentions"], dtype="int16"),
            "note_template_id": pd.array(column["note_template_id"], dtype="str"),
            "observed_until": times["observed_until"],
        }
    )


def origins_of(rows: list[dict]) -> pd.DataFrame:
    """The file and line each of the core's rows was read from."""
    files, lines = zip(*(row[ORIGIN] for row in rows), strict=True) if rows else ((), ())
    return origins_frame(files, lines)


def rejects_frame(rows: list[tuple[str, int, str, str]]) -> pd.DataFrame:
    files, lines, columns, reasons = zip(*rows, strict=True) if rows else ((),) * 4
    return pd.DataFrame(
        {
            "reject_file": pd.array(files, dtype="str"),
            "reject_row": np.asarray(lines, dtype=np.int64),
            "reject_column": pd.array(columns, dtype="str"),
            "reject_reason": pd.array(reasons, dtype="str"),
        }
    )


def read_labels(path: Path) -> tuple[dict[str, dict[str, bool]], list]:
    """Hand labels: export -> sender key -> opportunity. Columns `export`, `sender` (a
    profile URL or the name as in Invitations.csv) and `opportunity` (true/false)."""
    if not path.exists():
        return {}, []
    text, _ = decode(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = {"export", "sender", "opportunity"}
    if not need <= set(reader.fieldnames or ()):
        raise ValueError(f"{path}: needs columns export, sender, opportunity")
    labels: dict[str, dict[str, bool]] = {}
    rejects = []
    for line, row in enumerate(reader, start=2):
        value = (row["opportunity"] or "").strip().lower()
        sender = (row["sender"] or "").strip()
        key = profile_key(sender) if "/in/" in sender else name_key(sender)
        if value not in ("true", "false", "1", "0", "yes", "no") or key is None:
            rejects.append(
                (LABELS_FILE, line, "opportunity" if key else "sender", "not a usable hand label")
            )
            continue
        labels.setdefault(row["export"].strip(), {})[key] = value in ("true", "1", "yes")
    return labels, rejects
