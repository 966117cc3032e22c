"""The whole pipeline through real `dvc` on member exports rendered by the simulator, and
a scan of everything it wrote for the exports' names, emails, URLs and message text."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_pipeline_dvc import make_repo, mlflow_runs, run

from tiesignal.simulate.exports import (
    FALSE_ALARM,
    FILLER_MESSAGES,
    OPPORTUNITY_MESSAGES,
    SMALL_TALK,
    render_exports,
)
from tiesignal.simulate.notes import TEMPLATES

pytestmark = pytest.mark.integration
SALT = {"TIESIGNAL_SALT": "pipeline-test-salt-0123456789"}
EXPORTS = 1500


@pytest.fixture(scope="module")
def exports_repo(tmp_path_factory, tiny_world) -> tuple[Path, subprocess.CompletedProcess]:
    cfg, records, _, _ = tiny_world

    def add_exports(repo: Path) -> None:
        render_exports(cfg, records, repo / "data" / "exports", era="2024", max_exports=EXPORTS)
        study = repo / "conf" / "study" / "feature_groups.yaml"
        study.write_text(study.read_text().replace("kinds: [without, only]", "kinds: [without]"))

    repo = make_repo(tmp_path_factory.mktemp("exports"), "member_exports", add_exports)
    return repo, run(repo, "dvc", "repro", env=SALT)


def test_every_stage_runs_on_member_exports_and_skips_the_truth(exports_repo):
    repo, reproduced = exports_repo
    for stage in ("ingest", "prepare", "featurize", "train", "evaluate", "compare", "export"):
        assert f"Running stage '{stage}'" in reproduced.stdout
    ingest = json.loads((repo / "reports" / "ingest.json").read_text())
    assert ingest["source"] == "member_exports" and ingest["exports"] == EXPORTS
    assert ingest["exports_by_status"] == {"used": EXPORTS}
    assert ingest["requests"] > 2000 and ingest["opportunities"] > 20
    prepare = json.loads((repo / "reports" / "prepare.json").read_text())
    assert prepare["sources"] == {"member_exports": ingest["requests"]}
    metrics = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert 0.5 < metrics["roc_auc"] <= 1 and "oracle_roc_auc" not in metrics
    report = (repo / "reports" / "compare" / "report.md").read_text()
    assert "truth" in report.lower()
    assert (repo / "models" / "export" / "model.onnx").stat().st_size > 0
    assert "real data: no truth" in reproduced.stderr


def test_no_name_email_url_or_message_text_passes_ingest(exports_repo):
    repo, reproduced = exports_repo
    raw = raw_strings(repo / "data" / "exports")
    assert len(raw["last_names"]) > 100 and raw["markers"]
    tracked = set(run(repo, "git", "ls-files").stdout.splitlines())  # source, not output
    leaks = []
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo).as_posix()
        if relative in tracked:
            continue
        # the input itself, git and DVC's cache (copies of the outputs scanned here), and
        # the simulator's own requests, which this run's ingest never reads
        if not path.is_file() or relative.startswith((".git/", ".dvc/", "data/exports/")):
            continue
        if relative.startswith("data/raw/") or path.suffix == ".png":
            continue
        leaks += [f"{relative}: {what}" for what in found_in(text_of(path), raw)]
    leaks += [f"logs: {what}" for what in found_in(reproduced.stdout + reproduced.stderr, raw)]
    assert not leaks, leaks[:20]
    runs = mlflow_runs(repo) + mlflow_runs(repo, study=True)
    assert runs, "the scan must have covered a store with runs in it"


def test_real_data_without_a_salt_stops_before_reading(exports_repo, tmp_path):
    repo, _ = exports_repo
    out = run(repo, "python", "pipelines/ingest.py", check=False, env={"HOME": str(tmp_path)})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "needs a secret salt" in out.stderr and "TIESIGNAL_SALT" in out.stderr


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
