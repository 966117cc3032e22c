"""Observable request fields -> model features, the same code for training and scoring.

A feature at time t uses only events before t: history counts (template reuse, sender
volume) are taken over earlier requests in time order, never later ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiesignal.features.personalization import mentions
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

    industries, skills = _arrow(r["sender_industries"]), _arrow(r["recipient_skills"])
    out["sender_in_recipient_industry"] = _any_in_list(
        industries, r["recipient_industry"], lambda industry, ind: industry == ind
    )
    out["sender_industry_count"] = _list_len(industries, r.index)
    out["headline_skill_overlap"] = _count_in_list(
        skills, r["sender_headline"], lambda skill, headline: mentions(skill, headline.lower())
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
    out["recipient_skill_count"] = _list_len(skills, r.index)

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
            codes = pd.Index(levels[f.name]).get_indexer(column).astype(float)
            out[f.name] = np.where(codes < 0, np.nan, codes)
        else:
            out[f.name] = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=features.index)


def _list_len(lists: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pc.list_value_length(lists), index=index, dtype="Float64")


def _count_in_list(lists: pa.Array, values: pd.Series, match) -> pd.Series:
    """Per row, how many items of its list match its value; missing if either is missing.

    Matches are cached per (item, value) pair: lists and values repeat a lot (a sender's
    headline, a vocabulary of skills), so ten million rows cost a few thousand checks."""
    parent = pc.list_parent_indices(lists).to_numpy()
    items = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
    row_values = values.to_numpy(dtype=object, na_value=None)[parent]
    cache: dict[tuple, bool] = {}
    hits = np.fromiter(
        (
            cache[key] if (key := (i, v)) in cache else cache.setdefault(key, _safe(match, i, v))
            for i, v in zip(items, row_values, strict=True)
        ),
        dtype=bool,
        count=len(items),
    )
    counts = np.bincount(parent[hits], minlength=len(lists)).astype(float)
    missing = pc.is_null(lists).to_numpy(zero_copy_only=False) | values.isna().to_numpy()
    return pd.Series(np.where(missing, np.nan, counts), index=values.index, dtype="Float64")


def _any_in_list(lists: pa.Array, values: pd.Series, match) -> pd.Series:
    counts = _count_in_list(lists, values, match)
    return (counts > 0).astype("Float64").where(counts.notna())


def _safe(match, item, value) -> bool:
    return item is not None and value is not None and bool(match(item, value))


def _arrow(lists: pd.Series) -> pa.Array:
    """A list column as one Arrow list array, whether Arrow-backed or Python lists."""
    if isinstance(lists.dtype, pd.ArrowDtype):
        arrow = pa.array(lists.array)
    else:
        rows = [None if v is None or v is pd.NA else list(v) for v in lists]
        arrow = pa.array(rows, pa.list_(pa.string()))
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


def _earlier_count(r: pd.DataFrame, keys: list[str]) -> pd.Series:
    """For each request, how many requests with the same keys were sent before it."""
    return r.groupby(keys, dropna=False, sort=False).cumcount().astype("Float64")
