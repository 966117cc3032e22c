"""Observable request fields -> model features, the same code for training and scoring.

A feature at time t uses only events before t: history counts (template reuse, sender
volume) are taken over earlier requests in time order, never later ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiesignal.features.personalization import mentions_table
from tiesignal.features.registry import FEATURES, TRACK_RECORD_GROUPS, Feature, describe
from tiesignal.features.track_record import TrackRecordPrior, TrackRecords
from tiesignal.io import to_arrow
from tiesignal.prepare import within_window
from tiesignal.schema import LABEL, SENIORITY_LEVELS, SPLITS

HEADLINE_ROLES = ("recruiter", "talent_acquisition", "hiring_manager", "other", "none")


class History:
    """How many requests each sender, and each sender's note template, sent before now,
    and the track records of senders and recipients (with the prior the model was trained
    with; without one those features are missing).

    One instance carries the counts from chunk to chunk, so a file featurized in pieces (in
    time order) gets the same history features as the whole file at once. `advance` carries
    it over a chunk without building the chunk's features, and hands over what they read:
    so a chunk's features can be built elsewhere (compute=dask)."""

    def __init__(self, prior: TrackRecordPrior | None = None) -> None:
        self.seen: dict[str, pd.Series] = {}
        self.track_records = TrackRecords(prior) if prior else None

    def earlier(self, name: str, keys: pd.Series) -> pd.Series:
        """For each key (rows in time order), the count of earlier rows with that key."""
        codes, distinct = pd.factorize(keys, use_na_sentinel=False)
        within = pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy(dtype=float)
        before = self._count(name, codes, distinct)
        return pd.Series(within + before[codes], index=keys.index, dtype="Float64")

    def advance(self, requests: pd.DataFrame) -> History:
        """Count `requests` (the next rows in time order, `HISTORY_COLUMNS` at least) as
        `build_features` would, without building their features. Returns the history as
        it was before them, holding only what their features read: the counts of their
        keys, the track records of their senders and recipients."""
        handed = History()
        for name, keys in history_keys(requests).items():
            codes, distinct = pd.factorize(keys, use_na_sentinel=False)
            before = self._count(name, codes, distinct)
            seen = before > 0
            handed.seen[name] = pd.Series(before[seen], index=distinct[seen], dtype="float64")
        if self.track_records is not None and not requests.empty:
            handed.track_records = self.track_records.advance(requests)
        return handed

    def _count(self, name: str, codes: np.ndarray, distinct: pd.Index) -> np.ndarray:
        """Count the keys in (`codes` into `distinct`); returns each distinct key's count
        before them."""
        seen = self.seen.get(name, pd.Series(dtype="float64", index=pd.Index([], dtype="str")))
        at = seen.index.get_indexer(distinct)
        known = at >= 0
        counts = seen.to_numpy(dtype=float, copy=True)
        before = np.zeros(len(distinct))
        before[known] = counts[at[known]]
        added = np.bincount(codes, minlength=len(distinct)).astype(float)
        counts[at[known]] += added[known]
        self.seen[name] = pd.Series(
            np.concatenate([counts, added[~known]]), index=seen.index.append(distinct[~known])
        )
        return before


# what the history reads of each request
HISTORY_COLUMNS = [
    "sender_id", "note_template_id", "recipient_id", "sent_at", "accepted", "accepted_at",
    "opportunity", "opportunity_at", "observed_until",
]  # fmt: skip


def history_keys(requests: pd.DataFrame) -> dict[str, pd.Series]:
    """What the history counts by: a sender's note template, and the sender."""
    r = requests
    template = r["sender_id"].astype("str") + "\x1f" + r["note_template_id"].astype("str")
    return {"sender_template": template, "sender": r["sender_id"].astype("str")}


def build_features(requests: pd.DataFrame, history: History | None = None) -> pd.DataFrame:
    """All registry features for requests sorted by `sent_at`, as float columns (booleans
    0/1, categoricals as string labels until `encode`). `history` holds the counts of
    earlier chunks of the same stream; without it the history starts at this table."""
    r = requests
    history = History() if history is None else history
    out = pd.DataFrame(index=r.index)
    note_length = r["note_length"].astype("Float64")
    out["has_note"] = (note_length > 0).astype("Float64")
    out["note_length"] = note_length
    out["note_mentions_name"] = r["note_mentions_name"].astype("Float64")
    out["note_mentions_company"] = r["note_mentions_company"].astype("Float64")
    out["note_skill_mentions"] = r["note_skill_mentions"].astype("Float64")
    keys = history_keys(r)
    out["note_template_reuse"] = history.earlier("sender_template", keys["sender_template"])
    out.loc[r["note_template_id"].isna(), "note_template_reuse"] = 0.0

    out["sender_connections"] = r["sender_connections"].astype("Float64")
    out["recipient_connections"] = r["recipient_connections"].astype("Float64")
    out["mutual_connections"] = r["mutual_connections"].astype("Float64")

    industries, skills = _arrow(r["sender_industries"]), _arrow(r["recipient_skills"])
    out["sender_in_recipient_industry"] = _any_in_list(industries, r["recipient_industry"], _same)
    out["sender_industry_count"] = _list_len(industries, r.index)
    out["headline_skill_overlap"] = _count_in_list(skills, r["sender_headline"], mentions_table)

    out["sender_account_age_days"] = r["sender_account_age_days"].astype("Float64")
    out["sender_profile_completeness"] = r["sender_profile_completeness"].astype("Float64")
    out["sender_headline_role"] = headline_role(r["sender_headline"])
    out["sender_prior_requests"] = history.earlier("sender", keys["sender"])

    _track_records(out, r, history.track_records)

    out["recipient_industry"] = r["recipient_industry"].astype("str")
    out["recipient_seniority"] = r["recipient_seniority"].astype("str")
    out["recipient_open_to_work"] = r["recipient_open_to_work"].astype("Float64")
    out["recipient_accepts_messages"] = r["recipient_accepts_messages"].astype("Float64")
    out["recipient_profile_completeness"] = r["recipient_profile_completeness"].astype("Float64")
    out["recipient_skill_count"] = _list_len(skills, r.index)
    out["recipient_acceptance_rate"] = out.pop("recipient_acceptance_rate")  # registry order
    out["recipient_outcomes_seen"] = out.pop("recipient_outcomes_seen")

    sent = r["sent_at"].dt
    out["sent_hour"] = sent.hour.astype("Float64")
    out["sent_weekday"] = sent.day_of_week.astype("Float64")
    out["sent_month"] = sent.month.astype("Float64")
    assert list(out.columns) == [f.name for f in FEATURES], "build order must match the registry"
    return out


def _track_records(out: pd.DataFrame, r: pd.DataFrame, records: TrackRecords | None) -> None:
    """The track-record features, as of each request (missing without a prior)."""
    names = [f.name for f in FEATURES if f.group in TRACK_RECORD_GROUPS]
    if records is None or r.empty:
        for name in names:
            out[name] = pd.Series(pd.NA, index=r.index, dtype="Float64")
        return
    seen = records.as_of(r)
    prior = records.prior
    values = {
        "sender_acceptance_rate": prior.rate(*seen["sender_acceptance"], prior.acceptance_rate),
        "sender_opportunity_rate": prior.rate(*seen["sender_opportunity"], prior.opportunity_rate),
        "sender_outcomes_seen": seen["sender_opportunity"][1],
        "recipient_acceptance_rate": prior.rate(
            *seen["recipient_acceptance"], prior.acceptance_rate
        ),
        "recipient_outcomes_seen": seen["recipient_acceptance"][1],
    }
    for name in names:
        out[name] = pd.Series(values[name], index=r.index, dtype="Float64")


def _rate(outcomes: pd.Series) -> float:
    """The share of known outcomes that happened (0 when none is known)."""
    rate = outcomes.astype("Float64").mean()
    return round(float(rate), 6) if pd.notna(rate) else 0.0


# role -> what a headline (lowercased) says to state it; the first role found wins
HEADLINE_ROLE_CUES = {
    "talent_acquisition": ("talent acquisition", "sourcer"),
    "recruiter": ("recruit",),
    "hiring_manager": ("hiring manager", "head of", "manager"),
}


def headline_role(headlines: pd.Series) -> pd.Series:
    """The sender's role as their headline states it: a hint at the sender type.
    Worked out once per distinct headline (a sender's headline repeats on every request)."""
    codes, distinct = pd.factorize(headlines)
    lowered = pc.utf8_lower(pa.array(distinct, pa.string())).to_pylist()
    role = np.array([_role_stated(text) for text in lowered] + ["none"], dtype=object)
    return pd.Series(role[codes], index=headlines.index, dtype="str")  # -1: no headline


def _role_stated(lowered: str) -> str:
    found = (role for role, cues in HEADLINE_ROLE_CUES.items() if any(c in lowered for c in cues))
    return next(found, "other")


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


def lone_request_features(
    request: Mapping[str, object], prior: TrackRecordPrior | None
) -> dict[str, float | str | None]:
    """`build_features` of one request scored on its own (no earlier requests: a
    single-row call to the served model), from `schema.plain_request`'s values: the same
    numbers without pandas' fixed cost per operation, which is most of such a call's
    time. Categoricals are labels (None: missing), the rest floats (NaN: missing).
    Tests hold every feature to `build_features`'s."""
    r = request
    number = {c: np.nan if r[c] is None else float(r[c]) for c in _LONE_NUMBERS}
    industries, industry = r["sender_industries"], r["recipient_industry"]
    skills, headline = r["recipient_skills"], r["sender_headline"]
    in_industry = (
        np.nan if industries is None or industry is None
        else float(_same(industries, [industry]).any())
    )  # fmt: skip
    skill_overlap = (
        np.nan if skills is None or headline is None
        else float(mentions_table(skills, [headline]).sum())
    )  # fmt: skip
    note_length = number["note_length"]
    no_prior = prior is None  # track records missing, as `build_features` leaves them
    rates = [np.nan] * 3 if no_prior else [
        prior.rate(0.0, 0.0, prior.acceptance_rate),  # nothing seen: the base rates
        prior.rate(0.0, 0.0, prior.opportunity_rate),
        prior.rate(0.0, 0.0, prior.acceptance_rate),
    ]  # fmt: skip
    seen = np.nan if no_prior else 0.0
    sent = r["sent_at"]
    features = {
        "has_note": note_length if np.isnan(note_length) else float(note_length > 0),
        "note_length": note_length,
        "note_mentions_name": number["note_mentions_name"],
        "note_mentions_company": number["note_mentions_company"],
        "note_skill_mentions": number["note_skill_mentions"],
        "note_template_reuse": 0.0,
        "sender_connections": number["sender_connections"],
        "recipient_connections": number["recipient_connections"],
        "mutual_connections": number["mutual_connections"],
        "sender_in_recipient_industry": in_industry,
        "sender_industry_count": np.nan if industries is None else float(len(industries)),
        "headline_skill_overlap": skill_overlap,
        "sender_account_age_days": number["sender_account_age_days"],
        "sender_profile_completeness": number["sender_profile_completeness"],
        "sender_headline_role": "none" if headline is None else _role_stated(_lower(headline)),
        "sender_prior_requests": 0.0,
        "sender_acceptance_rate": rates[0],
        "sender_opportunity_rate": rates[1],
        "sender_outcomes_seen": seen,
        "recipient_industry": industry,
        "recipient_seniority": r["recipient_seniority"],
        "recipient_open_to_work": number["recipient_open_to_work"],
        "recipient_accepts_messages": number["recipient_accepts_messages"],
        "recipient_profile_completeness": number["recipient_profile_completeness"],
        "recipient_skill_count": np.nan if skills is None else float(len(skills)),
        "recipient_acceptance_rate": rates[2],
        "recipient_outcomes_seen": seen,
        "sent_hour": float(sent.hour),
        "sent_weekday": float(sent.weekday()),
        "sent_month": float(sent.month),
    }
    assert list(features) == [f.name for f in FEATURES], "build order must match the registry"
    return features


# the columns `lone_request_features` reads as numbers (flags as 0/1)
_LONE_NUMBERS = (
    "note_length", "note_mentions_name", "note_mentions_company", "note_skill_mentions",
    "sender_connections", "recipient_connections", "mutual_connections",
    "sender_account_age_days", "sender_profile_completeness", "recipient_open_to_work",
    "recipient_accepts_messages", "recipient_profile_completeness",
)  # fmt: skip


def encode_lone(
    features: Mapping[str, float | str | None], chosen: list[Feature], levels: dict[str, list[str]]
) -> np.ndarray:
    """`encode` of one request's `lone_request_features`: its model matrix row, [1, n]."""
    row = [
        (levels[f.name].index(features[f.name]) if features[f.name] in levels[f.name] else np.nan)
        if f.kind == "categorical"
        else features[f.name]
        for f in chosen
    ]
    return np.array([row], dtype=np.float64)


def _lower(text: str) -> str:
    """Lowercase as Arrow (and pandas' string columns) does it."""
    return pc.utf8_lower(pa.array([text], pa.string()))[0].as_py()


def _list_len(lists: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pc.list_value_length(lists), index=index, dtype="Float64")


def _count_in_list(lists: pa.Array, values: pd.Series, matches) -> pd.Series:
    """Per row, how many items of its list match its value; missing if either is missing.

    `matches(items, values)` takes the distinct items and the distinct values and returns
    a boolean [item, value] matrix: a vocabulary of skills against a few thousand sender
    headlines is one small table, however many rows there are."""
    parent = pc.list_parent_indices(lists).to_numpy()
    items = pc.dictionary_encode(pc.list_flatten(lists))
    item_codes = items.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    value_codes, value_levels = pd.factorize(values)  # missing -> -1
    table = matches(items.dictionary.to_pylist(), value_levels.tolist())
    row_values = value_codes[parent]
    usable = (item_codes >= 0) & (row_values >= 0)
    hits = np.zeros(len(item_codes), dtype=bool)
    hits[usable] = table[item_codes[usable], row_values[usable]]
    counts = np.bincount(parent[hits], minlength=len(lists)).astype(float)
    missing = pc.is_null(lists).to_numpy(zero_copy_only=False) | values.isna().to_numpy()
    return pd.Series(np.where(missing, np.nan, counts), index=values.index, dtype="Float64")


def _same(items: list[str], values: list[str]) -> np.ndarray:
    return np.array(items, dtype=object)[:, None] == np.array(values, dtype=object)[None, :]


def _any_in_list(lists: pa.Array, values: pd.Series, match) -> pd.Series:
    counts = _count_in_list(lists, values, match)
    return (counts > 0).astype("Float64").where(counts.notna())


def _arrow(lists: pd.Series) -> pa.Array:
    """A list column as one Arrow list array, whether Arrow-backed or Python lists."""
    if isinstance(lists.dtype, pd.ArrowDtype):
        arrow = pa.array(lists.array)
    else:
        rows = [None if v is None or v is pd.NA else list(v) for v in lists]
        arrow = pa.array(rows, pa.list_(pa.string()))
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


# what the track records' prior reads of every request
PRIOR_COLUMNS = ["split", "sent_at", "accepted", "opportunity", "opportunity_at"]


def track_record_prior(
    requests: pd.DataFrame, label_window_days: int, prior_weight: float
) -> TrackRecordPrior:
    """The rates a track record starts from: the training split's."""
    train = requests.loc[requests["split"] == "train", PRIOR_COLUMNS[1:]]
    return TrackRecordPrior(
        label_window_days=label_window_days,
        prior_weight=prior_weight,
        acceptance_rate=_rate(train["accepted"]),
        opportunity_rate=_rate(within_window(train, "opportunity", label_window_days)),
    )


class FeatureTables:
    """The feature tables of a stream of prepared requests, chunk by chunk in time order:
    the history carries over, and the category levels come from every chunk's training
    rows, so any chunking gives the same tables and spec as the whole table at once."""

    def __init__(self, prior: TrackRecordPrior, history: History | None = None) -> None:
        self.prior = prior
        self.history = History(prior) if history is None else history
        self.categories: list[pd.DataFrame] = []  # distinct categorical values in train

    def add(self, requests: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Per split: `request_id`, `sent_at`, every registry feature and the label. History
        features count over every earlier request, excluded ones included. Under
        cross-validation over participants, also each row's `fold` and the `recipient_id`
        the folds group by."""
        features = build_features(requests, self.history)
        categorical = [f.name for f in FEATURES if f.kind == "categorical"]
        train = requests["split"] == "train"
        self.categories.append(features.loc[train, categorical].drop_duplicates())
        folds = ["recipient_id", "fold"] if "fold" in requests else []
        keys = requests[["request_id", "sent_at", *folds]]
        tables = {}
        for split in SPLITS:
            rows = requests["split"] == split
            table = keys[rows].join(features[rows])
            table[LABEL] = requests.loc[rows, LABEL].astype(bool)
            tables[split] = table.reset_index(drop=True)
        return tables

    def spec(self) -> dict:
        """The feature spec: category levels fixed from train, the track records' prior."""
        levels = category_levels(pd.concat(self.categories), list(FEATURES))
        return {**describe(list(FEATURES), levels), "label": LABEL,
                "track_record_prior": asdict(self.prior)}  # fmt: skip


def tables_from(
    requests: pd.DataFrame, history: History, prior: TrackRecordPrior
) -> tuple[int, dict[str, pa.Table], pd.DataFrame]:
    """`FeatureTables.add` of one part from the history at its start (`History.advance`),
    wherever the executor runs it (here or on a Dask worker): its rows, its tables per
    split as the Arrow tables they are written as, and the distinct categorical values of
    its training rows."""
    tables = FeatureTables(prior, history)
    built = {s: to_arrow(t) for s, t in tables.add(requests).items()}
    return len(requests), built, tables.categories[0]


def feature_tables(
    requests: pd.DataFrame, label_window_days: int, prior_weight: float
) -> tuple[dict[str, pd.DataFrame], dict]:
    """`FeatureTables` of a whole table in memory: the tables per split and the spec."""
    tables = FeatureTables(track_record_prior(requests, label_window_days, prior_weight))
    return tables.add(requests), tables.spec()
