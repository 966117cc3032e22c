"""Validation keeps or rejects every row, and says where and why."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiesignal.schema import InputError, validate_requests

RANGE = ("2024-01-01", "2026-12-31")


@pytest.fixture(scope="module")
def sample(tiny_world) -> pd.DataFrame:
    return tiny_world[1].head(60).reset_index(drop=True)


def _check(df):
    return validate_requests(df, "requests.parquet", *RANGE)


def test_clean_rows_are_all_kept(sample):
    out = _check(sample)
    assert len(out.kept) == len(sample) and out.rejects.empty


def test_each_bad_row_is_rejected_with_row_column_and_reason(sample):
    df = sample.astype(object)
    df.loc[3, "sent_at"] = "yesterday"
    df.loc[5, "mutual_connections"] = -4
    df.loc[7, "request_id"] = df.loc[2, "request_id"]
    df.loc[9, "sent_at"] = pd.Timestamp("1999-05-01", tz="UTC")
    df.loc[11, "recipient_seniority"] = "intern"
    df.loc[13, "accepted"] = "maybe"
    out = _check(df)
    got = {
        row: (col, why)
        for row, col, why in out.rejects[
            ["reject_row", "reject_column", "reject_reason"]
        ].itertuples(index=False)
    }
    assert set(got) == {3, 5, 7, 9, 11, 13}
    assert got[3] == ("sent_at", "not an ISO 8601 time")  # a word is never shown: a name?
    assert got[5][0] == "mutual_connections"
    assert got[7] == ("request_id", "duplicate request_id (first at row 2)")
    assert got[9][0] == "sent_at" and "in_range" in got[9][1] and "1999-05-01" in got[9][1]
    assert got[11][0] == "recipient_seniority"
    assert got[13][0] == "accepted"
    assert (out.rejects["reject_file"] == "requests.parquet").all()
    assert len(out.kept) + len(out.rejects) == len(df)


def test_missing_required_column_and_empty_input_are_clear_errors(sample):
    with pytest.raises(InputError, match=r"requests.parquet: missing required column\(s\) sent_at"):
        _check(sample.drop(columns=["sent_at"]))
    with pytest.raises(InputError, match="no rows"):
        _check(sample.head(0))


def test_accepted_before_sent_is_rejected(sample):
    df = sample.copy()
    df.loc[4, "accepted_at"] = df.loc[4, "sent_at"] - pd.Timedelta(days=1)
    out = _check(df)
    assert out.rejects["reject_row"].tolist() == [4]
    assert "accepted_at is before sent_at" in out.rejects["reject_reason"].iloc[0]


JUNK = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
COLUMNS = [
    "request_id", "sent_at", "sender_id", "recipient_id", "sender_connections",
    "recipient_profile_completeness", "mutual_connections", "accepted", "accepted_at",
    "recipient_seniority", "source", "note_length",
]  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    corruptions=st.lists(st.tuples(st.integers(0, 59), st.sampled_from(COLUMNS), JUNK), max_size=12)
)
def test_malformed_rows_are_never_lost_and_kept_rows_are_valid(sample, corruptions):
    df = sample.astype(object).copy()
    for row, column, value in corruptions:
        df.at[row, column] = value
    out = _check(df)
    assert len(out.kept) + len(out.rejects) == len(df)
    assert out.rejects["reject_reason"].str.len().gt(0).all()
    assert out.rejects["reject_row"].is_unique
    kept = out.kept
    assert kept["request_id"].is_unique and kept["request_id"].notna().all()
    assert kept["sent_at"].notna().all() and kept["accepted"].notna().all()
    assert (kept["mutual_connections"].dropna() >= 0).all()
    assert kept["recipient_profile_completeness"].dropna().between(0, 1).all()
    # a corrupted row that survived must hold a canonical value, not the junk
    assert set(kept["source"]) <= {"simulated", "member_exports", "table"}
