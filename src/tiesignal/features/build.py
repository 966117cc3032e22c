"""Observable request fields -> model features, the same code for training and scoring.

A feature at time t uses only events before t: history counts (template reuse, sender
volume) are taken over earlier requests in time order, never later ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tiesignal.features.registry import FEATURES, Feature

HEADLINE_ROLES = ("recruiter", "talent_acquisition", "hiring_manager", "other", "none")
SENIORITY_LEVELS = ("entry", "mid", "senior", "executive")


def build_features(requests: pd.DataFrame) -> pd.DataFrame:
    """All registry features for requests sorted by `sent_at`, as float columns
    (booleans 0/1, categoricals as string labels until `encode_categoricals`)."""
    r = requests
    out = pd.DataFrame(index=r.index)
    note_length = r["note_length"].astype("Float64")
    out["has_note"] = (note_length > 0).astype("Float64")
    out["note_length"] = note_length
    out["note_mentions_name"] = r["note_mentions_name"].astype("Float64")
    out["note_mentions_company"] = r["note_mentions_company"].astype("Float64")
    out["note_skill_mentions"] = r["note_skill_mentions"].astype("Float64")
    out["note_template_reuse"] = _earlier_count(r, ["sender_id", "note_template_id"])
    out.loc[r["note_template_id"].isna(), "note_template_reuse"] = 0.0

    out["sender_connections"] = r["sender_connections"].astype("Float64")
    out["recipient_connections"] = r["recipient_connections"].astype("Float64")
    out["mutual_connections"] = r["mutual_connections"].astype("Float64")

    sender_industries = r["sender_industries"]
    out["sender_in_recipient_industry"] = pd.array(
        [
            None if (ind is None or isinstance(ind, float) or spec is None) else ind in set(spec)
            for ind, spec in zip(r["recipient_industry"], sender_industries, strict=True)
        ],
        dtype="boolean",
    ).astype("Float64")
    out["sender_industry_count"] = sender_industries.map(len, na_action="ignore").astype("Float64")
    out["headline_skill_overlap"] = pd.array(
        [
            np.nan
            if not isinstance(head, str) or skills is None
            else float(sum(s.lower() in head.lower() for s in skills))
            for head, skills in zip(r["sender_headline"], r["recipient_skills"], strict=True)
        ],
        dtype="Float64",
    )

    out["sender_account_age_days"] = r["sender_account_age_days"].astype("Float64")
    out["sender_profile_completeness"] = r["sender_profile_completeness"].astype("Float64")
    out["sender_headline_role"] = headline_role(r["sender_headline"])
    out["sender_prior_requests"] = _earlier_count(r, ["sender_id"])

    out["recipient_industry"] = r["recipient_industry"].astype("str")
    out["recipient_seniority"] = r["recipient_seniority"].astype("str")
    out["recipient_open_to_work"] = r["recipient_open_to_work"].astype("Float64")
    out["recipient_accepts_messages"] = r["recipient_accepts_messages"].astype("Float64")
    out["recipient_profile_completeness"] = r["recipient_profile_completeness"].astype("Float64")
    out["recipient_skill_count"] = (
        r["recipient_skills"].map(len, na_action="ignore").astype("Float64")
    )

    sent = r["sent_at"].dt
    out["sent_hour"] = sent.hour.astype("Float64")
    out["sent_weekday"] = sent.day_of_week.astype("Float64")
    out["sent_month"] = sent.month.astype("Float64")
    assert list(out.columns) == [f.name for f in FEATURES], "build order must match the registry"
    return out


def headline_role(headlines: pd.Series) -> pd.Series:
    """The sender's role as their headline states it: a hint at the sender type."""
    text = headlines.str.lower()
    role = np.select(
        [
            text.str.contains("talent acquisition|sourcer", regex=True, na=False),
            text.str.contains("recruit", regex=False, na=False),
            text.str.contains("hiring manager|head of|manager", regex=True, na=False),
            headlines.isna(),
        ],
        ["talent_acquisition", "recruiter", "hiring_manager", "none"],
        "other",
    )
    return pd.Series(role, index=headlines.index, dtype="str")


def category_levels(features: pd.DataFrame, chosen: list[Feature]) -> dict[str, list[str]]:
    """Levels of each categorical feature, fixed from the training split and sorted."""
    levels = {}
    for f in chosen:
        if f.kind != "categorical":
            continue
        if f.name == "recipient_seniority":
            levels[f.name] = list(SENIORITY_LEVELS)
        elif f.name == "sender_headline_role":
            levels[f.name] = list(HEADLINE_ROLES)
        else:
            levels[f.name] = sorted(features[f.name].dropna().unique().tolist())
    return levels


def encode(
    features: pd.DataFrame, chosen: list[Feature], levels: dict[str, list[str]]
) -> pd.DataFrame:
    """The model matrix: float64 columns in registry order; categoricals as integer codes of
    the training levels, unseen or missing levels as NaN (LightGBM and ONNX agree on that)."""
    out = {}
    for f in chosen:
        column = features[f.name]
        if f.kind == "categorical":
            codes = pd.Categorical(column, categories=levels[f.name]).codes.astype(float)
            out[f.name] = np.where(codes < 0, np.nan, codes)
        else:
            out[f.name] = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=features.index)


def _earlier_count(r: pd.DataFrame, keys: list[str]) -> pd.Series:
    """For each request, how many requests with the same keys were sent before it."""
    return r.groupby(keys, dropna=False, sort=False).cumcount().astype("Float64")
