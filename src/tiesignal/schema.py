"""The canonical request schema: the contract between every source and `prepare`.

`validate_requests` never drops a row silently: each row is either kept or returned as a
reject with the row number, the column and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.types as pa_types

if TYPE_CHECKING:
    import pandera.pandas as pa

SENIORITY_LEVELS = ("entry", "mid", "senior", "executive")
SPLITS = ("train", "valid", "test")  # consecutive periods, in this order
LABEL = "opportunity_within_window"  # derived by `prepare` from `split.label_window_days`
SOURCES = ("simulated", "member_exports", "table")

# column -> kind; `REQUIRED` columns must exist, with a value, in every training source;
# scoring new requests needs only who sent what to whom, and when
REQUIRED = ("request_id", "sent_at", "sender_id", "recipient_id", "accepted", "source")
REQUIRED_TO_SCORE = ("request_id", "sent_at", "sender_id", "recipient_id")
SOURCE_COLUMN_KINDS: dict[str, str] = {
    "request_id": "str",
    "sent_at": "timestamp",
    "sender_id": "str",
    "recipient_id": "str",
    "note": "str",
    "sender_headline": "str",
    "sender_connections": "int",
    "sender_account_age_days": "int",
    "sender_profile_completeness": "float",
    "sender_industries": "list",
    "recipient_industry": "str",
    "recipient_seniority": "str",
    "recipient_skills": "list",
    "recipient_connections": "int",
    "recipient_open_to_work": "bool",
    "recipient_accepts_messages": "bool",
    "recipient_profile_completeness": "float",
    "mutual_connections": "int",
    "accepted": "bool",
    "accepted_at": "timestamp",
    "opportunity": "bool",
    "opportunity_at": "timestamp",
    "source": "str",
    # outputs of tiesignal.features.personalization.note_features
    "note_length": "int",
    "note_mentions_name": "bool",
    "note_mentions_company": "bool",
    "note_skill_mentions": "int",
    "note_template_id": "str",
}
SOURCE_COLUMNS = tuple(SOURCE_COLUMN_KINDS)  # what a source may give, in this order
# The note's text stops at `ingest`, which keeps only its `note_*` features: every stage
# after it sees these columns.
NOTE_TEXT = "note"
COLUMN_KINDS = {c: kind for c, kind in SOURCE_COLUMN_KINDS.items() if c != NOTE_TEXT}
CANONICAL_COLUMNS = tuple(COLUMN_KINDS)


class InputError(ValueError):
    """The input cannot be used at all (missing file or column, empty table)."""


@dataclass(frozen=True)
class Validated:
    kept: pd.DataFrame  # canonical columns, canonical dtypes, original order
    rejects: pd.DataFrame  # the rejected rows as text, with row, column and reason


def _schema(
    min_sent_at: pd.Timestamp, max_sent_at: pd.Timestamp, required: tuple[str, ...]
) -> pa.DataFrameSchema:
    import pandera.pandas as pa  # only validation needs it, not the constants above

    nonneg = pa.Check.ge(0)
    share = pa.Check.in_range(0.0, 1.0)
    ts = pd.DatetimeTZDtype("us", "UTC")
    rules = {  # column -> (dtype, check); a value may be missing unless the column is required
        "request_id": (str, pa.Check.str_length(min_value=1)),
        "sent_at": (ts, pa.Check.in_range(min_sent_at, max_sent_at)),
        "sender_id": (str, pa.Check.str_length(min_value=1)),
        "recipient_id": (str, pa.Check.str_length(min_value=1)),
        "sender_connections": ("Int64", nonneg),
        "sender_account_age_days": ("Int64", nonneg),
        "sender_profile_completeness": (float, share),
        "recipient_seniority": (str, pa.Check.isin(SENIORITY_LEVELS)),
        "recipient_connections": ("Int64", nonneg),
        "recipient_profile_completeness": (float, share),
        "mutual_connections": ("Int64", nonneg),
        "accepted": ("boolean", None),
        "source": (str, pa.Check.isin(SOURCES)),
        "note_length": ("Int64", nonneg),
        "note_skill_mentions": ("Int64", nonneg),
    }
    columns = {
        name: pa.Column(dtype, check, nullable=name not in required)
        for name, (dtype, check) in rules.items()
    }
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(
                lambda df: df["accepted_at"].isna() | (df["accepted_at"] >= df["sent_at"]),
                error="accepted_at is before sent_at",
            ),
            pa.Check(
                lambda df: df["opportunity_at"].isna() | (df["opportunity_at"] >= df["sent_at"]),
                error="opportunity_at is before sent_at",
            ),
        ],
        strict=False,
    )


def validate_requests(
    raw: pd.DataFrame,
    file: str,
    min_sent_at: str,
    max_sent_at: str,
    required: tuple[str, ...] = REQUIRED,
    first_row: int = 0,
    show_values: bool = True,
) -> Validated:
    """Coerce every canonical column, check values, and split rows into kept and rejects.

    Rows are numbered from 0 after the header; `first_row` is the number of this table's
    first row when it is one chunk of a larger file. `show_values=False` keeps the values
    out of the reasons (a source that may hold personal data)."""
    show = _show if show_values else (lambda value: "(value not shown)")
    if raw.empty:
        raise InputError(f"{file}: no rows")
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(f"{file}: missing required column(s) {', '.join(missing)}")
    raw = raw.reset_index(drop=True)
    reasons: dict[int, tuple[str, str]] = {}  # row -> (column, reason); the first one wins

    def reject(rows: np.ndarray, column: str, why) -> None:
        for row in rows:
            if int(row) not in reasons:
                reasons[int(row)] = (column, why(int(row)) if callable(why) else why)

    columns = {}
    kinds = SOURCE_COLUMN_KINDS if NOTE_TEXT in raw.columns else COLUMN_KINDS
    for column, kind in kinds.items():
        values = raw[column] if column in raw.columns else pd.Series(pd.NA, index=raw.index)
        coerced, bad = _coerce(values, kind)
        reject(
            np.flatnonzero(bad),
            column,
            lambda r, v=values, k=kind: f"not a {k}: {show(v.iloc[r])}",
        )
        columns[column] = coerced
    df = pd.DataFrame(columns)

    for column in required:
        reject(np.flatnonzero(df[column].isna().to_numpy()), column, "missing value")
    duplicated = df["request_id"].duplicated(keep="first") & df["request_id"].notna()
    if duplicated.any():
        first = df.reset_index().drop_duplicates("request_id").set_index("request_id")["index"]
        reject(
            np.flatnonzero(duplicated.to_numpy()),
            "request_id",
            lambda r: (
                f"duplicate request_id (first at row {first_row + first[df['request_id'].iloc[r]]})"
            ),
        )

    from pandera.errors import SchemaErrors

    schema = _schema(
        pd.Timestamp(min_sent_at, tz="UTC"), pd.Timestamp(max_sent_at, tz="UTC"), required
    )
    candidates = df.drop(index=list(reasons)) if reasons else df
    try:
        schema.validate(candidates, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases.dropna(subset=["index"])
        for row, column, check, value in cases[
            ["index", "column", "check", "failure_case"]
        ].itertuples(index=False):
            if int(row) not in reasons:
                column = column if isinstance(column, str) else "(row)"
                reasons[int(row)] = (column, f"failed {check}: {show(value)}")

    bad_rows = np.array(sorted(reasons), dtype=np.int64)
    kept = df.drop(index=bad_rows).reset_index(drop=True) if reasons else df
    rejects = raw.iloc[bad_rows].astype(str).reset_index(drop=True)
    rejects.insert(0, "reject_reason", pd.array([reasons[r][1] for r in bad_rows], dtype="str"))
    rejects.insert(0, "reject_column", pd.array([reasons[r][0] for r in bad_rows], dtype="str"))
    rejects.insert(0, "reject_row", first_row + bad_rows)
    rejects.insert(0, "reject_file", pd.array([file] * len(bad_rows), dtype="str"))
    return Validated(kept=kept, rejects=rejects)


def _coerce(values: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Canonical dtype for one column, and which present values could not be converted."""
    present = values.notna().to_numpy()
    if kind == "str":
        out = values.astype("str").where(values.notna(), None).astype("str")
        return out, np.zeros(len(values), dtype=bool)
    if kind == "timestamp" and isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert("UTC").astype(pd.DatetimeTZDtype("us", "UTC"))
    elif kind == "timestamp":
        # a bare number is not a timestamp (it would parse as an offset from 1970)
        numeric = values.map(lambda v: isinstance(v, int | float | np.number), na_action="ignore")
        text_or_time = values.where(~numeric.fillna(False).astype(bool))
        out = pd.to_datetime(text_or_time, errors="coerce", utc=True, format="ISO8601")
        out = out.astype(pd.DatetimeTZDtype("us", "UTC"))
    elif kind == "int":
        num = pd.to_numeric(values, errors="coerce")
        whole = num.notna() & (num % 1 == 0)
        out = num.where(whole).astype("Float64").astype("Int64")
    elif kind == "float":
        out = pd.to_numeric(values, errors="coerce").astype(float)
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.astype("boolean"), np.zeros(len(values), dtype=bool)
        out = values.map(_to_bool, na_action="ignore").astype("boolean")
    elif kind == "list":
        if isinstance(values.dtype, pd.ArrowDtype) and pa_types.is_list(values.dtype.pyarrow_dtype):
            return values, np.zeros(len(values), dtype=bool)  # typed by Parquet already
        if values.map(type, na_action="ignore").isin([np.ndarray, list]).sum() == present.sum():
            return values, np.zeros(len(values), dtype=bool)  # already lists (Parquet)
        out = values.map(_to_list, na_action="ignore")
        return out, present & out.isna().to_numpy()
    else:
        raise ValueError(kind)
    return out, present & out.isna().to_numpy()


_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _to_bool(value):
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else pd.NA


def _to_list(value):
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if isinstance(value, str):  # CSV sources: "a;b;c"
        return [part.strip() for part in value.split(";") if part.strip()]
    return None


def _show(value) -> str:
    try:
        text = repr(value)
    except (ValueError, NotImplementedError):
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
