"""Atomic, deterministic writes and content hashes: the only place that touches the disk."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tiesignal.extract.files import encoding_of
from tiesignal.schema import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; outputs are for reading
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.filename is not None:
            raise
        # a full disk, a file-size limit: say which file could not be written
        raise OSError(err.errno, f"{path}: could not be written ({err.strerror})") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def scratch_dir(near: Path) -> Iterator[Path]:
    """A hidden temporary folder inside `near` for a stage's scratch files, removed after
    (or, if the stage is killed, by `remove_stale_temps` on its next run)."""
    near.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".scratch.", suffix=".tmp", dir=near))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling folder; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def repo_home(root: Path) -> Path:
    """The repo that owns what outlives one run (the MLflow store, the study's cache):
    inside a queued DVC experiment, the parent repo (DVC_ROOT), not the temporary copy."""
    return Path(os.environ.get("DVC_ROOT") or root).resolve()


TEMP_SUFFIXES = (".tmp", ".old")  # what `atomic_path` and `atomic_dir` leave when killed


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove what a killed atomic write of `path` left: its hidden siblings
    `.<name>.*.tmp|.old`, and inside a folder output any hidden `*.tmp|.old`. Returns them."""
    path = Path(path)
    found = [p for p in path.parent.glob(f".{path.name}.*") if p.suffix in TEMP_SUFFIXES]
    if path.is_dir() and not path.is_symlink():
        found += [p for p in path.rglob(".*") if p.suffix in TEMP_SUFFIXES]
    for stale in found:
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    return found


def write_with(path: str | Path, writer: Callable[[Path], Any]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """An Arrow table without pandas metadata: plain Arrow types read back the same way
    by any tool, and equal frames give equal bytes."""
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)


ROW_GROUP_ROWS = 1024 * 1024  # Arrow's default: a Parquet file's row groups, whoever writes it


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        out = TableChunks(tmp)
        out.write(df)
        out.close()


class TableChunks:
    """Append DataFrame chunks to one Parquet or CSV file (by the path's suffix, or `fmt`
    for a temporary path); call inside `atomic_path`. Memory stays at one chunk.

    Parquet rows go out in row groups of `ROW_GROUP_ROWS`, each one contiguous block in
    memory, so a table written in chunks of any size is the same bytes as written whole.
    A `spool` (scratch rows, read back by row group) writes each chunk as its row group."""

    def __init__(self, path: Path, fmt: str = "parquet", spool: bool = False) -> None:
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"{path}: write .parquet or .csv, not {fmt!r}")
        self.path, self.fmt, self.spool = path, fmt, spool
        self.writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self.schema: pa.Schema | None = None
        self.waiting: list[pa.Table] = []  # Parquet rows short of a whole row group
        self.rows_waiting = 0
        self.row_groups = 0

    def write(self, rows: pd.DataFrame | pa.Table) -> None:
        table = rows
        if isinstance(table, pd.DataFrame):
            table = to_arrow(spreadsheet_safe(table) if self.fmt == "csv" else table)
        if self.writer is None:
            self.schema = table.schema
            if self.fmt == "parquet":
                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            else:
                self.writer = pa_csv.CSVWriter(self.path, table.schema)
        table = table.cast(self.schema)
        if self.fmt == "csv" or self.spool:
            self.writer.write_table(table)
            return
        self.waiting.append(table)
        self.rows_waiting += table.num_rows
        if self.rows_waiting >= ROW_GROUP_ROWS:
            self._write_row_groups(final=False)

    def _write_row_groups(self, final: bool) -> None:
        rows = pa.concat_tables(self.waiting)
        whole = rows.num_rows if final else rows.num_rows - rows.num_rows % ROW_GROUP_ROWS
        # no rows at all: one empty row group, as `pq.write_table` writes
        for start in range(0, whole, ROW_GROUP_ROWS) or range(1):
            group = rows.slice(start, min(ROW_GROUP_ROWS, whole - start)).combine_chunks()
            self.writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
            self.row_groups += 1
        self.waiting = [rows.slice(whole)] if whole < rows.num_rows else []
        self.rows_waiting = rows.num_rows - whole

    def close(self) -> None:
        if self.writer is None:
            return
        if self.fmt == "parquet" and not self.spool and (self.rows_waiting or not self.row_groups):
            self._write_row_groups(final=True)
        self.writer.close()


RANK = "__rank"  # a row's place in the output, while `write_in_order` deals rows to blocks


def write_in_order(
    rows: list[Path], order: np.ndarray, beside: pd.DataFrame, path: Path, block_rows: int
) -> None:
    """Write the rows of Parquet files `rows` (one after another) taken in `order` (their
    positions), with the columns of `beside` (already in that order) to their right, to
    `path`.

    An external sort: memory holds one block of `block_rows` output rows and one row group
    of `rows`. Rows are first dealt to a file per output block (next to the first of
    `rows`, removed after), then each block is put in order and written."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    first_file = rows[0]
    blocks = [first_file.with_name(f"{first_file.stem}.block{b}.parquet")
              for b in range(max(1, -(-len(order) // block_rows)))]  # fmt: skip
    dealt = [TableChunks(b, spool=True) for b in blocks]
    first = 0
    for source in map(pq.ParquetFile, rows):
        for g in range(source.num_row_groups):
            group = source.read_row_group(g)
            ranks = rank[first : first + group.num_rows]
            first += group.num_rows
            block_of = ranks // block_rows
            for b in np.unique(block_of):
                mine = np.flatnonzero(block_of == b)
                dealt[b].write(group.take(mine).append_column(RANK, pa.array(ranks[mine])))
    for writer in dealt:
        writer.close()
    with atomic_path(path) as tmp:
        out = TableChunks(tmp)
        for b, block_file in enumerate(blocks):
            block = pq.read_table(block_file)
            block_file.unlink()
            block = block.take(np.argsort(block[RANK].to_numpy())).drop_columns([RANK])
            added = to_arrow(beside.iloc[b * block_rows : (b + 1) * block_rows])
            for name in added.column_names:
                block = block.append_column(added.field(name), added[name])
            out.write(block)
        out.close()


@dataclass
class Chunk:
    """Rows of a table, as read; `malformed` names the rows that could not be parsed
    (row in this chunk -> why; their cells are empty)."""

    rows: pd.DataFrame
    malformed: dict[int, str] = field(default_factory=dict)


class TableReader:
    """A CSV or Parquet table's `columns` (those it has), chunk by chunk, so memory stays
    at one chunk. CSV: encoding and delimiter are detected (`notes` says which, when not
    UTF-8 and comma), every cell is read as text, and a row with the wrong number of
    fields or broken quoting is a malformed row naming its line, not an error."""

    def __init__(self, path: str | Path, chunk_size: int, columns: list[str]) -> None:
        self.path, self.chunk_size, self.columns = Path(path), chunk_size, columns
        self.notes: list[str] = []
        self.total: int | None = None  # rows, when the format says (Parquet)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: input file does not exist")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a table")
        self.format = table_format(self.path)
        if self.format == "parquet":
            try:
                self._parquet = pq.ParquetFile(self.path)
            except (pa.ArrowInvalid, OSError) as err:
                raise InputError(f"{self.path}: not a readable Parquet file ({err})") from err
            self.total = self._parquet.metadata.num_rows
            return
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty file (not even a header)")
        self.encoding, note = sniff_encoding(self.path)
        self.notes += [note] if note else []
        with open(self.path, encoding=self.encoding, errors="replace", newline="") as fh:
            first_line = fh.readline(1 << 16)
        self.delimiter = _delimiter(first_line, columns)
        if self.delimiter != ",":
            self.notes.append(f"fields separated by {self.delimiter!r}")

    def __iter__(self) -> Iterator[Chunk]:
        if self.format == "parquet":
            unread = tuple(c for c in self._parquet.schema_arrow.names if c not in self.columns)
            for rows in parquet_chunks(self.path, self.chunk_size, unread):
                yield Chunk(rows)
            return
        with open(self.path, encoding=self.encoding, errors="replace", newline="") as fh:
            yield from self._csv_chunks(csv.reader(fh, delimiter=self.delimiter, strict=True))

    def _csv_chunks(self, reader) -> Iterator[Chunk]:
        try:
            header = [name.strip().lstrip("\ufeff") for name in next(reader)]
        except (StopIteration, csv.Error) as err:
            raise InputError(f"{self.path}: line 1: no readable header ({err})") from err
        picked = {name: i for i, name in reversed(list(enumerate(header))) if name in self.columns}
        names, positions = list(picked), list(picked.values())
        rows: list[list[str | None]] = []
        malformed: dict[int, str] = {}
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                why = f"line {line}: not CSV ({_csv_problem(err)})"
            else:
                if not row:
                    continue  # a blank line
                why = None
                if len(row) != len(header):
                    why = f"line {line}: {len(row)} fields, the header has {len(header)}"
            if why is not None:
                malformed[len(rows)] = why
                rows.append([None] * len(names))
            else:
                rows.append([row[i] for i in positions])
            if len(rows) == self.chunk_size:
                yield Chunk(pd.DataFrame(rows, columns=names, dtype=object), malformed)
                rows, malformed = [], {}
        if rows:
            yield Chunk(pd.DataFrame(rows, columns=names, dtype=object), malformed)


csv.field_size_limit(1 << 24)  # a 16 MB cell: only a quote left open reads past it
CSV_DELIMITERS = (",", ";", "\t", "|")


def _delimiter(header: str, columns: list[str]) -> str:
    """The delimiter that splits the header into the most known column names (comma on
    a tie): spreadsheets in many locales save `;`-separated "CSV"."""
    known = set(columns)

    def names(delimiter: str) -> int:
        return sum(
            part.strip().strip('"').lstrip("\ufeff") in known for part in header.split(delimiter)
        )

    return max(CSV_DELIMITERS, key=lambda d: (names(d), d == ","))


def _csv_problem(err: csv.Error) -> str:
    text = str(err)
    if "unexpected end of data" in text or "field larger than field limit" in text:
        return "a quote opened on this line is never closed"
    return text


def sniff_encoding(path: Path) -> tuple[str, str | None]:
    """A text file's encoding: UTF-8 (with or without a byte-order mark), UTF-16 by its
    byte-order mark, else Windows-1252; with a note when it is not plain UTF-8. Member
    exports and tables are read the same way."""
    with open(path, "rb") as fh:
        return encoding_of(iter(lambda: fh.read(1 << 20), b""))


def table_format(path: Path) -> str:
    """'parquet' or 'csv' from a file name; anything else is an error naming the file."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"{path}: unknown file type; use a .csv or .parquet file")
    return fmt


def write_json(obj: Any, path: str | Path) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    write_text(text, path)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file does not exist (run the stage that makes it)")
    return json.loads(path.read_text(encoding="utf-8"))


def write_text(text: str, path: str | Path) -> None:
    write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    safe = spreadsheet_safe(df)
    write_with(path, lambda tmp: safe.to_csv(tmp, index=False, float_format="%.6g"))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with a quote (OWASP's
    advice on CSV injection); numbers stay numbers."""
    out = df
    for column in df.columns:
        values = df[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START))
        if risky.any():
            out = out.copy() if out is df else out
            out[column] = values.where(~risky.astype(bool), "'" + values.astype(str))
    return out


def read_parquet(
    path: str | Path, columns: list[str] | None = None, skip: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A Parquet file as a DataFrame; list columns stay in Arrow memory (one Python object
    per row would cost gigabytes at ten million rows). `skip` leaves columns unread."""
    file = _parquet_file(path)
    if skip:
        columns = [c for c in file.schema_arrow.names if c not in skip]
    try:
        return to_pandas(file.read(columns=columns))
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: not a readable Parquet file ({err})") from err


def parquet_chunks(
    path: str | Path,
    rows: int,
    skip: tuple[str, ...] = (),
    on_rows: Callable[[int], None] = lambda done: None,
) -> Iterator[pd.DataFrame]:
    """A Parquet file `rows` at a time, read as `read_parquet` reads (`skip` leaves columns
    unread); `on_rows` gets the rows read so far after each chunk."""
    done = 0
    file = _parquet_file(path)
    columns = [c for c in file.schema_arrow.names if c not in skip]
    for batch in file.iter_batches(batch_size=rows, columns=columns):
        yield to_pandas(pa.Table.from_batches([batch]))
        done += batch.num_rows
        on_rows(done)


def read_row_group(path: str | Path, group: int, columns: list[str] | None = None) -> pd.DataFrame:
    """One row group of a Parquet file, read as `read_parquet` reads: a partition of it."""
    return to_pandas(_parquet_file(path).read_row_group(group, columns=columns))


def parquet_row_groups(path: str | Path) -> int:
    return _parquet_file(path).num_row_groups


def parquet_rows(path: str | Path) -> int:
    return _parquet_file(path).metadata.num_rows


def parquet_columns(path: str | Path) -> list[str]:
    return _parquet_file(path).schema_arrow.names


def _parquet_file(path: str | Path) -> pq.ParquetFile:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file does not exist (run the stage that makes it)")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: not a readable Parquet file ({err})") from err


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_pandas_type)


def _pandas_type(arrow_type: pa.DataType):
    """Strings as pandas' default `str`, lists kept as Arrow lists, the rest as pyarrow does."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow", na_value=np.nan)
    if pa.types.is_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
