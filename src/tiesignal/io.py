"""Atomic, deterministic writes and content hashes: the only place that touches the disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def write_with(path: str | Path, writer: Callable[[Path], Any]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """An Arrow table without pandas metadata: plain Arrow types read back the same way
    by any tool, and equal frames give equal bytes."""
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    table = to_arrow(df)
    write_with(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


class TableChunks:
    """Append DataFrame chunks to one Parquet or CSV file (by the path's suffix, or `fmt`
    for a temporary path); call inside `atomic_path`. Memory stays at one chunk."""

    def __init__(self, path: Path, fmt: str = "parquet") -> None:
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"{path}: write .parquet or .csv, not {fmt!r}")
        self.path, self.fmt = path, fmt
        self.writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, df: pd.DataFrame) -> None:
        table = to_arrow(df)
        if self.writer is None:
            self.schema = table.schema
            if self.fmt == "parquet":
                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            else:
                self.writer = pa_csv.CSVWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_chunks(
    path: Path, chunk_size: int, columns: list[str]
) -> tuple[Iterator[pd.DataFrame], int | None]:
    """A table's `columns` (those it has) in chunks of rows, and its row count when known."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file does not exist")
    if table_format(path) == "parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise InputError(f"{path}: not a readable Parquet file ({err})") from err
        present = [c for c in parquet.schema_arrow.names if c in columns]
        batches = parquet.iter_batches(batch_size=chunk_size, columns=present)
        return (to_pandas(pa.Table.from_batches([b])) for b in batches), parquet.metadata.num_rows
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (not even a header)")
    reader = pd.read_csv(
        path,
        chunksize=chunk_size,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8-sig",  # spreadsheet exports often start with a byte-order mark
        usecols=lambda column: column in columns,
    )
    return iter(reader), None


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
    write_with(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def read_parquet(
    path: str | Path, columns: list[str] | None = None, skip: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A Parquet file as a DataFrame; list columns stay in Arrow memory (one Python object
    per row would cost gigabytes at ten million rows). `skip` leaves columns unread."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: input file does not exist (run the stage that makes it)")
    try:
        if skip:
            columns = [c for c in pq.read_schema(path).names if c not in skip]
        return to_pandas(pq.read_table(path, columns=columns))
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
