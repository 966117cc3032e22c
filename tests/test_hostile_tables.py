"""`tiesignal predict` and the `table` source on hostile CSV: odd encodings and
delimiters, blank lists, odd ids, huge numbers, formula cells, broken rows. Every row is
scored or rejected with its reason, no person's value reaches a reject, and no output
cell starts a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import logging
import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiesignal.cli import main as cli
from tiesignal.export.exported import ExportedModel
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.ingest.table import ingest_table
from tiesignal.io import FORMULA_START
from tiesignal.schema import InputError
from tiesignal.scoring import score_file

RANGE = ("2000-01-01", "2100-01-01")
SECRET = "secret"  # in every sender, recipient and headline: must never reach a reject
ROWS = 30


@pytest.fixture(scope="module")
def base_rows(trained) -> pd.DataFrame:
    """Valid requests as the text a CSV holds, with personal values marked."""
    raw = trained["raw"].sort_values("sent_at").head(ROWS).reset_index(drop=True)
    text = raw.astype(object).map(lambda v: "" if v is None else v)
    for column in ("sender_industries", "recipient_skills"):
        text[column] = raw[column].map(lambda v: ";".join(v) if v is not None else "")
    text["sender_id"] = [f"{SECRET}-sender-{i % 7}" for i in range(ROWS)]
    text["recipient_id"] = [f"{SECRET}-recipient-{i}" for i in range(ROWS)]
    text["sender_headline"] = [f"Recruiter ({SECRET} {i})" for i in range(ROWS)]
    text["sent_at"] = raw["sent_at"].map(lambda t: t.isoformat())
    return text.astype(str)


@pytest.fixture(scope="module")
def model(exported, tmp_path_factory) -> ExportedModel:
    return ExportedModel.load(exported[0], cache=tmp_path_factory.getbasetemp() / "cache")


JUNK = st.sampled_from(
    [
        "", " ", "NaN", "nan", "NULL", "None", "N/A", "\t", "=HYPERLINK(\"http://x\")",
        "+1", "-2", "@SUM(A1)", '["SQL", "Python"]', "['Go']", "[", "[[1]]", str(2**63),
        "-1", "1e400", "9999-12-31", "0001-01-01", "true", "maybe", "café", "a;b;;c",
        "line\nbreak", 'quote " inside',
    ]
)  # fmt: skip
COLUMNS = [
    "request_id", "sent_at", "sender_id", "recipient_id", "sender_headline",
    "sender_connections", "sender_industries", "recipient_skills", "recipient_seniority",
    "mutual_connections", "recipient_profile_completeness", "accepted_at", "source",
    "note_length", "note_template_id",
]  # fmt: skip


def hostile_csv(base: pd.DataFrame, cells, broken_rows, encoding: str, delimiter: str) -> bytes:
    rows = base.copy()
    for row, column, value in cells:
        rows.at[row, column] = value
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(rows.columns)
    for i, values in enumerate(rows.itertuples(index=False)):
        values = list(values)
        if i in broken_rows:
            values = values[: broken_rows[i]] if broken_rows[i] < len(values) else values + ["x"]
        writer.writerow(values)
    return out.getvalue().encode(encoding, errors="replace")


HOSTILE = {
    "cells": st.lists(
        st.tuples(st.integers(0, ROWS - 1), st.sampled_from(COLUMNS), JUNK), max_size=15
    ),
    "broken_rows": st.dictionaries(st.integers(0, ROWS - 1), st.integers(1, 40), max_size=3),
    "encoding": st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    "delimiter": st.sampled_from([",", ";", "\t"]),
    "chunk_size": st.sampled_from([7, 1000]),
}
SETTINGS = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@SETTINGS
@given(**HOSTILE)
def test_predict_scores_or_rejects_every_hostile_row(
    model, base_rows, tmp_path_factory, cells, broken_rows, encoding, delimiter, chunk_size
):
    folder = tmp_path_factory.mktemp("hostile")
    source, out, rejects = folder / "in.csv", folder / "scores.csv", folder / "rejects.csv"
    source.write_bytes(hostile_csv(base_rows, cells, broken_rows, encoding, delimiter))
    try:
        report = score_file(model, source, out, rejects, chunk_size, progress=False)
    except InputError as err:  # every row rejected: one line, naming the file
        assert str(source) in str(err) and SECRET not in str(err)
        assert "all 30 rows rejected" in str(err)
        report = None
    if not rejects.exists():  # nothing rejected: no rejects file
        assert report is not None and report.rows_rejected == 0
        return
    written = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert SECRET not in written.to_csv(), "no person's value in a reject"
    assert list(written.columns)[:4] == [
        "reject_file",
        "reject_row",
        "reject_column",
        "reject_reason",
    ]
    assert written["reject_row"].astype(int).is_unique
    if report is None:
        assert len(written) == ROWS
        return
    scores = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert report.rows_in == ROWS == len(scores) + len(written), "rows in = scored + rejected"
    assert not scores["request_id"].str.startswith(FORMULA_START).any()
    assert not written["request_id"].str.startswith(FORMULA_START).any()
    assert {int(r) for r in written["reject_row"]} >= set(broken_rows)


@SETTINGS
@given(**HOSTILE)
def test_the_table_source_keeps_or_rejects_every_hostile_row(
    base_rows, tmp_path_factory, cells, broken_rows, encoding, delimiter, chunk_size
):
    source = tmp_path_factory.mktemp("hostile") / "crm.csv"
    table = base_rows.drop(columns=["source"]).assign(accepted="true")
    cells = [(r, c, v) for r, c, v in cells if c != "source"]
    source.write_bytes(hostile_csv(table, cells, broken_rows, encoding, delimiter))
    chunks = list(
        ingest_table(source, Pseudonymizer(b"hostile-test-salt-0123456789"), *RANGE, chunk_size)
    )
    kept = pd.concat([k for k, _ in chunks])
    rejects = pd.concat([r for _, r in chunks])
    assert len(kept) + len(rejects) == ROWS, "rows in = kept + rejected"
    assert SECRET not in rejects.to_csv(), "no person's value in a reject"
    assert SECRET not in kept[["sender_id", "recipient_id"]].to_csv(), "ids are pseudonymized"
    assert (kept["source"] == "table").all() and kept["request_id"].is_unique
    assert set(rejects["reject_row"]) >= set(broken_rows)


def test_ids_lists_numbers_and_formulas_are_read_plainly(
    exported, base_rows, tmp_path, caplog, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rows = base_rows.copy()
    rows.loc[0, "request_id"] = "NULL"
    rows.loc[1, "request_id"] = "   "
    rows.loc[2, "recipient_skills"] = ""  # blank: no skills, scored
    rows.loc[3, "recipient_skills"] = '["SQL", "Python"]'
    rows.loc[4, "mutual_connections"] = str(2**63)
    rows.loc[5, "request_id"] = "=cmd|' /C calc'!A0"
    rows.loc[6, "source"] = "crm"  # not read to score
    rows.loc[7, "accepted_at"] = "9999-12-31"  # not read to score
    rows.loc[20, "request_id"] = rows.loc[8, "request_id"]  # a duplicate in another chunk
    source = tmp_path / "in.csv"
    source.write_bytes(rows.to_csv(index=False, sep=";").encode("utf-16"))
    out = tmp_path / "scores.csv"
    with caplog.at_level(logging.INFO, logger="tiesignal"):
        code = cli(["predict", str(source), "-o", str(out), "--model", str(exported[0]),
                    "--chunk-size", "10"])  # fmt: skip
    assert code == 0
    assert "decoded as UTF-16" in caplog.text and "separated by ';'" in caplog.text
    rejects = pd.read_csv(tmp_path / "scores.rejects.csv", dtype=str)
    assert rejects[["reject_row", "reject_column", "reject_reason"]].values.tolist() == [
        ["0", "request_id", "missing value"],
        ["1", "request_id", "missing value"],
        ["4", "mutual_connections", "out of range: a count above 9,007,199,254,740,992"],
        ["20", "request_id", "duplicate request_id (first at row 8)"],
    ]
    scores = pd.read_csv(out, dtype=str)
    assert len(scores) == ROWS - 4
    assert "'=cmd|' /C calc'!A0" in scores["request_id"].tolist(), "a formula is neutralized"


def test_an_unclosed_quote_is_one_rejected_row_naming_its_line(model, base_rows, tmp_path):
    lines = base_rows.head(6).to_csv(index=False).splitlines()
    lines[4] = lines[4].replace(",", ',"', 1)  # row 3 (line 5) opens a quote it never closes
    source = tmp_path / "in.csv"
    source.write_text("\n".join(lines) + "\n")
    report = score_file(model, source, tmp_path / "s.csv", tmp_path / "r.csv", 2, progress=False)
    assert (report.rows_in, report.rows_scored, report.rows_rejected) == (4, 3, 1)
    reject = pd.read_csv(tmp_path / "r.csv").iloc[0]
    assert reject["reject_row"] == 3 and reject["reject_column"] == "(row)"
    assert (
        reject["reject_reason"] == "line 5: not CSV (a quote opened on this line is never closed)"
    )


def test_a_personal_value_in_any_column_of_a_table_is_never_repeated(base_rows, tmp_path):
    """Issue 32: names, e-mails and profile URLs in number, time, flag and category columns
    of `data=table` are rejected by row and column; the reason never repeats them."""
    personal = ("Ana Maria Okafor", "ana.okafor@mail.example", "https://network.example/in/ok")
    table = base_rows.drop(columns=["source"]).assign(accepted="true")
    columns = [c for c in table.columns if c != "request_id"]
    for i, column in enumerate(columns):
        table.loc[i % ROWS, column] = personal[i % len(personal)]
    source = tmp_path / "crm.csv"
    table.to_csv(source, index=False)
    chunks = list(ingest_table(source, Pseudonymizer(b"hostile-test-salt-0123456789"), *RANGE, 7))
    rejects = pd.concat([r for _, r in chunks])
    assert len(rejects) >= 10
    text = rejects.to_csv()
    for value in personal:
        assert value not in text and value.split("@")[0] not in text
