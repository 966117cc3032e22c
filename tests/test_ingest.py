"""Member exports and tables into the canonical schema: round trip from the simulator,
hand-written files of each era, every bad case, salts and hand labels."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, composed

from tiesignal.config import ConfigError, DataConfig, load
from tiesignal.extract.donation import public_pseudonyms
from tiesignal.extract.keys import Pseudonymizer, name_key, profile_key
from tiesignal.extract.participant import seniority
from tiesignal.extract.rules import LabelRules
from tiesignal.ingest.exports import ingest_exports
from tiesignal.ingest.pseudonym import load_salt
from tiesignal.ingest.sources import ingest_source
from tiesignal.ingest.table import ingest_table
from tiesignal.schema import InputError
from tiesignal.simulate.exports import ERAS, render_exports, round_trip

SALT = b"test-salt-0123456789abcdef"
WINDOW = 30  # split.label_window_days


@pytest.fixture(scope="module")
def data_config() -> DataConfig:
    return load(DataConfig, composed("data=member_exports")["data"], "data")


@pytest.mark.parametrize("era", sorted(ERAS))
def test_round_trip_from_the_simulator_gives_back_requests_and_labels(
    tiny_world, data_config, tmp_path, era
):
    cfg, records, _, _ = tiny_world
    names = render_exports(cfg, records, tmp_path, era=era, max_exports=400, as_zip=era != "2022")
    assert len(names) == 400
    rekey, public = Pseudonymizer(SALT), public_pseudonyms(data_config)
    ingested = ingest_exports(tmp_path, data_config, rekey, WINDOW)
    agreement = round_trip(cfg, records, ingested.requests, lambda key: rekey(public(key)), era)
    print(agreement)
    assert set(ingested.participants["status"]) == {"used"}
    assert agreement["share_matched"] >= (1.0 if ERAS[era].urls else 0.99)
    assert agreement["requests_ingested"] == agreement["requests_matched"]
    assert agreement["accepted_agreement"] >= 0.98  # a sender who invited twice is one connection
    assert agreement["industry_agreement"] == agreement["seniority_agreement"] == 1.0
    assert agreement["note_features_agreement"] == 1.0  # the same function, the same inputs
    # friendly messages that name an opportunity but no job are unclear, not positives
    assert agreement["label_precision"] >= 0.85 and agreement["label_recall"] >= 0.9


NEW_INVITATIONS = (
    "From,To,Sent At,Message,Direction,inviterProfileUrl,inviteeProfileUrl\n"
    'Rita Moreno,Ana Silva,"1/29/26, 2:37 PM","Hi Ana, I\'m hiring for a data role at Lumen.\n'
    'Your ""Python"" work stands out.",INCOMING,https://network.example/in/rita-m,'
    "https://network.example/in/ana-s\n"
    'Bo Chen,Ana Silva,"2/3/26, 9:05 AM",,INCOMING,https://network.example/in/bo-c,'
    "https://network.example/in/ana-s\n"
    'Ana Silva,Cy Dune,"2/4/26, 9:05 AM",,OUTGOING,https://network.example/in/ana-s,'
    "https://network.example/in/cy-d"
)
NEW_CONNECTIONS = (
    'Notes:\n"When exporting your connection data, you may notice that some emails are '
    'missing."\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n'
    "Rita,Moreno,https://network.example/in/rita-m,rita@mail.example,Lumen,Recruiter,"
    "30 Jan 2026\n,,,,,,07 Jun 2025\n"
)
NEW_MESSAGES = (
    "CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,RECIPIENT PROFILE URLS,"
    "DATE,SUBJECT,CONTENT,FOLDER,ATTACHMENTS,IS MESSAGE DRAFT,IS CONVERSATION DRAFT\n"
    "c1,,Rita Moreno,https://network.example/in/rita-m,Ana Silva,,2026-02-01 10:00:00 UTC,,"
    '"Hi Ana,\n\nthe data role is open. Would you like an interview?",INBOX,,No,No\n'
)
PROFILE = (
    "First Name,Last Name,Maiden Name,Address,Birth Date,Headline,Summary,Industry,Zip Code,"
    "Geo Location,Twitter Handles,Websites,Instant Messengers\n"
    "Ana,Silva,,,,Senior Data Engineer,Builds pipelines,Software,,,,,\n"
)
POSITIONS = (
    "Company Name,Title,Description,Location,Started On,Finished On\n"
    "Lumen,Senior Data Engineer,,,Jan 2021,\nOld Co,Data Analyst,,,Mar 2017,Dec 2020\n"
)
SKILLS = "Name\nPython\nSQL"
# the oldest era: no URL columns, no preamble, four-digit years, names written differently
OLD_INVITATIONS = (
    "From,To,Sent At,Message,Direction\n"
    'RITA MORENO,Ana Silva,"1/29/2021, 2:37 PM",Hello there,INCOMING\n'
)
OLD_CONNECTIONS = (
    "First Name,Last Name,Email Address,Company,Position,Connected On\n"
    "Rita,Moreno,,Lumen,Recruiter,30 Jan 2021"
)
OLD_MESSAGES = (
    "CONVERSATION ID,CONVERSATION TITLE,FROM,TO,DATE,SUBJECT,CONTENT\n"
    'c1,,"Rita Moreno, MBA",Ana Silva,2021-02-01 10:00:00 UTC,,Is now a good time to talk?\n'
)


def write_export(folder: Path, name: str, files: dict[str, str | bytes], as_zip=False) -> None:
    if as_zip:
        with zipfile.ZipFile(folder / name, "w") as archive:
            for file, text in files.items():
                archive.writestr(file, text)
        return
    (folder / name).mkdir(parents=True)
    for file, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / name / file).write_bytes(data)


def full(**changes) -> dict[str, str | bytes]:
    files = {
        "Invitations.csv": NEW_INVITATIONS,
        "Connections.csv": NEW_CONNECTIONS,
        "messages.csv": NEW_MESSAGES,
        "Profile.csv": PROFILE,
        "Positions.csv": POSITIONS,
        "Skills.csv": SKILLS,
    }
    files.update(changes)
    return {k: v for k, v in files.items() if v is not None}


def test_hand_written_exports_of_the_newest_and_oldest_eras(tmp_path, data_config):
    write_export(tmp_path, "p01.zip", full(), as_zip=True)
    write_export(
        tmp_path,
        "p02",
        full(
            **{"Invitations.csv": OLD_INVITATIONS, "Connections.csv": OLD_CONNECTIONS},
            **{"messages.csv": None, "MESSAGES.csv": OLD_MESSAGES},  # a drifted file name
        ),
    )
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    by_export = result.participants.set_index("export")
    assert by_export.loc["p01.zip", "requests"] == 2 and by_export.loc["p01.zip", "outgoing"] == 1
    assert by_export.loc["p01.zip", "joined_on"] == "profile URLs"
    assert by_export.loc["p02", "joined_on"] == "names"
    new = result.requests.iloc[:2]
    assert new["accepted"].tolist() == [True, False]
    assert new["opportunity"].tolist() == [True, False]  # "the data role is open ... interview"
    assert new["opportunity_at"].iloc[0] == pd.Timestamp("2026-02-01 10:00", tz="UTC")
    assert new["sent_at"].iloc[0] == pd.Timestamp("2026-01-29 14:37", tz="UTC")
    assert new["accepted_at"].iloc[0] == pd.Timestamp("2026-01-30", tz="UTC")
    assert bool(new["note_mentions_name"].iloc[0]) and bool(new["note_mentions_company"].iloc[0])
    assert new["note_skill_mentions"].iloc[0] == 1  # "Python" among the skills
    assert new["recipient_seniority"].iloc[0] == "senior"
    assert new["recipient_connections"].iloc[0] == 2  # the hidden profile counts
    assert new["recipient_skills"].iloc[0] == ["Python", "SQL"]
    assert new["sender_headline"].isna().all()  # off by default: it would give acceptance away
    old = result.requests.iloc[2]
    # "RITA MORENO" invited, "Rita Moreno, MBA" wrote: the same person by name; no rule
    # word in "a good time to talk", and the messages file was found under its drifted name
    assert bool(old["accepted"]) and old["opportunity"] is not pd.NA and not old["opportunity"]
    assert "messages" not in by_export.loc["p02", "problems"]


def test_an_export_is_observed_until_the_date_in_its_name_else_its_newest_date(
    tmp_path, data_config
):
    def ingested(name: str, as_zip: bool = False):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        write_export(folder, name, full(), as_zip=as_zip)
        result = ingest_exports(folder, data_config, Pseudonymizer(SALT), WINDOW)
        return result.participants.iloc[0], result.requests

    named, requests = ingested("Complete_LinkedInDataExport_02-20-2026.zip", as_zip=True)
    assert named["observed_until"] == "2026-02-21 00:00"  # the end of the export's day
    assert named["observed_until_from"] == "export name"
    assert (requests["observed_until"] == pd.Timestamp("2026-02-21", tz="UTC")).all()
    iso, _ = ingested("Basic_LinkedInDataExport_2026-03-01")
    assert iso["observed_until"] == "2026-03-02 00:00"
    inside, requests = ingested("p03")
    assert inside["observed_until_from"].startswith("newest date inside")
    newest = max(requests[c].max() for c in ("sent_at", "accepted_at", "opportunity_at"))
    assert requests["observed_until"].iloc[0] >= newest
    assert inside["observed_until"] == f"{requests['observed_until'].iloc[0]:%Y-%m-%d %H:%M}"


def test_hand_labels_override_the_rules(tmp_path, data_config):
    write_export(tmp_path, "p01", full())
    (tmp_path / "labels.csv").write_text(
        "export,sender,opportunity\np01,https://network.example/in/rita-m,false\n"
        "p01,Bo Chen,true\np01,,maybe\n"
    )
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    assert result.requests["opportunity"].tolist() == [False, True]
    bad = result.rejects[result.rejects["reject_file"] == "labels.csv"]
    assert bad["reject_row"].tolist() == [4]


def test_hand_labels_name_an_export_inside_a_participant_folder(tmp_path, data_config):
    (tmp_path / "p01").mkdir()
    write_export(tmp_path / "p01", "Export.zip", full(), as_zip=True)
    (tmp_path / "labels.csv").write_text(
        "export,sender,opportunity\np01/Export.zip,https://network.example/in/rita-m,false\n"
    )
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    assert result.requests["opportunity"].tolist() == [False, False]
    assert result.participants.iloc[0]["rule_hand_label"] == 1


def test_every_bad_case_is_reported_and_the_other_exports_still_count(tmp_path, data_config):
    truncated = NEW_INVITATIONS + '\nZed Q,Ana Silva,"2/9/26'  # the last row cut off
    cases = {
        "a_good": full(),
        "b_truncated": full(**{"Invitations.csv": truncated}),
        "c_cp1252": full(**{"Profile.csv": PROFILE.replace("Ana", "Ána").encode("cp1252")}),
        "d_bom": full(**{"Invitations.csv": codecs.BOM_UTF8 + NEW_INVITATIONS.encode()}),
        "e_utf16": full(**{"Connections.csv": NEW_CONNECTIONS.encode("utf-16")}),
        "f_empty": full(**{"messages.csv": ""}),
        "g_missing": full(**{"Connections.csv": None}),
        "h_extra_columns": full(
            **{"Skills.csv": "Name,Endorsements\nPython,4"},
        ),
        "i_unknown_era": full(**{"Invitations.csv": "Sender;Recipient;When\nx;y;z"}),
    }
    for name, files in cases.items():  # each a different participant (a_good is ana-s)
        who = {
            k: v.replace(b"/in/ana-s", f"/in/{name}".encode())
            if isinstance(v, bytes)
            else v.replace("/in/ana-s", f"/in/{name}")
            for k, v in files.items()
        }
        write_export(tmp_path, name, files if name == "a_good" else who)
    (tmp_path / "j_not_a_zip.zip").write_bytes(b"this is not a zip")
    write_export(tmp_path, "k_same_participant", full())
    (tmp_path / "l_page.zip").write_bytes(b"\n<!DOCTYPE html><html><body>Download</body></html>")
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    report = result.participants.set_index("export")
    rejects = result.rejects

    assert report.loc["a_good", "requests"] == 2
    assert report.loc["b_truncated", "requests"] == 2 and report.loc["b_truncated", "bad_rows"] == 1
    row = rejects[rejects["reject_file"] == "b_truncated/Invitations.csv"].iloc[0]
    assert row["reject_row"] == 6 and "truncated" in row["reject_reason"]
    assert "decoded as Windows-1252" in report.loc["c_cp1252", "notes"]
    assert report.loc["d_bom", "requests"] == 2 and report.loc["d_bom", "problems"] == ""
    assert report.loc["d_bom", "notes"] == (
        "Invitations.csv: starts with a byte-order mark (read); Connections.csv: 1 connection(s) "
        "with no name or URL (hidden profiles): counted, never matched to an invitation"
    )
    assert (
        "Invitations.csv: 1 row(s) not read, truncated or malformed (line 6; in the rejects)"
        in (report.loc["b_truncated", "problems"])
    )
    assert "UTF-16" in report.loc["e_utf16", "notes"]
    assert report.loc["e_utf16", "accepted"] == 1
    assert "messages.csv: empty file" in report.loc["f_empty", "problems"]
    assert report.loc["f_empty", "labelled"] == 0  # no messages: the label is unknown
    assert "Connections.csv: missing" in report.loc["g_missing", "problems"]
    assert report.loc["g_missing", "requests_rejected"] == 2
    assert "acceptance unknown" in " ".join(
        rejects[rejects["reject_file"].str.startswith("g_missing")]["reject_reason"]
    )
    assert "unknown column(s) Endorsements" in report.loc["h_extra_columns", "notes"]
    assert "no header row with columns From, To, Sent At" in report.loc["i_unknown_era", "problems"]
    assert report.loc["j_not_a_zip.zip", "status"].startswith("not a readable zip file")
    assert report.loc["l_page.zip", "status"].endswith("(an HTML page: the download page was "
                                                       "saved instead of the export)")  # fmt: skip
    # the same participant's second export is merged with the first, request by request
    assert report.loc["k_same_participant", "status"] == "used"
    assert report.loc[["a_good", "k_same_participant"], "merged_exports"].tolist() == [2, 2]
    assert report.loc[["a_good", "k_same_participant"], "requests_superseded"].sum() == 2
    # nothing lost: every incoming invitation is a request or a counted reject
    used = report[report["requests"] > 0]
    assert (used["requests"] + used["requests_rejected"] + used["outgoing"] >= 3).all()
    assert len(result.requests) == report["requests"].sum() - report["requests_superseded"].sum()
    assert result.requests["request_id"].is_unique
    # and no raw value in any reason or problem
    text = " ".join(rejects["reject_reason"]) + " ".join(report["problems"])
    for raw in ("Rita", "Moreno", "network.example", "Lumen", "interview", "Zed"):
        assert raw not in text


def test_person_keys_and_ids():
    assert profile_key("https://network.example/in/Ana-S%C3%A9/?trk=x") == "in/ana-sé"
    assert name_key("  ÁNA   Silva, PhD 🚀") == name_key("Ana Silva") == "name/ana silva"
    one, two = Pseudonymizer(SALT), Pseudonymizer(SALT[::-1])
    assert one("in/ana") == Pseudonymizer(SALT)("in/ana") != two("in/ana")
    assert len(one("in/ana")) == 20 and "ana" not in one("in/ana")
    assert seniority("Head of Data") == "executive" and seniority("Jr. Analyst") == "entry"
    assert seniority("Staff Engineer") == "senior" and seniority("Data Engineer") == "mid"


def test_real_data_refuses_to_run_without_a_secret_salt(tmp_path):
    with pytest.raises(InputError, match="needs a secret salt"):
        load_salt({}, "TIESIGNAL_SALT", str(tmp_path / "none"), ROOT)
    with pytest.raises(InputError, match="at least 16"):
        load_salt({"TIESIGNAL_SALT": "short"}, "TIESIGNAL_SALT", "x", ROOT)
    inside = ROOT / ".salt-test"
    inside.write_text("a" * 32)
    try:
        with pytest.raises(InputError, match="inside the repository"):
            load_salt({}, "TIESIGNAL_SALT", str(inside), ROOT)
    finally:
        inside.unlink()
    salt = tmp_path / "salt"
    salt.write_text("0123456789abcdef-salt\n")
    salt.chmod(0o600)
    assert load_salt({}, "TIESIGNAL_SALT", str(salt), ROOT) == b"0123456789abcdef-salt"
    assert (
        load_salt({"TIESIGNAL_SALT": "k3y-s4lt-" * 2}, "TIESIGNAL_SALT", "x", ROOT)
        == b"k3y-s4lt-" * 2
    )


@pytest.mark.parametrize("weak", [" " * 16, "a" * 32, "abcabcabcabcabcabc", "\t\n " * 8])
def test_a_guessable_salt_is_refused(weak):
    with pytest.raises(InputError, match=r"(distinct bytes|at least 16)"):
        load_salt({"TIESIGNAL_SALT": weak}, "TIESIGNAL_SALT", "x", ROOT)


def test_a_salt_folder_is_refused_and_a_readable_salt_file_warned_about(tmp_path, caplog):
    with pytest.raises(InputError, match="not a file"):
        load_salt({}, "TIESIGNAL_SALT", str(tmp_path), ROOT)
    salt = tmp_path / "salt"
    salt.write_text("0123456789abcdef-salt")
    salt.chmod(0o644)
    with caplog.at_level("WARNING"):
        load_salt({}, "TIESIGNAL_SALT", str(salt), ROOT)
    assert "other users can read the salt file" in caplog.text and "0123" not in caplog.text


def test_a_canonical_table_is_validated_pseudonymized_and_its_notes_reduced(tmp_path):
    table = tmp_path / "crm.csv"
    table.write_text(
        "request_id,sent_at,sender_id,recipient_id,note,accepted,source,recipient_skills\n"
        "r1,2025-01-01T10:00:00Z,ana@mail.example,bo@mail.example,Hi! Your SQL work,true,"
        "table,SQL;Python\n"
        "r2,yesterday noon,ana@mail.example,cy@mail.example,,false,table,\n"
        "r3,2025-01-02T10:00:00Z,,cy@mail.example,,false,table,\n"
    )
    (kept, rejects), *_ = list(ingest_table(table, Pseudonymizer(SALT), "2000-01-01", "2100-01-01"))
    assert kept["request_id"].tolist() == ["r1"]
    assert "note" not in kept.columns and kept["note_skill_mentions"].tolist() == [1]
    assert "@" not in kept["sender_id"].iloc[0] + kept["recipient_id"].iloc[0]
    assert rejects[["reject_row", "reject_column"]].values.tolist() == [
        [1, "sent_at"],
        [2, "sender_id"],
    ]
    assert "mail.example" not in rejects.to_csv(), "no person's value in a reject"


def test_a_table_gives_its_observation_end_by_column_or_config(tmp_path):
    table = tmp_path / "crm.csv"
    table.write_text(
        "request_id,sent_at,sender_id,recipient_id,accepted,observed_until\n"
        "r1,2025-01-01T10:00:00Z,s1,m1,true,2025-02-01\n"
        "r2,2025-01-05T10:00:00Z,s1,m2,false,\n"
        "r3,2025-01-09T10:00:00Z,s2,m2,false,2025-01-08\n"  # watched until before it was sent
    )
    (kept, rejects), *_ = ingest_table(table, Pseudonymizer(SALT), "2000-01-01", "2100-01-01",
                                       observed_until="2025-03-01")  # fmt: skip
    until = dict(
        zip(kept["request_id"], kept["observed_until"].dt.strftime("%Y-%m-%d"), strict=True)
    )
    assert until == {"r1": "2025-02-01", "r2": "2025-03-01"}
    assert rejects[["reject_row", "reject_column"]].values.tolist() == [[2, "observed_until"]]
    with pytest.raises(InputError, match=r"1 request\(s\) sent after data.observed_until"):
        list(ingest_table(table, Pseudonymizer(SALT), "2000-01-01", "2100-01-01",
                          observed_until="2025-01-03"))  # fmt: skip
    with pytest.raises(ConfigError, match="data.observed_until: not a date"):
        list(ingest_table(table, Pseudonymizer(SALT), "2000-01-01", "2100-01-01",
                          observed_until="soon"))  # fmt: skip


def participant(name: str, **changes) -> dict[str, bytes]:
    """`full()` as another participant (their own profile URL), as bytes."""
    return {
        file: (text if isinstance(text, bytes) else text.encode()).replace(
            b"/in/ana-s", f"/in/{name}".encode()
        )
        for file, text in full(**changes).items()
    }


def zip_with(path: Path, entries: list[tuple[str, bytes]], mode: int | None = None) -> None:
    import warnings

    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # a duplicate name, on purpose
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)


def patch_headers(path: Path, flag: int = 0, method: int | None = None) -> None:
    """Set general-purpose flag bits (0x1: encrypted) or the compression method (9:
    Deflate64) in every local and central header, as another zip tool would write them."""
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flag_at] |= flag
            if method is not None:
                data[at + flag_at + 2 : at + flag_at + 4] = method.to_bytes(2, "little")
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_hostile_exports_are_problems_of_their_own_export(tmp_path, data_config):
    import dataclasses

    from tiesignal.ingest.sources import ingest_member_exports

    exports, outside = tmp_path / "exports", tmp_path / "outside"
    exports.mkdir()
    outside.mkdir()
    (outside / "messages.csv").write_text(NEW_MESSAGES.replace("Rita Moreno", "Zed Secret"))
    zip_with(exports / "a_good.zip", list(participant("a").items()))
    zip_with(exports / "b_encrypted.zip", list(participant("b").items()))
    patch_headers(exports / "b_encrypted.zip", flag=0x1)
    zip_with(exports / "c_deflate64.zip", list(participant("c").items()))
    patch_headers(exports / "c_deflate64.zip", method=9)
    bomb = participant("d", **{"messages.csv": b"\0" * (40 << 20)})  # 40 MB of zeros
    zip_with(exports / "d_bomb.zip", list(bomb.items()))
    write_export(exports, "e_links", participant("e", **{"messages.csv": None}))
    (exports / "e_links" / "messages.csv").symlink_to(outside / "messages.csv")
    (exports / "e_links" / "more").symlink_to(outside, target_is_directory=True)
    (exports / "f_link_to_an_export").symlink_to(exports / "e_links")
    zip_with(exports / "g_zip_link.zip", list(participant("g", **{"messages.csv": None}).items()))
    zip_with(exports / "g_zip_link.zip.tmp", [("messages.csv", b"/etc/passwd")], mode=0o120777)
    with (
        zipfile.ZipFile(exports / "g_zip_link.zip", "a") as archive,
        zipfile.ZipFile(exports / "g_zip_link.zip.tmp") as link,
    ):
        archive.writestr(link.infolist()[0], link.read("messages.csv"))
    (exports / "g_zip_link.zip.tmp").unlink()
    twice = participant("h")
    zip_with(exports / "h_duplicates.zip", [*twice.items(), ("Invitations.csv", b"From,To\nx,y")])
    zip_with(exports / "i_nested.zip", [("inner.zip", (exports / "a_good.zip").read_bytes())])
    unknown = "Name," + ",".join(f"column{i}" for i in range(100_000)) + "\nPython\n"
    write_export(exports, "j_new\nline=1", participant("j", **{"Skills.csv": unknown}))
    write_export(exports, '=HYPERLINK("x")', participant("k"))

    limited = dataclasses.replace(data_config, max_file_mb=8)
    out = tmp_path / "interim"
    report = ingest_member_exports(
        exports, limited, Pseudonymizer(SALT), WINDOW, out, out / "origins.parquet", lambda *a: None
    )
    table = pd.read_csv(out / "participants.csv", dtype=str, keep_default_na=False)
    by = table.set_index("export")
    status, problems = by["status"].to_dict(), by["problems"].to_dict()

    assert status["a_good.zip"] == "used" and by.loc["a_good.zip", "requests"] == "2"
    assert "Invitations.csv: encrypted, not read" in problems["b_encrypted.zip"]
    assert "compression method 9 is not supported" in problems["c_deflate64.zip"]
    assert "messages.csv: cannot be read from the export (inflates past" in problems["d_bomb.zip"]
    assert status["d_bomb.zip"] == "used", "the other files of a bomb's export still count"
    assert "messages.csv: a symbolic link, not followed" in problems["e_links"]
    assert "more: a symbolic link, not followed" in problems["e_links"]
    assert status["f_link_to_an_export"] == "a symbolic link, not followed"
    assert "messages.csv: a symbolic link, not followed" in problems["g_zip_link.zip"]
    assert "Invitations.csv: 2 entries of this name, none read" in problems["h_duplicates.zip"]
    assert "inner.zip: a zip inside the export, not read" in problems["i_nested.zip"]
    notes = by.loc["j_new?line=1", "notes"]
    assert status["j_new?line=1"] == "used" and len(notes) < 400 and "and 99995 more" in notes
    assert '\'=HYPERLINK("x")' in by.index, "a formula name is neutralized in the CSV"
    assert report["exports"] == 11 and "Zed Secret" not in (out / "participants.csv").read_text()
    assert "\n" not in "".join(problems.values()) + "".join(by["notes"])


def test_participant_folders_merge_exports_and_report_copies(tmp_path, data_config):
    """The layout a study platform delivers: one folder per participant."""
    header_only = NEW_MESSAGES.splitlines()[0] + "\n"
    layout = {
        "p01/Complete_LinkedInDataExport_02-15-2026.zip": participant("p1"),
        "p02/Basic_LinkedInDataExport_02-15-2026": participant("p2"),
        # two exports of one participant: the newer one has the recruiter's message
        "p03/Basic_LinkedInDataExport_02-15-2026.zip": participant(
            "p3", **{"messages.csv": header_only}
        ),
        "p03/Basic_LinkedInDataExport_03-01-2026.zip": participant("p3"),
        "p04/Export.zip": participant("p4"),
        "p04/Export (1).zip": participant("p4"),  # the same donation downloaded twice
    }
    for name, files in layout.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        write_export(tmp_path / name.split("/")[0], name.split("/")[1], files,
                     as_zip=name.endswith(".zip"))  # fmt: skip
    (tmp_path / "p05").mkdir()
    (tmp_path / "p05" / "Export.zip").write_bytes(b"<html><body>Sign in</body></html>")
    (tmp_path / "p01" / "notes.txt").write_text("from the platform")
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    report = result.participants.set_index("export")

    assert sorted(report.index) == sorted([*layout, "p05/Export.zip"])
    assert result.ignored == ["p01/notes.txt"]
    used = report[report["status"] == "used"]
    assert sorted(used["participant"].unique()) == ["p01", "p02", "p03", "p04"]
    assert report.loc["p04/Export (1).zip", "status"] == "a second copy of p04/Export.zip"
    assert "an HTML page" in report.loc["p05/Export.zip", "status"]
    older, newer = (f"p03/Basic_LinkedInDataExport_{d}-2026.zip" for d in ("02-15", "03-01"))
    assert report.loc[[older, newer], "merged_exports"].tolist() == [2, 2]
    assert report.loc[older, "requests_superseded"] == 2
    requests = result.requests
    assert requests["request_id"].is_unique and requests["recipient_id"].nunique() == 4
    p3 = requests[requests["observed_until"] == pd.Timestamp("2026-03-02", tz="UTC")]
    assert len(p3) == 2 and p3["opportunity"].tolist() == [True, False]  # the newer outcome


@pytest.mark.parametrize(
    "message, reading",
    [
        ("We have an opening for a data engineer, interested?", ("opportunity", "opening")),
        ("I'd love you to join our team, can we talk?", ("opportunity", "team")),
        ("Sorry Ana, we are not hiring at the moment.", None),
        ("There's a hiring freeze, so no openings this quarter.", None),
        ("Thanks! The data role has been filled, but let's stay in touch.", None),
        ("We're no longer recruiting for that role.", None),
        ("Are you open to new opportunities?", ("unclear", "vague_opportunity")),
        ("Happy to share my job search tips.", None),
        ("Great to connect!", None),
    ],
)
def test_label_rules_read_negations_and_vague_offers(data_config, message, reading):
    assert LabelRules(data_config.opportunity_rules).reading(message) == reading


def test_an_offer_that_names_no_job_is_an_unclear_label(tmp_path, data_config):
    vague = NEW_MESSAGES.replace("the data role is open. Would you like an interview?",
                                 "are you open to new opportunities?")  # fmt: skip
    write_export(tmp_path, "p01", full(**{"messages.csv": vague}))
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    report = result.participants.iloc[0]
    assert report["unclear"] == 1 and report["rule_unclear_vague_opportunity"] == 1
    rita = result.requests.iloc[0]
    assert bool(rita["opportunity_unclear"]) and pd.isna(rita["opportunity"])
    assert not result.requests["opportunity_unclear"].iloc[1]  # Bo never wrote: a negative


def reordered(text: str) -> str:
    """A CSV with its columns in reverse order."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([row[::-1] for row in rows])
    return out.getvalue()


def test_quiet_quirks_are_reported_per_export(tmp_path, data_config, split_config):
    header_only = NEW_MESSAGES.splitlines()[0] + "\n"
    extra = {"guide_messages.csv": "CONVERSATION ID,FROM,CONTENT\n", "Rich_Media.csv": "a,b\n"}
    write_export(tmp_path, "p01.zip", full(**{"messages.csv": header_only}, **extra), as_zip=True)
    result = ingest_exports(tmp_path, data_config, Pseudonymizer(SALT), WINDOW)
    notes = result.participants.iloc[0]["notes"]
    assert "2 other CSV file(s) not read (Rich_Media.csv, guide_messages.csv)" in notes
    assert "messages.csv: a header and no rows" in notes
    assert "1 connection(s) with no name or URL" in notes
    assert result.participants.iloc[0]["problems"] == ""
    # columns in another order are read by name, and said to be unusual
    other = tmp_path.parent / f"{tmp_path.name}-reordered"
    other.mkdir()
    write_export(other, "p03", participant("p3", **{"Invitations.csv": reordered(NEW_INVITATIONS)}))
    write_export(other, "p04", participant("p4"))
    usual = ingest_exports(other, data_config, Pseudonymizer(SALT), WINDOW).participants.set_index(
        "export"
    )
    assert (
        "Invitations.csv: columns in an unusual order (read by name)" in usual.loc["p03", "notes"]
    )
    assert "unusual order" not in usual.loc["p04", "notes"]
    assert usual.loc["p03", "requests"] == usual.loc["p04", "requests"] == 2
    # the log sums notes up by kind, once, instead of a line per export
    write_export(tmp_path, "p02", participant("p2"))
    lines: list[str] = []
    ingest_source(data_config, split_config, tmp_path, tmp_path / "out",
                  tmp_path / "origins.parquet", {"TIESIGNAL_SALT": SALT.decode()}, ROOT,
                  lines.append, 1000)  # fmt: skip
    summary = [line for line in lines if "(participants.csv, notes)" in line]
    assert "  2 export(s): Connections.csv: N connection(s) with no name or URL" in summary[0]
    assert not any(line.startswith("p0") for line in lines), "used exports: no line each"
    assert result.participants.iloc[0]["status"] == "used"
