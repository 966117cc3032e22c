"""Donations in CPython: the page's functions on the simulator's exports of every era give,
after re-keying, the rows researcher-side ingest gives; bad files are one problem each;
a donation holds nothing personal; the receiver checks, limits and re-keys."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, composed, free_port
from test_ingest import SALT, WINDOW, participant, write_export

from tiesignal.config import DataConfig, load
from tiesignal.extract.donation import donation, extract_upload, study_settings
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.extract.participant import COLUMNS
from tiesignal.ingest.donations import ingest_donations
from tiesignal.ingest.exports import ingest_exports
from tiesignal.simulate.exports import ERAS, render_exports

CONSENTED = "2026-12-01T10:00:00+00:00"
COLUMN = {c: i for i, c in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def data_config() -> DataConfig:
    return load(DataConfig, composed("data=donations")["data"], "data")


@pytest.fixture(scope="module")
def study() -> dict:
    return study_settings(composed("data=donations")["data"], WINDOW)


def donate(exports: list[Path], study: dict, folder: Path, removed=(), consented=CONSENTED) -> dict:
    """What the page does with one participant's export files: extract, then donate."""
    upload = folder / "upload"
    upload.mkdir(parents=True)
    for path in exports:
        (shutil.copytree if path.is_dir() else shutil.copyfile)(path, upload / path.name)
    preview = extract_upload(str(upload), study)
    shutil.rmtree(upload)
    return donation(preview, list(removed), consented, study)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="source").sort_values("request_id").reset_index(drop=True)


@pytest.mark.parametrize("era", sorted(ERAS))
def test_donations_give_the_rows_researcher_side_ingest_gives(
    tiny_world, data_config, study, tmp_path, era
):
    cfg, records, _, _ = tiny_world
    exports = tmp_path / "exports"
    names = render_exports(cfg, records, exports, era=era, max_exports=40, as_zip=era != "2022")
    researcher = ingest_exports(exports, data_config, Pseudonymizer(SALT), WINDOW)
    donations = tmp_path / "donations"
    donations.mkdir()
    for i, name in enumerate(names):
        path = next(exports.glob(f"{name}*"))
        body = donate([path], study, tmp_path / f"page{i}")
        (donations / f"{i}.json").write_text(json.dumps(body))
    requests, origins, rejects, files = ingest_donations(
        donations, data_config, SALT, lambda _: None
    )
    assert set(files["status"]) == {"used"} and not rejects
    assert len(requests) == len(researcher.requests) > 50
    rekey = Pseudonymizer(SALT)  # each request is the row its origin names, re-keyed
    for file, row, request in zip(*origins.to_dict("list").values(), requests["request_id"],
                                  strict=True):  # fmt: skip
        public_id = json.loads((donations / file).read_text())["rows"][row - 1][0]
        assert rekey(public_id) == request
    pd.testing.assert_frame_equal(canonical(requests), canonical(researcher.requests))
    assert set(requests["source"]) == {"donations"}


def test_bad_donation_files_are_one_problem_each(tmp_path, data_config, study):
    for who in ("p1", "p2"):
        write_export(tmp_path / "exports", who, participant(who))
    good = donate([tmp_path / "exports" / "p1"], study, tmp_path / "a")
    other = donate([tmp_path / "exports" / "p2"], study, tmp_path / "b")
    folder = tmp_path / "donations"
    folder.mkdir()
    text = json.dumps(good)
    edited = json.loads(text)
    edited["rows"][0][COLUMN["accepted"]] = not edited["rows"][0][COLUMN["accepted"]]
    foreign_key = {**good, "key_fingerprint": "0" * 16}
    files = {
        "good.json": text,
        "other.json": json.dumps(other),
        "truncated.json": text[: len(text) // 2],
        "edited.json": json.dumps(edited),
        "foreign.json": json.dumps({"rows": [], "name": "something else"}),
        "another_study.json": json.dumps(foreign_key),
        "future_version.json": json.dumps({**good, "version": 2}),
    }
    for name, body in files.items():
        (folder / name).write_text(body)
    (folder / "notes.txt").write_text("not a donation")
    requests, _, rejects, report = ingest_donations(folder, data_config, SALT, lambda _: None)
    status = report.set_index("file")["status"].to_dict()
    problems = report.set_index("file")["problems"].to_dict()
    assert status["good.json"] == "used" and status["other.json"] == "used"
    assert "not JSON" in problems["truncated.json"]
    assert "do not match their digest" in problems["edited.json"]
    assert "not a tiesignal donation" in problems["foreign.json"]
    assert "another study's public key" in problems["another_study.json"]
    assert "version 2" in problems["future_version.json"]
    assert len(rejects) == 5 and len(requests) == 4  # two participants, two requests each


def test_a_second_donation_of_a_participant_replaces_the_first(tmp_path, data_config, study):
    write_export(tmp_path / "exports", "p1", participant("p1"))
    first = donate([tmp_path / "exports" / "p1"], study, tmp_path / "a")
    later = "2026-12-02T09:00:00+00:00"
    removed = [first["rows"][0][0]]
    second = donate([tmp_path / "exports" / "p1"], study, tmp_path / "b", removed, later)
    folder = tmp_path / "donations"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(first))
    (folder / "b.json").write_text(json.dumps(second))
    requests, _, _, report = ingest_donations(folder, data_config, SALT, lambda _: None)
    assert len(requests) == 1
    assert report.set_index("file").loc["a.json", "status"] == "superseded by b.json"
    assert report.set_index("file").loc["b.json", "rows_removed"] == 1


def test_a_donation_holds_nothing_personal(tiny_world, study, tmp_path):
    """Scanned against every name, profile address, e-mail and message phrase the
    simulator wrote into the exports."""
    cfg, records, _, _ = tiny_world
    exports = tmp_path / "exports"
    names = render_exports(cfg, records, exports, era="2024", max_exports=15, as_zip=False)
    for i, name in enumerate(names):
        body = json.dumps(donate([exports / name], study, tmp_path / f"p{i}"))
        secrets = set()
        for csv_file in (exports / name).glob("*.csv"):
            table = pd.read_csv(csv_file, dtype=str, keep_default_na=False,
                                on_bad_lines="skip", skiprows=_preamble(csv_file))  # fmt: skip
            for column in NAME_COLUMNS & set(table.columns):
                secrets.update(n for n in table[column] if len(n) >= 5)
            for cell in table.stack():
                words = [w for w in cell.replace("\n", " ").split(" ") if len(w) > 6]
                secrets.update(w for w in words if "/in/" in w or "@" in w)
                if len(cell) > 25 and not cell[:4].isdigit():
                    secrets.add(cell[:25])  # a phrase of a note or message, or a headline
        secrets.discard("")
        leaked = sorted(s for s in secrets if s in body)
        assert not leaked, leaked[:5]


NAME_COLUMNS = {"First Name", "Last Name", "From", "To", "FROM", "TO"}


def _preamble(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((i for i, line in enumerate(lines) if "," in line and "Notes:" not in line
                 and not line.startswith('"')), 0)  # fmt: skip


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_receiver_checks_limits_and_rekeys_on_arrival(tmp_path, study):
    write_export(tmp_path / "exports", "p1", participant("p1"))
    body = json.dumps(donate([tmp_path / "exports" / "p1"], study, tmp_path / "a")).encode()
    port, out = free_port(), tmp_path / "received"
    env = {**os.environ, "TIESIGNAL_SALT": SALT.decode(), "DVC_NO_ANALYTICS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "tiesignal.cli", "donations", "receive", "--port", str(port),
         "--out", str(out), "data.donation.max_body_mb=1"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/donations"
        wait_for_port(port)

        def post(data: bytes) -> tuple[int, dict]:
            request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:
                    return answer.status, json.load(answer)
            except urllib.error.HTTPError as err:
                return err.code, json.load(err)

        status, answer = post(body)
        assert status == 201 and answer["rows"] == 2
        assert post(body[:-40])[0] == 400
        assert post(b"x" * (2 << 20))[0] == 413
        kept = list(out.glob("donation-*.json"))
        assert len(kept) == 1 and not list(out.glob(".*"))  # atomic: no partial file left
        stored = json.loads(kept[0].read_text())
        public = json.loads(body)
        assert stored["keyed"] == "study" and stored["rows"][0][0] != public["rows"][0][0]
        assert len(stored["rows"][0][0]) == 20
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
