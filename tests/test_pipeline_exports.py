"""The whole pipeline, in process, on member exports rendered by the simulator, and a scan
of everything it wrote and logged for the exports' names, emails, URLs and message text."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import STAGES, run_stages, tiny_params
from test_stages import mlflow_runs

from tiesignal.extract.participant import SENT_AT_FORMATS, parse_time
from tiesignal.simulate.exports import (
    FALSE_ALARM,
    FILLER_MESSAGES,
    OPPORTUNITY_MESSAGES,
    SMALL_TALK,
    render_exports,
)
from tiesignal.simulate.notes import TEMPLATES

SALT = "pipeline-test-salt-0123456789"
EXPORTS = 1500


@pytest.fixture(scope="module")
def exports_run(tmp_path_factory, tiny_world) -> tuple[Path, dict, str]:
    """(root, stage summaries, everything logged) for the pipeline on rendered exports."""
    cfg, records, _, _ = tiny_world
    root = tmp_path_factory.mktemp("exports")
    exports = root / "data" / "exports"
    render_exports(cfg, records, exports, era="2024", max_exports=EXPORTS)
    params = tiny_params("data=member_exports", f"data.path={exports}", "study.kinds=[without]")
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TIESIGNAL_SALT", SALT)
            summaries = run_stages(root, params, STAGES[1:])  # no simulate: real data
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous)
    return root, summaries, logged.getvalue()


def test_every_stage_runs_on_member_exports_and_skips_the_truth(exports_run):
    root, summaries, logged = exports_run
    assert set(summaries) == set(STAGES[1:])
    ingest = json.loads((root / "reports" / "ingest.json").read_text())
    assert ingest == summaries["ingest"]
    assert ingest["source"] == "member_exports" and ingest["exports"] == EXPORTS
    assert ingest["exports_by_status"] == {"used": EXPORTS}
    assert ingest["requests"] > 2000 and ingest["opportunities"] > 20
    prepare = json.loads((root / "reports" / "prepare.json").read_text())
    assert prepare["sources"] == {"member_exports": ingest["requests"]}
    metrics = json.loads((root / "reports" / "evaluate.json").read_text())
    assert 0.5 < metrics["roc_auc"] <= 1 and "oracle_roc_auc" not in metrics
    report = (root / "reports" / "compare" / "report.md").read_text()
    assert "truth" in report.lower()
    assert (root / "models" / "export" / "model.onnx").stat().st_size > 0
    assert "real data: no truth" in logged
    assert not (root / "data" / "raw").exists(), "the simulator's files are not needed"


def test_no_name_email_url_or_message_text_passes_ingest(exports_run):
    root, _, logged = exports_run
    raw = raw_strings(root / "data" / "exports")
    assert len(raw["last_names"]) > 100 and raw["markers"]
    leaks = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or relative.startswith("data/exports/") or path.suffix == ".png":
            continue
        leaks += [f"{relative}: {what}" for what in found_in(text_of(path), raw)]
    leaks += [f"logs: {what}" for what in found_in(logged, raw)]
    assert not leaks, leaks[:20]
    runs = mlflow_runs(root) + mlflow_runs(root, study=True)
    assert runs, "the scan must have covered a store with runs in it"


def test_real_data_without_a_salt_stops_before_reading(exports_run, tmp_path, monkeypatch):
    root, _, _ = exports_run
    monkeypatch.delenv("TIESIGNAL_SALT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no salt file either
    params = tiny_params("data=member_exports", f"data.path={root / 'data' / 'exports'}")
    with pytest.raises(ValueError, match="needs a secret salt.*TIESIGNAL_SALT"):
        run_stages(tmp_path, params, ("ingest",))
    assert not (tmp_path / "data" / "interim").exists()


def raw_strings(folder: Path) -> dict[str, set[str]]:
    """What the exports hold that must not leave ingest: last names (double-barrelled in
    the simulator, so they are distinctive), the fixed parts of every message and note
    template, and the URL and email markers."""
    last_names = set()
    for export in folder.glob("*.zip"):
        with zipfile.ZipFile(export) as archive:
            text = archive.read("Connections.csv").decode() + archive.read("Profile.csv").decode()
        last_names |= set(re.findall(r"\b[A-Z][a-z]+-[A-Z][a-z]+\b", text))
    templates = [*OPPORTUNITY_MESSAGES, *SMALL_TALK, *FILLER_MESSAGES, FALSE_ALARM]
    templates += [t for level in TEMPLATES.values() for t in level]
    fragments = {
        part.strip()
        for template in templates
        for part in re.split(r"\{[a-z0-9]+\}", template)
        if len(part.strip()) >= 18
    }
    return {
        "last_names": {n.lower() for n in last_names},
        "fragments": {f.lower() for f in fragments},
        "markers": {"network.example", "@mail.example"},
    }


def text_of(path: Path) -> str:
    """A file's text; for Parquet, every string and list cell."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        cells = [str(c) for column in table.columns for c in column.to_pylist()]
        return "\n".join(table.column_names + cells)
    return path.read_bytes().decode("utf-8", errors="ignore")


def found_in(text: str, raw: dict[str, set[str]]) -> list[str]:
    lowered = text.lower()
    hits = [m for m in raw["markers"] | raw["fragments"] if m in lowered]
    tokens = set(re.findall(r"[a-z]+-[a-z]+", lowered))
    return hits + sorted(tokens & raw["last_names"])


def test_a_changed_salt_is_warned_about_in_one_line(exports_run, caplog, monkeypatch):
    """Issue 32: a salt changed between two runs on the same data gives new pseudonyms for
    everyone; the ingest report keeps a fingerprint of the salt, and the run says so."""
    root, _, _ = exports_run
    params = tiny_params("data=member_exports", f"data.path={root / 'data' / 'exports'}")
    fingerprint = json.loads((root / "reports" / "ingest.json").read_text())["salt_fingerprint"]
    assert len(fingerprint) == 16 and fingerprint not in SALT
    for salt, warned in ((SALT, False), (SALT[::-1], True), (SALT[::-1], False)):
        monkeypatch.setenv("TIESIGNAL_SALT", salt)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tiesignal.ingest"):
            run_stages(root, params, ("ingest",))
        lines = [r.getMessage() for r in caplog.records if "every pseudonym changed" in r.message]
        assert len(lines) == int(warned), (salt, lines)


def test_a_reject_found_after_ingest_names_the_export_file_and_line(exports_run, monkeypatch):
    """Issue 32: `prepare` named data/interim/requests.parquet and its row. Requests sent
    before split.min_sent_at (which only prepare checks) name their export's
    Invitations.csv and its line, where that request's date is."""
    root, _, _ = exports_run
    sent = pq.read_table(root / "data" / "interim" / "requests.parquet", columns=["sent_at"])
    cut = sorted(sent.column(0).to_pylist())[20]  # about 20 requests before it
    params = tiny_params("data=member_exports", f"data.path={root / 'data' / 'exports'}",
                         f"split.min_sent_at={cut:%Y-%m-%dT%H:%M:%S}")  # fmt: skip
    monkeypatch.setenv("TIESIGNAL_SALT", SALT)
    run_stages(root, params, ("ingest", "prepare"))
    rejects = pq.read_table(root / "data" / "prepared" / "rejects.parquet").to_pandas()
    assert 15 <= len(rejects) <= 25 and set(rejects["reject_column"]) == {"sent_at"}
    for file, line in rejects[["reject_file", "reject_row"]].itertuples(index=False):
        export, _, inside = file.partition("/")
        assert inside == "Invitations.csv", file
        lines = _export_file(root / "data" / "exports" / export, inside).splitlines()
        column = next(csv.reader(lines[:1])).index("Sent At")
        sent_at = parse_time(next(csv.reader([lines[line - 1]]))[column], SENT_AT_FORMATS)
        assert sent_at < cut, (file, line)


def _export_file(export: Path, name: str) -> str:
    if export.is_dir():
        return next(export.rglob(name)).read_text(encoding="utf-8")
    with zipfile.ZipFile(export) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(name))).decode()
