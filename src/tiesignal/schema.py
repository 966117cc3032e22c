"""The canonical request schema: the contract between every source and `prepare`.

`validate_requests` never drops a row silently: each row is either kept or returned as a
reject with the row number, the column and the reason.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.types as pa_types

if TYPE_CHECKING:
    import pandera.pandas as pa

SENIORITY_LEVELS = ("entry", "mid", "senior", "executive")
SPLITS = ("train", "valid", "test")  # consecutive periods, in this order
LABEL = "opportunity_within_window"  # derived by `prepare` from `split.label_window_days`
SOURCES = ("simulated", "member_exports", "table")
# closed sets: a wrong value is shown when it cannot be a person's (a number, a date, a flag)
CATEGORY_COLUMNS = ("recipient_seniority", "source", "assignment")

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
    # the sender's messages neither offered a job nor ruled one out (`opportunity` is
    # then missing): `prepare` leaves the request out as `unclear`, not as `no_label`
    "opportunity_unclear": "bool",
    # when the source stopped watching this request (an export's date); missing: the
    # latest timestamp of the data. `prepare` censors each request against its own.
    "observed_until": "timestamp",
    # the arm of a randomized experiment the request was part of (data.assignment_arms:
    # e.g. a note-writing assistant offered to the sender, or not); missing: none
    "assignment": "str",
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
# what happened after a request: training needs it, scoring neither reads nor checks it
OUTCOME_COLUMNS = (
    "accepted", "accepted_at", "opportunity", "opportunity_at", "opportunity_unclear",
    "observed_until",
)  # fmt: skip
# what `predict` reads: a request's outcomes, where given, feed the track records of later
# requests (never its own features)
SCORING_COLUMNS = tuple(c for c in CANONICAL_COLUMNS if c != "source")
# times that cannot precede the request's sending (a frame-wide check each)
LATER_THAN_SENT = ("accepted_at", "opportunity_at", "observed_until")
REJECT_COLUMNS = ("reject_file", "reject_row", "reject_column", "reject_reason")
# each canonical request's file and row in the source the user gave (data/origins/), in the
# canonical table's order: so a reject found after ingest names them, not an interim file
ORIGIN_COLUMNS = ("origin_file", "origin_row")
# spellings of "no value" that spreadsheets and databases write into text cells
MISSING_SPELLINGS = frozenset({"", "nan", "none", "null", "n/a", "na", "#n/a", "nat", "<na>"})
# the largest count a float holds exactly; a bigger one is a typo or an overflow elsewhere
MAX_COUNT = 2**53
# a value may be shown in a reject's reason only where it cannot be a person's
SHOWN_KINDS = ("int", "float", "bool", "timestamp")
KIND_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "an ISO 8601 time",
    "list": 'a list (a;b, or ["a", "b"])',
}


class InputError(ValueError):
    """The input cannot be used at all (missing file or column, empty table)."""


@dataclass(frozen=True)
class Validated:
    kept: pd.DataFrame  # canonical columns, canonical dtypes, original order
    rejects: pd.DataFrame  # the rejected rows as text, with row, column and reason
    rows: int  # rows validated: every one is kept or rejected


@lru_cache(maxsize=16)
def _schema(
    min_sent_at: pd.Timestamp,
    max_sent_at: pd.Timestamp,
    required: tuple[str, ...],
    columns: tuple[str, ...],
    arms: tuple[str, ...] | None,
) -> pa.DataFrameSchema:
    """The checks of `validate_requests`, built once per bounds and columns: a served
    single-row call reads them (`plain_request`), and building them would take longer."""
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
        "assignment": (str, pa.Check.isin(list(arms)) if arms is not None else None),
        "note_length": ("Int64", nonneg),
        "note_skill_mentions": ("Int64", nonneg),
    }
    checks = [
        pa.Check(
            lambda df, later=later: df[later].isna() | (df[later] >= df["sent_at"]),
            error=f"{later} is before sent_at",
        )
        for later in LATER_THAN_SENT
        if later in columns
    ]
    return pa.DataFrameSchema(
        {
            name: pa.Column(dtype, check, nullable=name not in required)
            for name, (dtype, check) in rules.items()
            if name in columns
        },
        checks=checks,
        strict=False,
    )


class EarlierRows:
    """What validating a file chunk by chunk remembers: how many rows came before, and
    each request id seen with its first row, to find a duplicate in another chunk.

    Ids are kept as sorted 64-bit hashes with their rows: 16 bytes a row (160 MB for ten
    million). Two different ids share a hash with odds of about 3e-6 in ten million."""

    def __init__(self) -> None:
        self.rows = 0
        self._hashes = np.empty(0, dtype=np.uint64)
        self._first = np.empty(0, dtype=np.int64)

    def duplicates(self, ids: pd.Series) -> np.ndarray:
        """Counts the next chunk in. For each of its rows (`ids`: the request ids as
        validation coerces them), the row where its id first appeared, in an earlier
        chunk or earlier in this one; -1 where it appears first or is missing. The first
        row with an id is its first appearance whatever else is wrong with that row, so
        any chunking finds the same duplicates."""
        ids = ids.reset_index(drop=True)
        present = ids.notna().to_numpy()
        first = self._first_rows(ids.where(present, ""))
        first[~present] = -1
        codes, _ = pd.factorize(ids, use_na_sentinel=False)  # 0, 1, ... as they first appear
        _, first_of_code = np.unique(codes, return_index=True)
        here = self.rows + first_of_code[codes]
        within = present & (first < 0) & (here != self.rows + np.arange(len(ids)))
        first = np.where(within, here, first)
        new = present & (first < 0)
        self._add(ids[new], self.rows + np.flatnonzero(new))
        self.rows += len(ids)
        return first

    def _first_rows(self, ids: pd.Series) -> np.ndarray:
        """For each id, the row where an earlier chunk had it, or -1."""
        if not len(self._hashes):
            return np.full(len(ids), -1, dtype=np.int64)
        hashes = pd.util.hash_array(ids.to_numpy(dtype=object))
        at = np.searchsorted(self._hashes, hashes).clip(max=len(self._hashes) - 1)
        return np.where(self._hashes[at] == hashes, self._first[at], -1)

    def _add(self, ids: pd.Series, rows: np.ndarray) -> None:
        hashes = pd.util.hash_array(ids.to_numpy(dtype=object))
        order = np.argsort(hashes, kind="stable")
        at = np.searchsorted(self._hashes, hashes[order])
        self._hashes = np.insert(self._hashes, at, hashes[order])
        self._first = np.insert(self._first, at, rows[order])


@dataclass
class FoundDuplicates:
    """A chunk's rows before it and its duplicates, as `EarlierRows.duplicates` found them
    in the stream: what validating that chunk on its own needs (compute=dask)."""

    rows: int
    first: np.ndarray

    def duplicates(self, ids: pd.Series) -> np.ndarray:
        self.rows += len(ids)
        return self.first


def origins_frame(files: Sequence[str], rows: Sequence[int]) -> pd.DataFrame:
    """`ORIGIN_COLUMNS` of requests: the file and row each came from."""
    return pd.DataFrame(
        {
            "origin_file": pd.array(files, dtype="str"),
            "origin_row": np.asarray(rows, dtype=np.int64),
        }
    )


def request_ids(raw: pd.DataFrame) -> pd.Series:
    """The request ids of raw rows as validation coerces them (missing where unusable)."""
    return _coerce(raw["request_id"], SOURCE_COLUMN_KINDS["request_id"])[0]


def validate_requests(
    raw: pd.DataFrame,
    file: str,
    min_sent_at: str,
    max_sent_at: str,
    required: tuple[str, ...] = REQUIRED,
    columns: Collection[str] | None = None,
    earlier: EarlierRows | FoundDuplicates | None = None,
    malformed: Mapping[int, str] | None = None,
    arms: Collection[str] | None = None,
) -> Validated:
    """Coerce and check `columns` (default: every canonical one), and split rows into kept
    and rejects. `arms`: the values `assignment` may take (data.assignment_arms); None
    checks none, as scoring, which never reads it.

    Rows are numbered from 0 after the header. `earlier` carries the row count and the
    request ids of the chunks before this one of the same file (`FoundDuplicates`: this
    chunk's, found beforehand); `malformed` names the rows
    the reader could not parse (their cells are empty). A reason shows a value only where
    it cannot be a person's (numbers, times, flags): never an id, a name or a text."""
    if raw.empty:
        raise InputError(f"{file}: no rows")
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(f"{file}: missing required column(s) {', '.join(missing)}")
    earlier = EarlierRows() if earlier is None else earlier
    raw = raw.reset_index(drop=True)
    reasons = _Reasons({row: ("(row)", why) for row, why in (malformed or {}).items()})
    if columns is None:
        columns = SOURCE_COLUMNS if NOTE_TEXT in raw.columns else CANONICAL_COLUMNS
    df = _coerced(raw, columns, reasons)
    for column in required:
        reasons.add(np.flatnonzero(df[column].isna().to_numpy()), column, "missing value")
    start = earlier.rows  # before `duplicates` counts this chunk's rows in
    first = earlier.duplicates(df["request_id"])
    reasons.add(np.flatnonzero(first >= 0), "request_id",
                lambda row: f"duplicate request_id (first at row {first[row]})")  # fmt: skip
    _check_schema(df, _checks(min_sent_at, max_sent_at, required, columns, arms), reasons)
    return _split(raw, df, reasons, file, start)


def _checks(
    min_sent_at: str,
    max_sent_at: str,
    required: tuple[str, ...],
    columns: Collection[str],
    arms: Collection[str] | None,
) -> pa.DataFrameSchema:
    """`_schema` of these bounds and columns, in the hashable form its cache needs."""
    bounds = (pd.Timestamp(min_sent_at, tz="UTC"), pd.Timestamp(max_sent_at, tz="UTC"))
    return _schema(*bounds, tuple(required), tuple(columns), None if arms is None else tuple(arms))


def plain_request(
    cells: Mapping[str, object],
    min_sent_at: str,
    max_sent_at: str,
    required: tuple[str, ...],
    columns: Collection[str],
) -> dict[str, object] | None:
    """One request's canonical values as Python values (None: no value), when each cell
    is plainly valid and passes every check of `validate_requests` (as scoring calls it:
    no `arms`); else None, and
    `validate_requests` decides (and says why). Plain: a string in a text column (not
    spelling "no value", no surrounding blanks), a number in a number column (whole for a
    count), a flag, an ISO 8601 time or a Timestamp, a list of strings, or no value.

    A single-row call to the served model takes this way: pandas' fixed cost per
    operation is most of that call's time. Tests hold it to `validate_requests`."""
    values = {}
    for column in columns:
        value = _plain(cells.get(column), SOURCE_COLUMN_KINDS[column])
        if value is _NOT_PLAIN or (value is None and column in required):
            return None
        values[column] = value
    schema = _checks(min_sent_at, max_sent_at, required, columns, None)
    for column, rules in schema.columns.items():
        if values[column] is not None and not all(_passes(values[column], r) for r in rules.checks):
            return None
    for check in schema.checks:  # frame-wide: a later time is not before sent_at
        later = str(check.error).removesuffix(" is before sent_at")
        if later not in LATER_THAN_SENT:
            return None  # a check this function does not know: validate_requests decides
        if values[later] is not None and values[later] < values["sent_at"]:
            return None
    return values


class _Reasons(dict):
    """row -> (column, reason): why a row is rejected; the first reason it gets wins."""

    def add(self, rows: np.ndarray, column: str, why) -> None:
        for row in rows:
            if int(row) not in self:
                self[int(row)] = (column, why(int(row)) if callable(why) else why)


def _coerced(raw: pd.DataFrame, columns: Collection[str], reasons: _Reasons) -> pd.DataFrame:
    """Every column in its canonical dtype; a value that does not convert rejects its row."""
    coerced = {}
    for column in columns:
        kind = SOURCE_COLUMN_KINDS[column]
        values = raw[column] if column in raw.columns else pd.Series(pd.NA, index=raw.index)
        coerced[column], bad = _coerce(values, kind)
        reasons.add(np.flatnonzero(bad), column, lambda r, v=values, k=kind: _not_a(v.iloc[r], k))
    return pd.DataFrame(coerced)


def _check_schema(df: pd.DataFrame, schema, reasons: _Reasons) -> None:
    """pandera's checks on the rows not rejected yet; each failure rejects its row."""
    from pandera.errors import SchemaErrors

    try:
        schema.validate(df.drop(index=list(reasons)) if reasons else df, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases.dropna(subset=["index"])
        for row, column, check, value in cases[
            ["index", "column", "check", "failure_case"]
        ].itertuples(index=False):
            if int(row) not in reasons:
                reasons[int(row)] = _failed(column, check, value)


def _split(raw: pd.DataFrame, df: pd.DataFrame, reasons: _Reasons, file: str,
           start: int) -> Validated:  # fmt: skip
    """The kept rows, and the rejects numbered in the file (`start`: rows before this chunk)."""
    bad_rows = np.array(sorted(reasons), dtype=np.int64)
    kept = df.drop(index=bad_rows).reset_index(drop=True) if reasons else df
    rejects = pd.DataFrame(
        {
            "reject_file": pd.array([file] * len(bad_rows), dtype="str"),
            "reject_row": start + bad_rows,
            "reject_column": pd.array([reasons[r][0] for r in bad_rows], dtype="str"),
            "reject_reason": pd.array([reasons[r][1] for r in bad_rows], dtype="str"),
            "request_id": pd.array(raw["request_id"].iloc[bad_rows].astype("str"), dtype="str"),
        }
    )
    return Validated(kept=kept, rejects=rejects, rows=len(raw))


def _coerce(values: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Canonical dtype for one column, and which present values could not be converted."""
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        values = values.where(~_spelled_missing(values, blank_is_missing=kind != "list"))
    present = values.notna().to_numpy()
    if kind == "str":
        out = values.astype("str").where(values.notna(), None).astype("str")
        return out, np.zeros(len(values), dtype=bool)
    if kind == "timestamp" and isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert("UTC").astype(pd.DatetimeTZDtype("us", "UTC"))
    elif kind == "timestamp":
        # a bare number is not a timestamp (it would parse as an offset from 1970)
        numeric = values.map(lambda v: isinstance(v, int | float | np.number)).astype(bool)
        text_or_time = values.where(~numeric)
        out = pd.to_datetime(text_or_time, errors="coerce", utc=True, format="ISO8601")
        out = out.astype(pd.DatetimeTZDtype("us", "UTC"))
    elif kind == "int":
        num = pd.to_numeric(values, errors="coerce")
        whole = num.notna() & (num % 1 == 0) & (num.abs() <= MAX_COUNT)
        out = num.where(whole).astype("Float64").astype("Int64")
    elif kind == "float":
        out = pd.to_numeric(values, errors="coerce").astype(float)
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.astype("boolean"), np.zeros(len(values), dtype=bool)
        out = values.map(_to_bool, na_action="ignore").astype("boolean")
    elif kind == "list":
        return _coerce_lists(values)
    else:
        raise ValueError(kind)
    return out, present & out.isna().to_numpy()


LIST_DTYPE = pd.ArrowDtype(pyarrow.list_(pyarrow.string()))


def _coerce_lists(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Lists as one Arrow list column: Parquet lists as they are; text as `a;b;c` or a
    JSON list, a blank cell as an empty list."""
    typed = isinstance(values.dtype, pd.ArrowDtype) and pa_types.is_list(values.dtype.pyarrow_dtype)
    if typed and values.dtype == LIST_DTYPE:
        return values, np.zeros(len(values), dtype=bool)  # typed by Parquet already
    if typed and not pa_types.is_nested(values.dtype.pyarrow_dtype.value_type):
        return values.astype(LIST_DTYPE), np.zeros(len(values), dtype=bool)  # [1, 2] -> ["1", "2"]
    lists = [_to_list(v) for v in values]
    bad = np.array([v is _NOT_A_LIST for v in lists], dtype=bool)
    lists = [None if v is _NOT_A_LIST else v for v in lists]
    return pd.Series(lists, index=values.index, dtype=LIST_DTYPE), bad


_NOT_PLAIN = object()
# an ISO 8601 time `pd.to_datetime` and `datetime.fromisoformat` read alike (to the
# microsecond, in pandas' range); other spellings go the common way
_PLAIN_TIME = re.compile(
    r"(19|2[01])\d\d-\d\d-\d\d([T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?)?"
)


def no_value(cell) -> bool:
    """A cell holding no value: None, pandas' NA or NaT, or a float NaN."""
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return True
    return isinstance(cell, float | np.floating) and math.isnan(cell)


def _plain(value, kind: str):
    """`value` as `_coerce` would convert it, if it is plain for `kind`; None for no value;
    `_NOT_PLAIN` otherwise."""
    if no_value(value):
        return None
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if kind == "str" and isinstance(value, str) and value == value.strip():
        return None if value.lower() in MISSING_SPELLINGS else value
    if number and abs(value) > MAX_COUNT:  # a big float overflows nothing, a big int might
        return _NOT_PLAIN
    if kind == "int" and number and float(value).is_integer():
        return int(value)
    if kind == "float" and number and math.isfinite(value):
        return float(value)
    if kind == "bool" and isinstance(value, bool | np.bool_):
        return bool(value)
    if kind == "list" and isinstance(value, list | tuple | np.ndarray):
        return list(value) if all(isinstance(item, str) for item in value) else _NOT_PLAIN
    if kind == "timestamp":
        return _plain_time(value)
    return _NOT_PLAIN


def _plain_time(value):
    if isinstance(value, str) and _PLAIN_TIME.fullmatch(value):
        try:
            time = datetime.fromisoformat(value)
        except ValueError:
            return _NOT_PLAIN
    elif isinstance(value, pd.Timestamp) and value.nanosecond == 0 and 1900 <= value.year < 2200:
        time = value.to_pydatetime()
    else:
        return _NOT_PLAIN
    return time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)


def _passes(value, check) -> bool:
    """A pandera check of one present value; False for a check this function does not know."""
    stats = check.statistics
    if check.name == "greater_than_or_equal_to":
        return value >= stats["min_value"]
    if check.name == "in_range":
        low, high = stats["min_value"], stats["max_value"]
        above = value >= low if stats["include_min"] else value > low
        below = value <= high if stats["include_max"] else value < high
        return above and below
    if check.name == "isin":
        return value in stats["allowed_values"]
    if check.name == "str_length" and stats["exact_value"] is None:
        longest = stats["max_value"]
        return stats["min_value"] <= len(value) and (longest is None or len(value) <= longest)
    return False


_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}
_NOT_A_LIST = object()


def _spelled_missing(values: pd.Series, blank_is_missing: bool) -> np.ndarray:
    """Text cells that spell "no value" (a blank one only if `blank_is_missing`: a blank
    list cell is an empty list)."""
    if values.dtype == object:  # mixed cells: only text can spell anything
        values = values.map(lambda v: v if isinstance(v, str) else None).astype("str")
    text = values.str.strip().str.lower()
    spelled = text.isin(MISSING_SPELLINGS) & text.notna()
    if not blank_is_missing:
        spelled &= text != ""
    return spelled.to_numpy(dtype=bool)


def _to_bool(value):
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else pd.NA


def _to_list(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if not isinstance(value, str):
        return _NOT_A_LIST
    text = value.strip()
    if text.startswith("["):  # a JSON or Python list: ["SQL", "Python"], ['SQL', 'Python']
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return _NOT_A_LIST
        if not isinstance(items, list) or any(isinstance(i, list | dict) for i in items):
            return _NOT_A_LIST
        return [str(i).strip() for i in items if i is not None and str(i).strip()]
    return [part.strip() for part in text.split(";") if part.strip()]


def _not_a(value, kind: str) -> str:
    if kind == "int" and _is_big_number(value):
        return f"out of range: a count above {MAX_COUNT:,}"
    shown = f": {_show(value)}" if kind in SHOWN_KINDS and _impersonal(value) else ""
    return f"not {KIND_NAMES[kind]}{shown}"


def _failed(column, check: str, value) -> tuple[str, str]:
    """A pandera failure as (column, reason); a value is shown only where it is not a
    person's (a frame-wide check names its own columns)."""
    later = str(check).removesuffix(" is before sent_at")
    if later in LATER_THAN_SENT:  # a frame-wide check: blame the later time, not the row
        return later, str(check)
    if not isinstance(column, str) or column not in SOURCE_COLUMN_KINDS:
        return "(row)", str(check)
    shown = column in CATEGORY_COLUMNS or SOURCE_COLUMN_KINDS[column] in SHOWN_KINDS
    if shown and _impersonal(value):
        return column, f"failed {check}: {_show(value)}"
    return column, f"failed {check}"


# what a value that cannot be a person's looks like: a number, a date or time, a flag
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I)
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2}| UTC)?"
)
_FLAG = re.compile(r"true|false|yes|no|y|n|t|f", re.I)


def _impersonal(value) -> bool:
    """A value a reason may show: never text that could be a name, an e-mail, a URL or a
    headline, whichever column it was found in."""
    if not isinstance(value, str):
        return True  # a number, a time, a flag, a missing value
    text = value.strip()
    return len(text) <= 40 and any(p.fullmatch(text) for p in (_NUMBER, _TIME, _FLAG))


def _is_big_number(value) -> bool:
    try:
        return abs(float(value)) > MAX_COUNT and np.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _show(value) -> str:
    try:
        text = repr(value.item() if isinstance(value, np.generic) else value)
    except (ValueError, NotImplementedError):
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
