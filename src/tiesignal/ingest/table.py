"""A table already in the canonical schema (a CRM or ATS extract), pseudonymized.

Rows are validated as `prepare` validates them, with row numbers of the user's file.
Person ids become keyed hashes; a note's text becomes its `note_*` features and goes no
further. `request_id` is kept as given, so that scores can be joined back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from tiesignal.config import ConfigError
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.extract.notes import NOTE_COLUMNS
from tiesignal.features.personalization import note_features
from tiesignal.io import TableReader
from tiesignal.schema import (
    COLUMN_KINDS,
    NOTE_TEXT,
    REJECT_COLUMNS,
    REQUIRED,
    SOURCE_COLUMNS,
    EarlierRows,
    InputError,
    validate_requests,
)

# `ingest` sets the source itself: a table's own `source` column is not read
READ = tuple(c for c in SOURCE_COLUMNS if c != "source")


def ingest_table(
    path: Path,
    pseudonymize: Pseudonymizer,
    min_sent_at: str,
    max_sent_at: str,
    chunk_size: int = 200_000,
    on_note: Callable[[str], None] = lambda note: None,
    observed_until: str = "",
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(kept rows, rejects) chunk by chunk, read as `tiesignal predict` reads; rejects
    name file, row and column, never a person's value. `observed_until` (a time) is the
    observation end of the rows that give none."""
    until = _observation_end(observed_until)
    table = TableReader(path, chunk_size, list(READ))
    for note in table.notes:
        on_note(f"{path.name}: {note}")
    earlier = EarlierRows()
    required = tuple(c for c in REQUIRED if c != "source")
    for chunk in table:
        checked = validate_requests(
            chunk.rows, str(path), min_sent_at, max_sent_at, required, READ, earlier,
            chunk.malformed,
        )  # fmt: skip
        kept = checked.kept.copy()
        for column in ("sender_id", "recipient_id"):
            ids = [pseudonymize(f"id/{value}") for value in kept[column]]
            kept[column] = pd.array(ids, dtype="str")
        if NOTE_TEXT in kept:
            kept = _with_note_features(kept).drop(columns=[NOTE_TEXT])
        if until is not None:
            kept["observed_until"] = kept["observed_until"].fillna(until)
            late = kept["sent_at"] > kept["observed_until"]
            if late.any():
                raise InputError(f"{path}: {int(late.sum())} request(s) sent after "
                                 f"data.observed_until {observed_until} (first: request_id "
                                 f"{kept.loc[late, 'request_id'].iloc[0]})")  # fmt: skip
        kept["source"] = pd.array(["table"] * len(kept), dtype="str")
        yield kept, checked.rejects[list(REJECT_COLUMNS)]


def _observation_end(value: str) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        end = pd.Timestamp(value)
    except ValueError:
        raise ConfigError(f"data.observed_until: not a date or time: {value!r}") from None
    return end.tz_localize("UTC") if end.tz is None else end.tz_convert("UTC")


def _with_note_features(requests: pd.DataFrame) -> pd.DataFrame:
    """`note_*` from the note's text where the table does not give them already. A table
    has no recipient name or company, so only skill mentions can be found."""
    todo = requests["note"].notna() & requests["note_length"].isna()
    if not todo.any():
        return requests
    rows = requests[todo]
    skills = [None if s is None else list(s) for s in rows["recipient_skills"].tolist()]
    found = note_features(rows["note"].tolist(), [None] * len(rows), [None] * len(rows), skills)
    found.index = rows.index
    out = requests.copy()
    dtypes = {"int": "Int64", "bool": "boolean", "str": "str"}
    for column in NOTE_COLUMNS:
        values = out[column].astype(object)
        values[todo] = found[column].astype(object)
        out[column] = values.astype(dtypes[COLUMN_KINDS[column]])
    return out
