"""Features use only observable fields and only the past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesignal.features.build import build_features, encode, headline_role
from tiesignal.features.registry import FEATURES, GROUPS, select


@pytest.fixture(scope="module")
def features(tiny_requests):
    return build_features(tiny_requests)


def test_registry_covers_the_groups_of_the_mission():
    assert set(GROUPS) == {
        "personalization", "network_size", "tie_strength", "industry_overlap",
        "sender_profile", "recipient_profile", "timing",
        "sender_track_record", "recipient_responsiveness",
    }  # fmt: skip
    assert [f.name for f in select(["tie_strength"])] == ["mutual_connections"]


def test_no_feature_comes_from_outcomes_or_truth(features):
    forbidden = {"accepted", "accepted_at", "opportunity", "opportunity_at", "intent", "p_accept"}
    assert not forbidden & set(features.columns)


def test_template_reuse_counts_earlier_notes_by_the_same_sender(tiny_requests, features):
    df = tiny_requests.assign(reuse=features["note_template_reuse"])
    df = df[df["note_template_id"].notna()]
    first = df.groupby(["sender_id", "note_template_id"]).head(1)
    assert (first["reuse"] == 0).all()
    last = df.groupby(["sender_id", "note_template_id"]).tail(1)
    sizes = df.groupby(["sender_id", "note_template_id"]).size()
    expected = (
        sizes.loc[list(zip(last["sender_id"], last["note_template_id"], strict=True))].to_numpy()
        - 1
    )
    assert (last["reuse"].to_numpy() == expected).all()


@settings(max_examples=10, deadline=None)
@given(cut=st.integers(100, 5_000), seed=st.integers(0, 10**6))
def test_features_never_look_ahead(tiny_requests, features, cut, seed):
    """Shuffling and changing everything after row `cut` leaves rows before it unchanged."""
    rng = np.random.default_rng(seed)
    later = tiny_requests.iloc[cut:].copy()
    later["note_template_id"] = (
        later["note_template_id"].sample(frac=1, random_state=seed).to_numpy()
    )
    later["sender_id"] = rng.permutation(later["sender_id"].to_numpy())
    changed = build_features(pd.concat([tiny_requests.iloc[:cut], later]))
    pd.testing.assert_frame_equal(changed.iloc[:cut], features.iloc[:cut])


def test_encoding_maps_unseen_and_missing_categories_to_nan(features):
    chosen = select(["recipient_profile"])
    levels = {"recipient_industry": ["Retail", "Software Development"],
              "recipient_seniority": ["entry", "mid", "senior", "executive"]}  # fmt: skip
    X = encode(features, chosen, levels)
    assert list(X.columns) == [f.name for f in chosen]
    industry = features["recipient_industry"]
    assert X.loc[industry == "Retail", "recipient_industry"].eq(0).all()
    assert X.loc[~industry.isin(levels["recipient_industry"]), "recipient_industry"].isna().all()
    assert all(X[c].dtype == np.float64 for c in X.columns)


def test_headline_role_reads_the_headline():
    roles = headline_role(pd.Series(
        ["Recruiter, Retail at Apex Staffing | Buying", "Talent Acquisition Partner at Acme",
         "Hiring Manager, Buyer team at Acme", "Buyer at Acme", None], dtype="str"))  # fmt: skip
    assert roles.tolist() == ["recruiter", "talent_acquisition", "hiring_manager", "other", "none"]


def test_build_order_is_the_registry_order(features):
    assert list(features.columns) == [f.name for f in FEATURES]
