"""The donation page in a real browser (Debian's Chromium, driven by Playwright; no browser
download): a participant's two exports of two eras in, one row left out, consent, the
donation sent to a receiver on 127.0.0.1 and saved as a file; both equal researcher-side
ingest minus that row, the page asked nothing of any other host, and on a sample of the
simulator's exports it shows what the core gives in CPython."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from conftest import ROOT, composed, free_port
from test_donations import canonical, wait_for_port
from test_ingest import (
    OLD_CONNECTIONS,
    OLD_INVITATIONS,
    OLD_MESSAGES,
    POSITIONS,
    PROFILE,
    SALT,
    SKILLS,
    WINDOW,
    full,
)

from tiesignal.config import DataConfig, load
from tiesignal.donate import build_page
from tiesignal.extract.donation import extract_upload, study_settings
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.ingest.donations import ingest_donations
from tiesignal.ingest.exports import ingest_exports
from tiesignal.simulate.exports import render_exports

CHROMIUM = "/usr/bin/chromium"
# a closed network: no background services, no component updates (STACK-NOTES.md)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
OLDER = "Basic_LinkedInDataExport_03-01-2021.zip"  # the oldest era: names, no URLs
NEWER = "Complete_LinkedInDataExport_02-15-2026.zip"


def zipped(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_a_participant_donates_from_the_page(tmp_path, tiny_world):
    assert Path(CHROMIUM).exists(), "scripts/setup_browser.sh installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    exports = tmp_path / "exports" / "p01"
    exports.mkdir(parents=True)
    older = {"Invitations.csv": OLD_INVITATIONS, "Connections.csv": OLD_CONNECTIONS,
             "messages.csv": OLD_MESSAGES, "Profile.csv": PROFILE, "Positions.csv": POSITIONS,
             "Skills.csv": SKILLS}  # fmt: skip
    files = [zipped(exports / OLDER, older), zipped(exports / NEWER, full())]
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/donations"
    params = composed("data=donations", f"data.donation.endpoint={endpoint}")
    data = load(DataConfig, params["data"], "data")
    page = build_page(data, params["data"], WINDOW, ROOT / "donate", tmp_path / "page")
    researcher = ingest_exports(tmp_path / "exports", data, Pseudonymizer(SALT), WINDOW)
    assert len(researcher.requests) == 3  # Rita in 2021 (by name), Rita and Bo in 2026

    received = tmp_path / "received"
    env = {**os.environ, "TIESIGNAL_SALT": SALT.decode(), "DVC_NO_ANALYTICS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "tiesignal.cli", "donations", "receive", "--page", page["folder"],
         "--port", str(port), "--out", str(received), f"data.donation.endpoint={endpoint}"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    asked: list[str] = []
    try:
        wait_for_port(port)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(accept_downloads=True)
            tab.on("request", lambda request: asked.append(request.url))
            tab.goto(f"http://127.0.0.1:{port}/index.html")
            tab.wait_for_function("window.pyodideSeconds !== undefined", timeout=120_000)
            tab.get_by_label("Export zip file(s)").set_input_files([str(f) for f in files])
            tab.wait_for_function("window.extractSeconds !== undefined", timeout=60_000)
            assert tab.locator("#rows tr").count() == 3
            assert "2021-01-29 and 2026-02-03" in tab.inner_text("#summary")
            first = tab.get_by_label("Leave out row 1")
            left_out = first.get_attribute("data-request")
            first.check()
            assert "2 of 3 rows will be donated" in tab.inner_text("#kept")
            assert tab.get_by_role("button", name="Donate").is_disabled()  # not before consent
            tab.get_by_label("I agree").check()
            tab.get_by_role("button", name="Donate").click()
            tab.wait_for_function("document.getElementById('done').textContent"
                                  ".startsWith('Thank you')", timeout=30_000)  # fmt: skip
            with tab.expect_download() as download:
                tab.get_by_text("Save a copy of your donation").click()
            download.value.save_as(tmp_path / "saved" / "donation.json")
            text = tab.content()
            for era in ("2020", "2024"):  # a sample of the simulator's exports
                export, preview = simulated_export(tiny_world, era, tmp_path)
                assert preview["rows"] and shown_rows(tab, export) == table_rows(preview)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    outside = {urlsplit(u).netloc for u in asked if urlsplit(u).scheme in ("http", "https")}
    assert outside == {f"127.0.0.1:{port}"}, outside
    assert all(urlsplit(u).scheme in ("http", "https", "blob", "data") for u in asked)
    for raw in ("Rita", "Moreno", "network.example", "interview", "Ana Silva"):
        assert raw not in text.split("<tbody")[1], raw  # the table shows no raw value

    # the public row id the participant left out, as the researcher's salt keys it
    expected = researcher.requests[~researcher.requests["request_id"].isin(
        [Pseudonymizer(SALT)(left_out)])]  # fmt: skip
    assert len(expected) == 2
    for folder in (received, tmp_path / "saved"):
        requests, _, rejects, report = ingest_donations(folder, data, SALT, lambda _: None)
        assert list(report["status"]) == ["used"] and not rejects
        assert report.iloc[0]["rows_removed"] == 1
        pd.testing.assert_frame_equal(canonical(requests), canonical(expected))
    stored = json.loads(next(received.glob("*.json")).read_text())
    assert stored["keyed"] == "study"  # the receiver keeps only the re-keyed form
    shutil.rmtree(tmp_path / "page")


def simulated_export(tiny_world, era: str, tmp_path: Path) -> tuple[Path, dict]:
    """One participant's export as the simulator renders it, and the core's preview of it
    in CPython: what the page should show."""
    cfg, records, _, _ = tiny_world
    folder = tmp_path / f"simulated-{era}"
    (name,) = render_exports(cfg, records, folder, era=era, max_exports=1, as_zip=True)
    study = study_settings(composed("data=donations")["data"], WINDOW)
    return folder / name, extract_upload(str(folder), study)


def shown_rows(tab, export: Path) -> list[list[str]]:
    """The page's table after it extracted `export`."""
    tab.evaluate("window.extractSeconds = undefined")
    tab.get_by_label("Export zip file(s)").set_input_files(str(export))
    tab.wait_for_function("window.extractSeconds !== undefined", timeout=60_000)
    return [row.split("\t")[1:] for row in tab.locator("#rows tr").all_inner_texts()]


def table_rows(preview: dict) -> list[list[str]]:
    """The rows the page should show for a preview: its columns, as the page writes them."""
    at = {c: i for i, c in enumerate(preview["columns"])}
    yes = {True: "yes", False: "no"}

    def outcome(r):
        if r[at["opportunity_unclear"]]:
            return "unclear"
        return "unknown" if r[at["opportunity"]] is None else yes[r[at["opportunity"]]]

    return [
        [r[at["sender_id"]][:10], r[at["sent_at"]][:10], str(r[at["note_length"]]),
         yes[r[at["note_mentions_name"]]], yes[r[at["note_mentions_company"]]],
         str(r[at["note_skill_mentions"]]), yes[r[at["accepted"]]], outcome(r)]
        for r in preview["rows"]
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Playwright's driver talks to the browser locally; no proxy may take that."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
