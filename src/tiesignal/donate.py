"""The donation page built for one study, and a small receiver for its donations.

`build_page` copies the page (`donate/` in the repo), the pinned Pyodide from the npm
registry (fetched once with `npm ci`), the extraction core and the study's settings into
one static folder that any web server can host. `serve` runs on 127.0.0.1: it serves that
folder and takes donations by POST, checks and re-keys each on arrival, and keeps only the
re-keyed form, one file per donation.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import shutil
import subprocess
import zipfile
from pathlib import Path

from tiesignal.config import DataConfig
from tiesignal.extract.donation import DonationError, checked, rekeyed_body, study_settings
from tiesignal.io import write_text

log = logging.getLogger(__name__)
PAGE_FILES = ("index.html", "donate.js")
PYODIDE_FILES = (
    "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
    "pyodide-lock.json", "package.json",
)  # fmt: skip
# what the page runs: the extraction core and the config types it reads
CORE = ("__init__.py", "config.py", "extract/__init__.py", "extract/files.py",
        "extract/keys.py", "extract/notes.py", "extract/rules.py", "extract/participant.py",
        "extract/donation.py")  # fmt: skip


def pyodide_folder(page_source: Path) -> Path:
    """The pinned Pyodide (donate/package.json), installed from the npm registry with the
    lock file when it is not there yet."""
    pinned = json.loads((page_source / "package.json").read_text())["dependencies"]["pyodide"]
    folder = page_source / "node_modules" / "pyodide"
    installed = folder / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
        log.info("fetching pyodide %s with npm ci (once)", pinned)
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm: not found; the page needs Pyodide from the npm registry")
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=page_source, check=True, capture_output=True)  # fmt: skip
    return folder


def build_page(data: DataConfig, data_section: dict, label_window_days: int, page_source: Path,
               out: Path) -> dict:  # fmt: skip
    """The static donation page for this study in `out`; returns what it holds."""
    if data.source != "donations":
        raise ValueError(f"data.source is {data.source!r}: build the page with data=donations")
    if not data.public_key:
        raise ValueError("data.public_key: the page needs the study's public key")
    pyodide = pyodide_folder(page_source)
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "pyodide").mkdir(parents=True)
    for name in PAGE_FILES:
        shutil.copyfile(page_source / name, staging / name)
    for name in PYODIDE_FILES:
        shutil.copyfile(pyodide / name, staging / "pyodide" / name)
    package = Path(__file__).resolve().parent
    with zipfile.ZipFile(staging / "core.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in CORE:
            info = zipfile.ZipInfo(f"tiesignal/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(info, (package / name).read_bytes(), zipfile.ZIP_DEFLATED)
    study = {
        "study": data.donation.study,
        "consent": data.donation.consent,
        "endpoint": data.donation.endpoint,
        **study_settings(data_section, label_window_days),
    }
    write_text(json.dumps(study, indent=2, sort_keys=True) + "\n", staging / "study.json")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    return {"folder": str(out), "files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def receive(body: bytes, data: DataConfig, salt: bytes, out: Path) -> dict:
    """One POSTed donation, checked and re-keyed, written atomically; what the page is told."""
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DonationError("not JSON") from err
    body = checked(parsed, data, salt)
    kept = rekeyed_body(body, salt) if body["keyed"] == "public" else body
    receipt = hashlib.sha256(kept["rows_sha256"].encode() + kept["consented_at"].encode())
    name = f"donation-{receipt.hexdigest()[:16]}.json"
    write_text(json.dumps(kept, separators=(",", ":")) + "\n", out / name)
    return {"received": name, "rows": len(kept["rows"])}


def serve(data: DataConfig, salt: bytes, out: Path, page: Path | None, port: int) -> None:
    """Serve the page (when given) and take donations at POST /donations, on 127.0.0.1,
    until interrupted."""
    out.mkdir(parents=True, exist_ok=True)
    limit = data.donation.max_body_mb << 20

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(page or out), **kwargs)

        def do_GET(self):  # noqa: N802 - http.server's name
            if page is None:
                self.send_error(404, "no page served here (tiesignal donations receive --page)")
                return
            super().do_GET()

        def do_OPTIONS(self):  # noqa: N802 - the browser's check before a cross-site POST
            self.send_response(204)
            self._allow()
            self.end_headers()

        def do_POST(self):  # noqa: N802
            if self.path.rstrip("/") != "/donations":
                self._answer(404, {"error": "POST donations to /donations"})
                return
            size = int(self.headers.get("Content-Length") or 0)
            if size > limit:  # read and dropped, so that the sender hears why
                for _ in range(0, size, 1 << 20):
                    self.rfile.read(min(1 << 20, size))
                self._answer(413, {"error": f"larger than {limit >> 20} MB"})
                return
            try:
                answer = receive(self.rfile.read(size), data, salt, out)
            except DonationError as err:
                self._answer(400, {"error": str(err)})
                return
            log.info("received %s (%d rows)", answer["received"], answer["rows"])
            self._answer(201, answer)

        def _allow(self):
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")

        def _answer(self, status: int, body: dict):
            text = json.dumps(body).encode()
            self.send_response(status)
            self._allow()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            log.debug(format, *args)  # never a body: only the request line, at debug level

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    log.info("donations: http://127.0.0.1:%d/ (page: %s), POST /donations -> %s",
             server.server_address[1], page or "none", out)  # fmt: skip
    try:
        server.serve_forever()
    finally:
        server.server_close()
