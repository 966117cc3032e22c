"""A table already in the canonical schema (a CRM or ATS extract), pseudonymized.

Rows are validated as `prepare` validates them, with row numbers of the user's file.
Person ids become keyed hashes; a note's text becomes its `note_*` features and goes no
further. `request_id` is kept as given, so that scores can be joined back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.features.personalization import NOTE_COLUMNS, note_features
from tiesignal.ingest.exports import REJECT_COLUMNS
from tiesignal.ingest.pseudonym import Pseudonymizer
from tiesignal.io import read_chunks
from tiesignal.schema import COLUMN_KINDS, NOTE_TEXT, SOURCE_COLUMNS, validate_requests


def ingest_table(
    path: Path,
    pseudonymize: Pseudonymizer,
    min_sent_at: str,
    max_sent_at: str,
    chunk_size: int = 200_000,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(kept rows, rejects) chunk by chunk; rejects name file, row and column, never a
    value."""
    chunks, _ = read_chunks(path, chunk_size, list(SOURCE_COLUMNS))
    first_row = 0
    for raw in chunks:
        checked = validate_requests(
            raw, str(path), min_sent_at, max_sent_at, first_row=first_row, show_values=False
        )
        first_row += len(raw)
        kept = checked.kept.copy()
        for column in ("sender_id", "recipient_id"):
            ids = [pseudonymize(f"id/{value}") for value in kept[column]]
            kept[column] = pd.array(ids, dtype="str")
        if NOTE_TEXT in kept:
            kept = _with_note_features(kept).drop(columns=[NOTE_TEXT])
        kept["source"] = pd.array(["table"] * len(kept), dtype="str")
        yield kept, checked.rejects[list(REJECT_COLUMNS)]


def _with_note_features(requests: pd.DataFrame) -> pd.DataFrame:
    """`note_*` from the note's text where the table does not give them already. A table
    has no recipient name or company, so only skill mentions can be found."""
    todo = requests["note"].notna() & requests["note_length"].isna()
    if not todo.any():
        return requests
    rows = requests[todo]
    skills = [
        list(s) if isinstance(s, list | np.ndarray) else None for s in rows["recipient_skills"]
    ]
    found = note_features(rows["note"].tolist(), [None] * len(rows), [None] * len(rows), skills)
    found.index = rows.index
    out = requests.copy()
    dtypes = {"int": "Int64", "bool": "boolean", "str": "str"}
    for column in NOTE_COLUMNS:
        values = out[column].astype(object)
        values[todo] = found[column].astype(object)
        out[column] = values.astype(dtypes[COLUMN_KINDS[column]])
    return out
