"""Reading one participant's export: a zip or a folder of CSV files whose names, headers,
encodings and preambles drift from one export year to the next (DESIGN.md).

Standard library only: the donation page runs this in the participant's browser (Pyodide).
Nothing here knows what the rows mean. A file that cannot be read becomes a problem on
its export, and a row that cannot be parsed becomes a bad row with its line number; the
rest of the export is still read.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# kind -> (the file's name, the columns that identify its header row, every known column
# in the order exports write them: an era leaves some out, none reorders them)
FILES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "invitations": (
        "Invitations.csv",
        ("From", "To", "Sent At"),
        ("From", "To", "Sent At", "Message", "Direction", "inviterProfileUrl",
         "inviteeProfileUrl"),
    ),
    "connections": (
        "Connections.csv",
        ("First Name", "Last Name", "Connected On"),
        ("First Name", "Last Name", "URL", "Email Address", "Company", "Position",
         "Connected On"),
    ),
    "messages": (
        "messages.csv",
        ("FROM", "DATE", "CONTENT"),
        ("CONVERSATION ID", "CONVERSATION TITLE", "FROM", "SENDER PROFILE URL", "TO",
         "RECIPIENT PROFILE URLS", "DATE", "SUBJECT", "CONTENT", "FOLDER", "ATTACHMENTS",
         "IS MESSAGE DRAFT", "IS CONVERSATION DRAFT"),
    ),
    "profile": (
        "Profile.csv",
        ("First Name", "Last Name", "Headline"),
        ("First Name", "Last Name", "Maiden Name", "Address", "Birth Date", "Headline",
         "Summary", "Industry", "Zip Code", "Geo Location", "Twitter Handles", "Websites",
         "Instant Messengers"),
    ),
    "positions": (
        "Positions.csv",
        ("Company Name", "Title", "Started On"),
        ("Company Name", "Title", "Description", "Location", "Started On", "Finished On"),
    ),
    "skills": ("Skills.csv", ("Name",), ("Name",)),
}  # fmt: skip
HEADER_SEARCH_ROWS = 20  # preambles are a few lines; a header further down is not one
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
PROGRESS_BYTES = 64 << 20  # a file this large says how far reading it has come
MAX_PROBLEMS = 20  # problems listed per export; the rest are counted


@dataclass(frozen=True)
class ReadLimits:
    """How much one file of an export may inflate to: a zip bomb is a problem of its export,
    found while reading (the sizes in a zip's header can lie)."""

    max_bytes: int
    max_ratio: float  # uncompressed bytes per compressed byte


class TooLarge(ValueError):
    """A file of an export inflates past `ReadLimits`."""


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
    notes: list[str] = field(default_factory=list)  # what was read as it is, for a reader


@dataclass(frozen=True)
class Found:
    path: Path
    name: str  # relative to the exports folder: `x.zip`, or `p01/x.zip` in a participant's
    participant: str | None  # the participant folder's name, in that layout


# `Export (1).zip`: a second download of the same file
COPY = re.compile(r" \((\d+)\)$")
# what macOS adds to a zip or folder it copies: resource forks, never an export
APPLE_DOUBLE = "__MACOSX"


def find_exports(folder: Path) -> tuple[list[Found], list[str]]:
    """The exports in a folder, in either layout (DESIGN.md, "Real data"): zips and export
    folders directly in it, or one folder per participant holding that participant's
    exports. Also the entries that are neither (a labels file, a note). Copies named
    `... (1)` come after their original, so the original is the one kept."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: exports folder does not exist")
    exports, other = [], []
    for entry in _visible(folder):
        if _is_empty_folder(entry):
            other.append(f"{entry.name}/")
        elif entry.suffix.lower() == ".zip" or (entry.is_dir() and _is_export_folder(entry)):
            exports.append(Found(entry, entry.name, None))
        elif entry.is_dir() and not entry.is_symlink():  # a participant's folder
            for inner in _visible(entry):
                name = f"{entry.name}/{inner.name}"
                if _is_empty_folder(inner):
                    other.append(f"{name}/")
                elif inner.suffix.lower() == ".zip" or inner.is_dir():
                    exports.append(Found(inner, name, entry.name))
                else:
                    other.append(name)
        else:
            other.append(entry.name)
    return sorted(exports, key=_original_first), other


def copy_number(name: str) -> int:
    """0 for an original, n for `name (n).zip`."""
    match = COPY.search(_without_zip(name))
    return int(match.group(1)) if match else 0


def copy_stem(name: str) -> str:
    """`Export (1).zip` and `Export.zip`: `Export`, the name that copies share."""
    return COPY.sub("", _without_zip(name))


def _original_first(found: Found) -> tuple:
    return (found.participant or "", copy_stem(found.name), copy_number(found.name), found.name)


def _without_zip(name: str) -> str:
    return name[:-4] if name.lower().endswith(".zip") else name


def _visible(folder: Path) -> list[Path]:
    """A folder's entries, without hidden ones and macOS's `__MACOSX` copies."""
    return sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.name != APPLE_DOUBLE),
        key=lambda p: p.name,
    )


def _is_empty_folder(entry: Path) -> bool:
    """A folder with nothing visible in it at any depth: not an export, not a participant."""
    if not entry.is_dir() or entry.is_symlink():
        return False
    return all(_is_empty_folder(p) for p in _visible(entry))


def _is_export_folder(folder: Path) -> bool:
    """A folder holding an export's own files (not only other exports): a known CSV at its
    top, or a folder that holds no zip and no folder with one."""
    if folder.is_symlink():
        return True  # refused when read, as an export
    names = _visible(folder)
    if any(_loose(p.name) in KNOWN_FILES for p in names if p.is_file()):
        return True
    return not any(p.suffix.lower() == ".zip" or p.is_dir() for p in names)


def read_export(path: Path, limits: ReadLimits) -> Export:
    """One export's files; a file that cannot be read safely is a problem, not an error."""
    members, problems = _members(path, limits)
    by_name: dict[str, list[str]] = {}
    for member in sorted(members, key=lambda m: (m.count("/"), m)):
        by_name.setdefault(_loose(member.rsplit("/", 1)[-1]), []).append(member)
    other = sorted(m for name, found in by_name.items() if name not in KNOWN_FILES for m in found)
    notes = []
    if other:
        shown = ", ".join(clean(m, 60) for m in other[:3]) + (", ..." if len(other) > 3 else "")
        notes.append(f"{len(other)} other CSV file(s) not read ({shown})")
    tables = {}
    for kind, (file_name, _, _) in FILES.items():
        found = by_name.get(_loose(file_name), [])
        if not found:
            problems.append(f"{file_name}: missing")
            continue
        if len(found) > 1:
            problems.append(f"{file_name}: {len(found)} files match, read {clean(found[0])}")
        try:
            data = members[found[0]]()
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError, RuntimeError, ValueError) as err:
            problems.append(f"{clean(found[0])}: cannot be read from the export ({clean(err)})")
            continue
        if len(data) > PROGRESS_BYTES:
            log.info("%s/%s: parsing %d MB", clean(path.name), clean(found[0]), len(data) >> 20)
        table, problem = parse_table(data, kind, found[0])
        if problem:
            problems.append(f"{clean(found[0])}: {problem}")
        else:
            tables[kind] = table
    return Export(name=clean(path.name), tables=tables, problems=problems, notes=notes)


def parse_table(data: bytes, kind: str, file: str) -> tuple[Table | None, str | None]:
    """A file's rows below its header row, found by content; or the reason it has none."""
    if not data.strip():
        return None, "empty file"
    text, encoding_note = decode(data)
    _, header_columns, usual_order = FILES[kind]
    wanted = {c.lower(): c for c in usual_order}
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
                    shown = ", ".join(clean(c, 40) for c in unknown[:5])
                    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                    table.notes.append(f"ignored unknown column(s) {shown}{more}")
                known = list(columns)  # in the file's order
                if known != sorted(known, key=usual_order.index):
                    table.notes.append("columns in an unusual order (read by name)")
                if encoding_note:
                    table.notes.append(encoding_note)
                if data.startswith(codecs.BOM_UTF8):
                    table.notes.append("starts with a byte-order mark (read)")
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
    if not table.rows:
        table.notes.append("a header and no rows")
    return table, None


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file in Unicode's composed form (NFC: the same name typed on macOS and
    elsewhere is one key), and a note when it was not plain UTF-8."""
    encoding, note = encoding_of([data])
    return unicodedata.normalize("NFC", data.decode(encoding, errors="replace")), note


def encoding_of(blocks: Iterable[bytes]) -> tuple[str, str | None]:
    """The encoding a file's bytes are in: UTF-8 (with or without a byte-order mark),
    UTF-16 with one, else Windows-1252; and a note when it was not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = 0, True
    for block in blocks:
        if first and block.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", None
        if first and block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "decoded as UTF-16 (byte-order mark)"
        first = False
        try:
            decoder.decode(block)
        except UnicodeDecodeError as err:
            return "cp1252", f"not UTF-8 (byte {offset + err.start}); decoded as Windows-1252"
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252", f"not UTF-8 (byte {offset}); decoded as Windows-1252"
    return "utf-8", None


def _members(path: Path, limits: ReadLimits) -> tuple[dict[str, Callable[[], bytes]], list[str]]:
    """The export's CSV files by path inside it, each with a function that reads it within
    `limits`; and the entries that are not read, with why."""
    if path.is_symlink():
        raise ExportError("a symbolic link, not followed")
    if path.is_dir():
        return _folder_members(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ExportError(f"not a readable zip file ({_what_it_is(path) or clean(err)})") from err
    infos = [info for info in archive.infolist() if not info.is_dir()]
    count = Counter(info.filename for info in infos)
    members: dict[str, Callable[[], bytes]] = {}
    problems = [
        f"{clean(n)}: {c} entries of this name, none read" for n, c in count.items() if c > 1
    ]
    for info in infos:
        name, why = info.filename, None
        if count[name] > 1 or _apple_double(name):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            why = "a symbolic link, not followed"
        elif name.lower().endswith(".zip"):
            why = "a zip inside the export, not read"
        elif not name.lower().endswith(".csv"):
            continue
        elif info.flag_bits & 0x1:
            why = "encrypted, not read"
        elif info.compress_type not in ZIP_METHODS:
            why = f"compression method {info.compress_type} is not supported, not read"
        if why:
            problems.append(f"{clean(name)}: {why}")
            continue
        members[name] = lambda info=info: _bounded(
            archive.open(info), info.compress_size, limits, info.filename
        )
    return members, problems


def _what_it_is(path: Path) -> str | None:
    """What a file named `.zip` is when it is not one: most often the download page."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024).lstrip().lower()
    except OSError:
        return None
    if head.startswith(b"<!doctype html") or b"<html" in head:
        return "an HTML page: the download page was saved instead of the export"
    return "an empty file" if not head else None


def _folder_members(
    folder: Path, limits: ReadLimits
) -> tuple[dict[str, Callable[[], bytes]], list[str]]:
    """A folder's regular CSV files; links are reported, never followed (they could reach
    any file on the machine, or another participant's export)."""
    members: dict[str, Callable[[], bytes]] = {}
    problems = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d != APPLE_DOUBLE]
        for name in sorted(dirs) + sorted(f for f in files if not f.startswith("._")):
            p = Path(top) / name
            rel = p.relative_to(folder).as_posix()
            mode = os.lstat(p).st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{clean(rel)}: a symbolic link, not followed")
            elif stat.S_ISDIR(mode):
                continue
            elif name.lower().endswith(".zip"):
                problems.append(f"{clean(rel)}: a zip inside the export, not read")
            elif not name.lower().endswith(".csv"):
                continue
            elif not stat.S_ISREG(mode):
                problems.append(f"{clean(rel)}: not a regular file, not read")
            else:
                members[rel] = lambda p=p, rel=rel: _bounded(
                    os.fdopen(os.open(p, os.O_RDONLY | os.O_NOFOLLOW), "rb"), None, limits, rel
                )
    return members, problems


def _bounded(stream, compressed: int | None, limits: ReadLimits, name: str) -> bytes:
    """All of a file, stopping as soon as it passes the size or ratio limit."""
    cap = limits.max_bytes
    if compressed is not None:
        cap = min(cap, int(max(compressed, 1) * limits.max_ratio))
    blocks, total = [], 0
    with stream:
        while block := stream.read(1 << 20):
            total += len(block)
            if total > cap:
                raise TooLarge(
                    f"inflates past {cap >> 20} MB (limits: data.max_file_mb, "
                    "data.max_compression_ratio); not read"
                )
            blocks.append(block)
            if total % PROGRESS_BYTES < len(block) and total > len(block):
                log.info("%s: %d MB read", clean(name), total >> 20)
    return b"".join(blocks)


def _apple_double(name: str) -> bool:
    """`__MACOSX/...` and `._Invitations.csv`: macOS's copies of a file's metadata."""
    return name.startswith(f"{APPLE_DOUBLE}/") or name.rsplit("/", 1)[-1].startswith("._")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: object, limit: int = 160) -> str:
    """Text fit for one log line and one CSV cell: control characters (newlines too)
    become '?', and a long text is cut with a count of what was left out."""
    text = _CONTROL.sub("?", str(text))
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more)"


_LOOSE = re.compile(r"[\s_\-]+")


def _loose(file_name: str) -> str:
    """A file name without case, spaces, underscores or hyphens: `Company_Follows.csv`
    and `company follows.csv` are one file."""
    return _LOOSE.sub("", file_name.lower())


KNOWN_FILES = frozenset(_loose(name) for name, _, _ in FILES.values())  # what is read
