"""Reading one participant's export: a zip or a folder of CSV files whose names, headers,
encodings and preambles drift from one export year to the next (DESIGN.md).

Nothing here knows what the rows mean. A file that cannot be read becomes a problem on
its export, and a row that cannot be parsed becomes a bad row with its line number; the
rest of the export is still read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# kind -> (the file's name, the columns that identify its header row, the other known ones)
FILES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "invitations": (
        "Invitations.csv",
        ("From", "To", "Sent At"),
        ("Message", "Direction", "inviterProfileUrl", "inviteeProfileUrl"),
    ),
    "connections": (
        "Connections.csv",
        ("First Name", "Last Name", "Connected On"),
        ("URL", "Email Address", "Company", "Position"),
    ),
    "messages": (
        "messages.csv",
        ("FROM", "DATE", "CONTENT"),
        (
            "CONVERSATION ID",
            "CONVERSATION TITLE",
            "SENDER PROFILE URL",
            "TO",
            "RECIPIENT PROFILE URLS",
            "SUBJECT",
            "FOLDER",
            "ATTACHMENTS",
            "IS MESSAGE DRAFT",
            "IS CONVERSATION DRAFT",
        ),
    ),
    "profile": (
        "Profile.csv",
        ("First Name", "Last Name", "Headline"),
        (
            "Maiden Name",
            "Address",
            "Birth Date",
            "Summary",
            "Industry",
            "Zip Code",
            "Geo Location",
            "Twitter Handles",
            "Websites",
            "Instant Messengers",
        ),
    ),
    "positions": (
        "Positions.csv",
        ("Company Name", "Title", "Started On"),
        ("Description", "Location", "Finished On"),
    ),
    "skills": ("Skills.csv", ("Name",), ()),
}
HEADER_SEARCH_ROWS = 20  # preambles are a few lines; a header further down is not one


class ExportError(ValueError):
    """The export as a whole cannot be read (not a zip, not a folder)."""


@dataclass
class Table:
    """One CSV file of an export: its data rows, keyed by the canonical column names."""

    file: str  # the file's name inside the export
    columns: dict[str, int]  # known column -> position in a row
    rows: list[list[str]]
    lines: list[int]  # the line (1-based) on which each row starts
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    notes: list[str] = field(default_factory=list)  # what a reader should know

    def get(self, column: str) -> list[str]:
        """One column's values; '' everywhere when the file's era lacks it."""
        at = self.columns.get(column)
        return [""] * len(self.rows) if at is None else [row[at] for row in self.rows]


@dataclass
class Export:
    name: str  # the zip's or folder's name within the exports folder
    tables: dict[str, Table]  # kind -> table, for the files that could be read
    problems: list[str]  # file by file: missing, empty, unreadable, unknown header


def find_exports(folder: Path) -> tuple[list[Path], list[str]]:
    """The exports in a folder (zips and folders, sorted by name) and the entries that
    are neither, such as a labels file."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: exports folder does not exist")
    exports, other = [], []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix.lower() == ".zip":
            exports.append(entry)
        else:
            other.append(entry.name)
    return exports, other


def read_export(path: Path) -> Export:
    members = _members(path)
    by_name: dict[str, list[str]] = {}
    for member in sorted(members, key=lambda m: (m.count("/"), m)):
        by_name.setdefault(_loose(member.rsplit("/", 1)[-1]), []).append(member)
    tables, problems = {}, []
    for kind, (file_name, _, _) in FILES.items():
        found = by_name.get(_loose(file_name), [])
        if not found:
            problems.append(f"{file_name}: missing")
            continue
        if len(found) > 1:
            problems.append(f"{file_name}: {len(found)} files match, read {found[0]}")
        try:
            data = members[found[0]]()
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as err:
            problems.append(f"{found[0]}: cannot be read from the export ({err})")
            continue
        table, problem = parse_table(data, kind, found[0])
        if problem:
            problems.append(f"{found[0]}: {problem}")
        else:
            tables[kind] = table
    return Export(name=path.name, tables=tables, problems=problems)


def parse_table(data: bytes, kind: str, file: str) -> tuple[Table | None, str | None]:
    """A file's rows below its header row, found by content; or the reason it has none."""
    if not data.strip():
        return None, "empty file"
    text, encoding_note = decode(data)
    _, header_columns, other_columns = FILES[kind]
    wanted = {c.lower(): c for c in header_columns + other_columns}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    table: Table | None = None
    next_line = 1
    while True:
        start = next_line
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            next_line = reader.line_num + 1
            if table is None:
                return None, f"line {start}: not CSV ({err})"
            table.bad_rows.append((start, f"truncated or malformed row ({err})"))
            continue
        next_line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # blank lines: the preamble's, or a trailing one
        if table is None:
            names = [cell.strip().lstrip("\ufeff").lower() for cell in row]
            if all(c.lower() in names for c in header_columns):
                columns = {wanted[n]: i for i, n in enumerate(names) if n in wanted}
                table = Table(file=file, columns=columns, rows=[], lines=[])
                width = len(row)
                unknown = [row[i].strip() for i, n in enumerate(names) if n not in wanted]
                if unknown:
                    table.notes.append(f"ignored unknown column(s) {', '.join(unknown)}")
                if encoding_note:
                    table.notes.append(encoding_note)
            elif start >= HEADER_SEARCH_ROWS:
                break
            continue
        if len(row) == width:
            table.rows.append(row)
            table.lines.append(start)
        else:
            why = "truncated row" if len(row) < width else "extra fields"
            table.bad_rows.append((start, f"{why}: {len(row)} fields, the header has {width}"))
    if table is None:
        return None, (
            f"no header row with columns {', '.join(header_columns)} in the first "
            f"{HEADER_SEARCH_ROWS} lines (an export format this version does not know)"
        )
    return table, None


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file, and a note when it was not plain UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "decoded as UTF-16 (byte-order mark)"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        note = f"not UTF-8 (byte {err.start}); decoded as Windows-1252"
        return data.decode("cp1252", errors="replace"), note


def _members(path: Path) -> dict[str, Callable[[], bytes]]:
    """The export's CSV files by path inside it, each with a function that reads it."""
    if path.is_dir():
        return {
            p.relative_to(path).as_posix(): p.read_bytes
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() == ".csv"
        }
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ExportError(f"not a readable zip file ({err})") from err
    return {
        info.filename: (lambda info=info: archive.read(info))
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(".csv")
    }


_LOOSE = re.compile(r"[\s_\-]+")


def _loose(file_name: str) -> str:
    """A file name without case, spaces, underscores or hyphens: `Company_Follows.csv`
    and `company follows.csv` are one file."""
    return _LOOSE.sub("", file_name.lower())
