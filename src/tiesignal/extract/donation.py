"""A donation: what the page extracts, what the participant sends, and how it is checked
and re-keyed on arrival. Standard library only (the page runs it).

The page hashes people under the study's public key, so its file holds no name, URL,
e-mail or message text. Anyone holding that key can still test a guessed name against the
ids, so a donation is personal data until the receiver re-keys it with the secret salt.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from tiesignal.config import ConfigError, DataConfig, load
from tiesignal.extract.files import clean, find_exports, read_export
from tiesignal.extract.keys import Pseudonymizer, key_fingerprint
from tiesignal.extract.participant import (
    COLUMNS,
    ID_COLUMNS,
    TIME_COLUMNS,
    Settings,
    copies_among,
    extract_participant,
    parse_export,
    row_counts,
    unusable,
)

FORMAT = "tiesignal-donation"
VERSION = 1
PUBLIC_ID_DIGITS = 32  # a page's ids; re-keyed ones have the salt's 20
SOURCE = "donations"
# what each column may hold: a JSON type per column, None always allowed unless required
REQUIRED = ("request_id", "sent_at", "sender_id", "recipient_id", "accepted", "observed_until")
KINDS = {
    **dict.fromkeys(ID_COLUMNS, "id"),
    **dict.fromkeys(TIME_COLUMNS, "time"),
    **dict.fromkeys(
        (
            "sender_headline",
            "recipient_industry",
            "recipient_seniority",
            "note_template_id",
            "source",
        ),
        "text",
    ),  # fmt: skip
    **dict.fromkeys(("sender_industries", "recipient_skills"), "texts"),
    **dict.fromkeys(("recipient_connections", "note_length", "note_skill_mentions"), "count"),
    "recipient_profile_completeness": "share",
    **dict.fromkeys(
        (
            "accepted",
            "opportunity",
            "opportunity_unclear",
            "note_mentions_name",
            "note_mentions_company",
        ),
        "bool",
    ),  # fmt: skip
}


class DonationError(ValueError):
    """A donation file that cannot be used: foreign, truncated, tampered, or another study's."""


def public_pseudonyms(data: DataConfig) -> Pseudonymizer:
    if not data.public_key:
        raise ConfigError(
            "data.public_key: set the study's public pseudonym key (one per study: "
            "python -c 'import secrets; print(secrets.token_hex(16))')"
        )
    return Pseudonymizer(data.public_key.encode("utf-8"), PUBLIC_ID_DIGITS, "data.public_key")


def rekeyed(rows: list[dict], rekey: Pseudonymizer) -> list[dict]:
    """Rows whose ids (public pseudonyms) are hashed again under the study's secret salt."""
    return [{**row, **{c: rekey(row[c]) for c in ID_COLUMNS}} for row in rows]


# ---------------------------------------------------------------- in the participant's browser


def extract_upload(folder: str, study: dict, now: datetime | None = None) -> dict:
    """What the page shows for the files a participant picked (all their own exports, in
    `folder`): the rows as they would be donated, a summary, and each export's status."""
    data = load(DataConfig, study["data"], "data")
    settings = Settings.of(data, study["label_window_days"], now or datetime.now(UTC), SOURCE)
    found, _ = find_exports(Path(folder))
    names = [f.name for f in found]
    copies = copies_among(names)
    exports, statuses = [], {}
    for entry in found:
        if entry.name in copies:
            statuses[entry.name] = unusable(entry.name, f"a second copy of {copies[entry.name]}")
            continue
        try:
            exports.append(read_export(entry.path, settings.limits))
        except ValueError as err:  # not a zip, a link: the others still count
            statuses[entry.name] = unusable(entry.name, clean(err))
    parsed = [parse_export(export, settings) for export in exports]
    result = extract_participant(parsed, settings, public_pseudonyms(data))
    for export, report in zip(exports, result.reports, strict=True):
        statuses[export.name] = report
    rows = [[_json_value(row[c]) for c in COLUMNS] for row in result.rows]
    sent = sorted(row[1] for row in rows)
    return {
        "columns": list(COLUMNS),
        "rows": rows,
        "summary": {
            **row_counts(result.rows),
            "first": sent[0][:10] if sent else None,
            "last": sent[-1][:10] if sent else None,
            "observed_until": rows[0][-1][:10] if rows else None,
            "about_you": _about(result.rows[0]) if result.rows else "",
        },
        "exports": [
            {k: statuses[n][k] for k in ("export", "status", "requests", "problems")} for n in names
        ],
        "rejected_rows": len(result.rejects),
    }


def donation(preview: dict, removed: list[str], consented_at: str, study: dict) -> dict:
    """The file a participant donates: the previewed rows but those they removed (by
    request id), when they consented, and a digest that shows truncation or edits."""
    data = load(DataConfig, study["data"], "data")
    left_out = set(removed)
    kept = [row for row in preview["rows"] if row[0] not in left_out]
    used = [e for e in preview["exports"] if e["status"] == "used"]
    body = {
        "format": FORMAT,
        "version": VERSION,
        "study": data.donation.study,
        "keyed": "public",
        "key_fingerprint": key_fingerprint(data.public_key.encode("utf-8")),
        "consented_at": consented_at,
        "rows_extracted": len(preview["rows"]),
        "rows_removed": len(preview["rows"]) - len(kept),
        "exports_used": len(used),
        "columns": list(COLUMNS),
        "rows": kept,
    }
    body["rows_sha256"] = rows_digest(body["columns"], kept)
    return body


def rows_digest(columns: list, rows: list) -> str:
    text = json.dumps([columns, rows], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _about(row: dict) -> str:
    """What every row says of the participant, in words."""
    level = row["recipient_seniority"]
    facts = [
        row["recipient_industry"],
        f"{level} level" if level else None,
        f"{len(row['recipient_skills'] or ())} skills",
        f"{row['recipient_connections']} connections",
        f"profile {round(100 * row['recipient_profile_completeness'])}% complete",
    ]
    return ", ".join(f for f in facts if f)


def page_preview(folder: str, study_json: str) -> str:
    """`extract_upload` for the page: JSON in, JSON out."""
    return json.dumps(extract_upload(folder, json.loads(study_json)))


def page_donation(preview_json: str, removed_json: str, consented_at: str, study_json: str) -> str:
    """`donation` for the page: JSON in, JSON out."""
    body = donation(json.loads(preview_json), json.loads(removed_json), consented_at,
                    json.loads(study_json))  # fmt: skip
    return json.dumps(body, separators=(",", ":"))


def study_settings(data: dict, label_window_days: int) -> dict:
    """What the page needs of the study's config (its study.json): never the salt's place."""
    data = {k: v for k, v in data.items() if k not in ("salt_env", "salt_file")}
    return {"data": data, "label_window_days": label_window_days}


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


# ---------------------------------------------------------------- on arrival


def checked(body: object, data: DataConfig, salt: bytes) -> dict:
    """A donation's body, checked: its format and version, its study key, every row's
    types, and its digest. Raises `DonationError` naming what is wrong (never a value)."""
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise DonationError("not a tiesignal donation (no format field)")
    if body.get("version") != VERSION:
        raise DonationError(f"format version {clean(body.get('version'), 20)}; this "
                            f"tiesignal reads version {VERSION}")  # fmt: skip
    for key, kind in (("columns", list), ("rows", list), ("rows_sha256", str),
                      ("consented_at", str), ("rows_removed", int), ("keyed", str)):  # fmt: skip
        if not isinstance(body.get(key), kind):
            raise DonationError(f"field {key} missing or of the wrong type")
    if body["columns"] != list(COLUMNS):
        raise DonationError("its columns are not this version's")
    if _parse_time(body["consented_at"]) is None:
        raise DonationError("consented_at is not a time: no record of consent")
    keyed, fingerprint = body["keyed"], body.get("key_fingerprint")
    if keyed == "public":
        if fingerprint != key_fingerprint(data.public_key.encode("utf-8")):
            raise DonationError("made under another study's public key (data.public_key)")
        digits = PUBLIC_ID_DIGITS
    elif keyed == "study":
        if fingerprint != key_fingerprint(salt):
            raise DonationError("re-keyed under another salt than this study's")
        digits = 20
    else:
        raise DonationError("keyed is neither public nor study")
    if rows_digest(body["columns"], body["rows"]) != body["rows_sha256"]:
        raise DonationError("its rows do not match their digest: truncated or edited")
    for i, row in enumerate(body["rows"], start=1):
        if not isinstance(row, list) or len(row) != len(COLUMNS):
            raise DonationError(f"row {i}: not {len(COLUMNS)} values")
        for column, value in zip(COLUMNS, row, strict=True):
            if not _fits(value, KINDS[column], digits, column in REQUIRED):
                raise DonationError(f"row {i}, column {column}: not a valid value")
    return body


def rows_of(body: dict) -> list[dict]:
    """A checked donation's rows as the core gives them (times as datetimes)."""
    return [
        {c: _parse_time(v) if c in TIME_COLUMNS and v is not None else v
         for c, v in zip(COLUMNS, row, strict=True)}
        for row in body["rows"]
    ]  # fmt: skip


def rekeyed_body(body: dict, salt: bytes) -> dict:
    """A checked public donation re-keyed under the secret salt: what the receiver keeps."""
    rekey = Pseudonymizer(salt)
    index = [COLUMNS.index(c) for c in ID_COLUMNS]
    rows = []
    for row in body["rows"]:
        row = list(row)
        for i in index:
            row[i] = rekey(row[i])
        rows.append(row)
    out = {**body, "keyed": "study", "key_fingerprint": key_fingerprint(salt), "rows": rows}
    out["rows_sha256"] = rows_digest(out["columns"], rows)
    return out


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo is not None else None


def _fits(value, kind: str, digits: int, required: bool) -> bool:
    if value is None:
        return not required
    if kind == "id":
        return isinstance(value, str) and len(value) == digits and _is_hex(value)
    if kind == "time":
        return isinstance(value, str) and _parse_time(value) is not None
    if kind == "text":
        return isinstance(value, str) and len(value) <= 200
    if kind == "texts":
        return isinstance(value, list) and all(isinstance(v, str) and len(v) <= 200 for v in value)
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
    if kind == "share":
        return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return isinstance(value, bool)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
