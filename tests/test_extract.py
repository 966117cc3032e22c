"""The extraction core (`tiesignal.extract`): standard library only, and right on the cases
real exports bring (SPAM, drafts, archives, several exports, windows, damaged and
differently normalized text, impossible dates, macOS leftovers)."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import pandas as pd
import pytest
from conftest import ROOT, composed
from test_ingest import (
    NEW_INVITATIONS,
    NEW_MESSAGES,
    SALT,
    WINDOW,
    full,
    participant,
    write_export,
)

from tiesignal.config import DataConfig, load
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.ingest.exports import ingest_exports
from tiesignal.ingest.sources import ingest_source

MESSAGE_ROW = (
    "c{n},,Rita Moreno,https://network.example/in/rita-m,Ana Silva,,{date},,"
    '"{text}",{folder},,{draft},No\n'
)
OFFER = "the data role is open. Would you like an interview?"


@pytest.fixture(scope="module")
def data_config() -> DataConfig:
    return load(DataConfig, composed("data=member_exports")["data"], "data")


def messages(*rows: tuple[str, str, str, str]) -> str:
    """messages.csv with Rita's messages: (date, text, folder, draft) each."""
    header = NEW_MESSAGES.splitlines()[0] + "\n"
    return header + "".join(
        MESSAGE_ROW.format(n=n, date=date, text=text, folder=folder, draft=draft)
        for n, (date, text, folder, draft) in enumerate(rows)
    )


def rita(tmp_path, data_config, window=WINDOW, **files) -> pd.Series:
    """Rita's request to Ana, ingested from one export with `files` changed."""
    write_export(tmp_path, "p01", full(**files))
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), window)
    return result.requests.sort_values("sent_at").iloc[0]


@pytest.mark.parametrize(
    "folder, draft, opportunity",
    [("SPAM", "No", False), ("INBOX", "Yes", False), ("ARCHIVE", "No", True)],
)
def test_spam_and_drafts_never_count_archived_messages_do(
    tmp_path, data_config, folder, draft, opportunity
):
    row = rita(tmp_path, data_config, **{
        "messages.csv": messages(("2026-02-01 10:00:00 UTC", OFFER, folder, draft))
    })  # fmt: skip
    assert bool(row["opportunity"]) is opportunity


@pytest.mark.parametrize(
    "vague_day, offer_day, window, expected",
    [
        (35, None, 30, False),  # vague after the window: nothing inside it was vague
        (35, None, 60, None),  # inside a longer window it is unclear
        (5, 40, 30, None),  # vague inside, the offer after: unclear at 30 days
        (5, 40, 60, True),  # the offer inside: an opportunity
        (None, 40, 30, False),  # an offer after the window only: a negative at 30 days
    ],
)
def test_the_unclear_rule_looks_only_inside_the_window(
    tmp_path, data_config, vague_day, offer_day, window, expected
):
    sent = pd.Timestamp("2026-01-29 14:37", tz="UTC")
    rows = [
        (f"{sent + pd.Timedelta(days=day):%Y-%m-%d %H:%M:%S} UTC", text, "INBOX", "No")
        for day, text in ((vague_day, "open to new opportunities?"), (offer_day, OFFER))
        if day is not None
    ]
    name = f"Export_{(sent + pd.Timedelta(days=90)):%m-%d-%Y}"  # sees every message
    write_export(tmp_path, name, full(**{"messages.csv": messages(*rows)}))
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), window)
    row = result.requests.sort_values("sent_at").iloc[0]
    got = None if pd.isna(row["opportunity"]) else bool(row["opportunity"])
    if got and not pd.isna(row["opportunity_at"]):  # `prepare` reads the time against the window
        got = bool(row["opportunity_at"] - row["sent_at"] <= pd.Timedelta(days=window))
    assert got is expected and bool(row["opportunity_unclear"]) is (expected is None)


def test_a_participants_exports_merge_acceptance_and_censoring_on_the_newest(tmp_path, data_config):
    """A request only the older export holds, pending there, is accepted when the newer
    export's Connections lists its sender, and observed until the newer export's date."""
    older = full(**{"Invitations.csv": NEW_INVITATIONS.replace("Bo Chen", "Dee Fox")
                    .replace("in/bo-c", "in/dee-f")})  # fmt: skip
    dee = "Dee,Fox,https://network.example/in/dee-f,,Acme,CTO,10 Feb 2026\n"
    newer = full(**{"Connections.csv": full()["Connections.csv"] + dee})
    write_export(tmp_path / "p01", "Export_02-05-2026", older)
    write_export(tmp_path / "p01", "Export_03-01-2026", newer)
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    requests = result.requests.sort_values("sent_at")
    assert len(requests) == 3  # Rita (in both), Dee (older only), Bo (newer only)
    assert requests["accepted"].tolist() == [True, False, True]  # Rita, Bo, Dee
    assert (requests["observed_until"] == pd.Timestamp("2026-03-02", tz="UTC")).all()
    report = result.participants.set_index("export")
    assert report["requests"].sum() - report["requests_superseded"].sum() == len(requests)


def test_nul_bytes_in_direction_and_nfd_slugs_do_not_move_a_request(tmp_path, data_config):
    damaged = NEW_INVITATIONS.replace("INCOMING", "INCOMING\0\0")
    nfd = unicodedata.normalize("NFD", "rita-mé")
    invitations = damaged.replace("in/rita-m,", f"in/{unicodedata.normalize('NFC', 'rita-mé')},")
    connections = full()["Connections.csv"].replace("in/rita-m,", f"in/{nfd},")
    chat = NEW_MESSAGES.replace("in/rita-m,", f"in/{nfd},")
    changed = {"Invitations.csv": invitations, "Connections.csv": connections, "messages.csv": chat}
    write_export(tmp_path, "p01", full(**changed))
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    requests = result.requests.sort_values("sent_at")
    assert len(requests) == 2 and requests["sender_id"].nunique() == 2
    assert requests["accepted"].tolist() == [True, False]
    assert requests["opportunity"].tolist() == [True, False]  # under Rita's one pseudonym
    assert "control characters" in result.participants.iloc[0]["notes"]
    # a Direction that is neither is a reject, never an outgoing request
    misspelled = NEW_INVITATIONS.replace("INCOMING,https://network.example/in/bo-c",
                                         "INCOMMING,https://network.example/in/bo-c")  # fmt: skip
    write_export(tmp_path / "other", "p02", full(**{"Invitations.csv": misspelled}))
    other = ingest_exports(tmp_path / "other", data_config, Pseudonymizer(SALT), WINDOW)
    assert len(other.requests) == 1
    assert "neither INCOMING nor OUTGOING" in set(other.rejects["reject_reason"])


def test_dates_after_the_export_are_problems_not_data(tmp_path, data_config):
    future = NEW_INVITATIONS.replace('"2/3/26, 9:05 AM"', '"2/3/2099, 9:05 AM"')
    write_export(tmp_path, "Export_01-15-2099", full(**{"Invitations.csv": future}))
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    report = result.participants.iloc[0]
    assert "after today" in report["problems"]
    assert report["observed_until"] == "2026-02-01 10:00"  # its newest real date
    assert len(result.requests) == 1  # the request "sent" in 2099 is not a negative
    assert (result.rejects["reject_column"] == "Sent At").sum() == 1
    assert "after the export's date" in result.rejects["reject_reason"].iloc[0]


def test_macos_leftovers_and_empty_folders_are_not_exports(tmp_path, data_config):
    write_export(tmp_path, "p01.zip", {**participant("p1"), "__MACOSX/._Invitations.csv": "x"},
                 as_zip=True)  # fmt: skip
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "._p01.zip").write_bytes(b"\0\5\x16\7")
    (tmp_path / "empty" / "inner").mkdir(parents=True)
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    assert result.participants["export"].tolist() == ["p01.zip"]
    assert result.participants.iloc[0]["problems"] == ""
    assert result.ignored == ["empty/"]


def test_the_ingest_report_counts_a_merged_request_once(tmp_path, data_config, split_config):
    write_export(tmp_path / "p01", "Export_02-05-2026", participant("p1"))
    write_export(tmp_path / "p01", "Export_03-01-2026", participant("p1"))
    write_export(tmp_path, "p02", participant("p2"))
    report = ingest_source(
        data_config, split_config, tmp_path, tmp_path / "out", tmp_path / "origins.parquet",
        {"TIESIGNAL_SALT": SALT.decode()}, ROOT, lambda line: None, 1000,
    )  # fmt: skip
    table = pd.read_parquet(tmp_path / "out" / "requests.parquet")
    assert report["requests"] == len(table) == 4 and report["requests_superseded"] == 2
    assert report["accepted"] == int(table["accepted"].sum()) == 2
    assert report["opportunities"] == int(table["opportunity"].sum())


def test_the_core_imports_nothing_beyond_the_standard_library(tmp_path):
    """What the donation page runs: no numpy, pandas or pyarrow anywhere in its imports."""
    write_export(tmp_path, "p01", full())
    study = {"data": composed("data=donations")["data"], "label_window_days": WINDOW}
    code = (
        "import json, sys\n"
        "from tiesignal.extract.donation import extract_upload\n"
        f"preview = extract_upload({str(tmp_path)!r}, json.loads(sys.argv[1]))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'pandas', 'pyarrow', 'yaml', 'hydra', 'omegaconf'))\n"
        "print(json.dumps({'rows': len(preview['rows']), 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code, json.dumps(study)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    seen = json.loads(out.stdout)
    assert seen == {"rows": 2, "heavy": []}
