"""Track records are point-in-time: a request sees only the outcomes that were observable
before it was sent, whether the stream is featurized at once or chunk by chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesignal.features.build import History, build_features
from tiesignal.features.track_record import TrackRecordPrior

PRIOR = TrackRecordPrior(label_window_days=30, prior_weight=2.0, acceptance_rate=0.5,
                         opportunity_rate=0.1)  # fmt: skip
TRACKED = ["sender_acceptance_rate", "sender_opportunity_rate", "sender_outcomes_seen",
           "recipient_acceptance_rate", "recipient_outcomes_seen"]  # fmt: skip


@pytest.fixture(scope="module")
def tracked(tiny_requests):
    return build_features(tiny_requests, History(PRIOR))[TRACKED]


def day(n: float) -> pd.Timestamp:
    return pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=n)


def test_a_sender_record_counts_only_what_was_known_at_sending(tiny_requests):
    """One sender: r1 accepted on day 2 with an opportunity on day 5; r2 never accepted
    (its window closes on day 33); r3 and r4 later."""
    rows = tiny_requests.head(4).copy()
    rows["sender_id"] = "S"
    rows["recipient_id"] = ["A", "B", "C", "D"]
    rows["sent_at"] = [day(0), day(3), day(10), day(40)]
    rows["accepted"] = pd.array([True, False, False, False], dtype="boolean")
    rows["accepted_at"] = pd.Series([day(2), pd.NaT, pd.NaT, pd.NaT], index=rows.index)
    rows["opportunity"] = pd.array([True, False, False, False], dtype="boolean")
    rows["opportunity_at"] = pd.Series([day(5), pd.NaT, pd.NaT, pd.NaT], index=rows.index)
    rows["observed_until"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us, UTC]")
    f = build_features(rows.reset_index(drop=True), History(PRIOR))
    w = PRIOR.prior_weight
    # r1: nothing earlier; r2 (day 3): the acceptance of day 2, no opportunity yet;
    # r3 (day 10): the opportunity of day 5; r4 (day 40): r2 is a negative since day 33
    assert f["sender_acceptance_rate"].tolist() == pytest.approx(
        [0.5, (1 + w * 0.5) / (1 + w), (1 + w * 0.5) / (1 + w), (1 + w * 0.5) / (2 + w)]
    )
    assert f["sender_outcomes_seen"].tolist() == [0, 0, 1, 2]
    assert f["sender_opportunity_rate"].tolist() == pytest.approx(
        [0.1, 0.1, (1 + w * 0.1) / (1 + w), (1 + w * 0.1) / (2 + w)]
    )
    # an export that ended before r2's window closed never saw r2 become a negative
    rows["observed_until"] = pd.Series([day(60), day(20), day(60), day(60)], index=rows.index)
    f = build_features(rows.reset_index(drop=True), History(PRIOR))
    assert f["sender_outcomes_seen"].tolist() == [0, 0, 1, 1]


@settings(max_examples=10, deadline=None)
@given(cut=st.integers(200, 5_000), seed=st.integers(0, 10**6))
def test_shuffling_the_future_moves_no_track_record_before_it(tiny_requests, tracked, cut, seed):
    """After time t: requests get other senders, recipients and outcomes, and earlier
    requests' outcomes that came after t change; no feature of a request sent by t moves."""
    rng = np.random.default_rng(seed)
    t = tiny_requests["sent_at"].iloc[cut]
    future = tiny_requests.copy()
    later = future["sent_at"] > t
    for column in ("sender_id", "recipient_id", "accepted", "opportunity"):
        future.loc[later, column] = rng.permutation(future.loc[later, column].to_numpy())
    for flag, at in (("accepted", "accepted_at"), ("opportunity", "opportunity_at")):
        after = future[at] > t
        future.loc[after, flag] = ~future.loc[after, flag].astype(bool)
        future.loc[after, at] = future.loc[after, at] + pd.Timedelta(days=3)
    changed = build_features(future, History(PRIOR))[TRACKED]
    by_t = (tiny_requests["sent_at"] <= t).to_numpy()
    pd.testing.assert_frame_equal(changed[by_t], tracked[by_t])
    assert not changed[~by_t].equals(tracked[~by_t]), "the future did change"


def test_chunk_by_chunk_gives_the_records_of_the_whole_stream(tiny_requests, tracked):
    """As `tiesignal predict` reads a file: one History carried across chunks."""
    history = History(PRIOR)
    bounds = [0, 7, 1500, 1501, 4000, len(tiny_requests)]
    parts = [
        build_features(tiny_requests.iloc[a:b], history)[TRACKED]
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    pd.testing.assert_frame_equal(pd.concat(parts), tracked)
    assert tracked["sender_outcomes_seen"].max() > 5, "senders do build records"


def test_without_outcomes_a_record_is_the_prior(tiny_requests):
    """Requests scored without any outcome: every rate is the base rate, nothing seen."""
    blind = tiny_requests.drop(columns=["accepted", "accepted_at", "opportunity", "opportunity_at"])
    f = build_features(blind.head(500), History(PRIOR))
    assert (f["sender_acceptance_rate"] == PRIOR.acceptance_rate).all()
    assert (f["recipient_outcomes_seen"] == 0).all()
    assert build_features(tiny_requests.head(50))[TRACKED].isna().all().all(), "no prior: missing"
