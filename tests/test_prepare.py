"""Censoring, the label window and the time split."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from tiesignal.prepare import TooFewRequests, label_and_split
from tiesignal.schema import LABEL, SPLITS, validate_requests


@pytest.fixture(scope="module")
def prepared(tiny_world, split_config):
    kept = validate_requests(tiny_world[1], "raw", "2000-01-01", "2100-01-01").kept
    return kept, label_and_split(kept, split_config)


def test_every_row_lands_in_exactly_one_place(prepared):
    kept, out = prepared
    df = out.requests
    assert len(df) == len(kept) and df["request_id"].is_unique
    assert set(df["split"]) == {*SPLITS, "excluded"}
    assert df.loc[df["split"] == "excluded", "excluded_reason"].notna().all()
    assert df.loc[df["split"] != "excluded", "excluded_reason"].isna().all()


def test_splits_are_consecutive_periods(prepared):
    _, out = prepared
    df = out.requests
    spans = [df.loc[df["split"] == s, "sent_at"].agg(["min", "max"]) for s in SPLITS]
    assert spans[0]["max"] < spans[1]["min"] and spans[1]["max"] < spans[2]["min"]


def test_recipient_policies_shared_and_disjoint(prepared, split_config):
    """`shared` (the default, a forecasting split) keeps every labelled request and lets a
    recipient appear in several periods; `disjoint` keeps each recipient in one period."""
    kept, shared = prepared
    assert split_config.recipients == "shared"
    disjoint = label_and_split(kept, dataclasses.replace(split_config, recipients="disjoint"))
    policies = shared.report["rows_by_recipient_policy"]
    assert policies == disjoint.report["rows_by_recipient_policy"]
    used = {name: out.requests[out.requests["split"].isin(SPLITS)]
            for name, out in (("shared", shared), ("disjoint", disjoint))}  # fmt: skip
    assert len(used["shared"]) == policies["shared"] > len(used["disjoint"]) == policies["disjoint"]
    assert "recipient_in_later_split" not in shared.report["excluded"]
    assert shared.report["recipients_in_two_splits"] > 0
    assert (used["disjoint"].groupby("recipient_id")["split"].nunique() == 1).all()
    assert disjoint.report["recipients_in_two_splits"] == 0
    # the test period is the same under both: what disjoint loses is training data
    test = {name: set(u.loc[u["split"] == "test", "request_id"]) for name, u in used.items()}
    assert test["shared"] == test["disjoint"]


def test_open_windows_are_censored_not_negative(prepared, split_config):
    _, out = prepared
    df = out.requests
    window = pd.Timedelta(days=split_config.label_window_days)
    late = df["sent_at"] > out.report["data_end"] - window
    assert late.any()
    assert (df.loc[late, "excluded_reason"] == "censored").all()
    assert not df.loc[df["split"].isin(SPLITS), "sent_at"].gt(out.report["data_end"] - window).any()


def test_label_counts_only_opportunities_inside_the_window(prepared, split_config):
    kept, _ = prepared
    short = dataclasses.replace(split_config, label_window_days=3)
    df = label_and_split(kept, short).requests
    slow = df["opportunity"] & (df["opportunity_at"] - df["sent_at"] > pd.Timedelta(days=3))
    assert slow.any()
    assert not df.loc[slow, LABEL].any()
    assert df.loc[df["opportunity"] & ~slow, LABEL].all()


def test_missing_labels_are_excluded_with_a_reason(tiny_world, split_config):
    raw = tiny_world[1].copy()
    raw["opportunity"] = raw["opportunity"].astype("boolean")
    raw.loc[:99, "opportunity"] = pd.NA
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    df = label_and_split(kept, split_config).requests
    assert (df["excluded_reason"] == "no_label").sum() == 100


def test_bad_fractions_are_refused(prepared, split_config):
    kept, _ = prepared
    with pytest.raises(ValueError, match="below 1"):
        label_and_split(
            kept, dataclasses.replace(split_config, train_fraction=0.9, valid_fraction=0.2)
        )


def test_each_request_is_censored_at_its_own_observation_end(tiny_world, split_config):
    """Half the recipients exported 120 days before the data's end: their requests of the
    last 120 + window days are censored at their own export date, the others at the end."""
    raw = tiny_world[1].copy()
    data_end = max(raw[c].max() for c in ("sent_at", "accepted_at", "opportunity_at"))
    early = raw["recipient_id"].isin(raw["recipient_id"].drop_duplicates().iloc[::2])
    exported = data_end - pd.Timedelta(days=120)
    raw["observed_until"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    keep = ~early | (raw["sent_at"] <= exported)  # an export holds nothing after its date
    raw = raw[keep].copy()
    raw.loc[early[keep], "observed_until"] = exported
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    out = label_and_split(kept, split_config)
    df = out.requests
    window = pd.Timedelta(days=split_config.label_window_days)
    own = df["observed_until"].notna()
    assert own.any() and (~own).any()
    open_own = own & (df["sent_at"] > exported - window)
    open_rest = ~own & (df["sent_at"] > data_end - window)
    assert open_own.any(), "requests near their own export date exist"
    assert (df.loc[open_own | open_rest, "excluded_reason"] == "censored").all()
    closed = (own & ~open_own) | (~own & ~open_rest)
    assert not (df.loc[closed, "excluded_reason"] == "censored").any()
    report = out.report
    assert sum(report["censored_by_source"].values()) == report["excluded"]["censored"]
    assert report["censored_by_observed_until"] == {
        exported.strftime("%Y-%m-%d"): int(open_own.sum()),
        "data end": int(open_rest.sum()),
    }


def test_an_observation_end_before_sending_is_rejected(tiny_world):
    raw = tiny_world[1].head(50).copy()
    raw["observed_until"] = raw["sent_at"] - pd.Timedelta(days=1)
    rejects = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").rejects
    assert len(rejects) == 50
    assert set(rejects["reject_reason"]) == {"observed_until is before sent_at"}
    assert set(rejects["reject_column"]) == {"observed_until"}


def test_a_study_too_small_to_split_stops_with_the_counts_per_split(tiny_world, split_config):
    kept = validate_requests(tiny_world[1].head(80), "raw", "2000-01-01", "2100-01-01").kept
    with pytest.raises(TooFewRequests) as stopped:
        label_and_split(kept, split_config)
    message = str(stopped.value)
    assert all(f"{s} " in message for s in SPLITS) and "split.min_split_positives" in message
    lower = dataclasses.replace(split_config, min_split_rows=1, min_split_positives=0)
    counts = label_and_split(kept, lower).report["splits"]
    assert (
        f"valid {counts['valid']['rows']} requests, {counts['valid']['positives']} positive"
        in message
    )


def test_unclear_labels_are_left_out_with_their_own_reason(tiny_world, split_config):
    raw = tiny_world[1].copy()
    vague = raw.index[::50]
    raw["opportunity"] = raw["opportunity"].astype("boolean")
    raw.loc[vague, "opportunity"] = pd.NA
    raw.loc[vague, "opportunity_unclear"] = True
    raw.loc[vague[:5], "opportunity_unclear"] = False  # missing without a reason: no_label
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    out = label_and_split(kept, split_config)
    reasons = out.requests.set_index("request_id")["excluded_reason"]
    ids = raw.loc[vague, "request_id"]
    assert (reasons[ids[5:]] == "unclear").all() and (reasons[ids[:5]] == "no_label").all()
    assert out.report["excluded"]["unclear"] == len(vague) - 5


def test_a_table_reject_found_after_ingest_names_the_users_file_and_row(
    tiny_world, tmp_path, monkeypatch
):
    """Issue 32: a reject that `prepare` finds named data/interim/requests.parquet and its
    row there, a file the user never wrote. Ingest rejects row 3 of the table, so the
    rows after it move up by one in the canonical table; prepare rejects row 7 (an
    assignment that is no arm of the study, which only prepare checks) and names it so."""
    from conftest import run_stages, tiny_params

    from tiesignal.io import read_parquet

    rows = tiny_world[1].sort_values("sent_at", kind="stable").head(3000).reset_index(drop=True)
    rows.loc[3, "mutual_connections"] = -3
    rows.loc[7, "assignment"] = "zebra"
    rows.loc[9, "request_id"] = rows.loc[8, "request_id"]  # a duplicate: ingest rejects it
    source = tmp_path / "crm.parquet"
    rows.to_parquet(source)
    monkeypatch.setenv("TIESIGNAL_SALT", "prepare-origin-test-salt-0123456789")
    params = tiny_params("data=table", f"data.path={source}")
    run_stages(tmp_path, params, ("ingest", "prepare"))
    by_ingest = read_parquet(tmp_path / "data" / "interim" / "rejects.parquet")
    assert by_ingest["reject_row"].tolist() == [3, 9]
    by_prepare = read_parquet(tmp_path / "data" / "prepared" / "rejects.parquet")
    assert by_prepare[["reject_file", "reject_row", "reject_column"]].values.tolist() == [
        [str(source), 7, "assignment"]
    ]


def test_a_duplicates_first_row_is_named_in_the_source_too():
    from tiesignal.prepare import in_the_source
    from tiesignal.schema import origins_frame

    origins = origins_frame(["a/Invitations.csv"] * 2 + ["b/Invitations.csv"], [4, 9, 2])
    rejects = pd.DataFrame({
        "reject_file": ["data/interim/requests.parquet"] * 2, "reject_row": [1, 2],
        "reject_column": ["request_id"] * 2,
        "reject_reason": ["duplicate request_id (first at row 0)"] * 2,
    })  # fmt: skip
    named = in_the_source(rejects, origins)
    assert named["reject_file"].tolist() == ["a/Invitations.csv", "b/Invitations.csv"]
    assert named["reject_row"].tolist() == [9, 2]
    assert named["reject_reason"].tolist() == [
        "duplicate request_id (first at row 4)",
        "duplicate request_id (first at a/Invitations.csv row 4)",
    ]
