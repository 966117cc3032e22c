"""Every model feature, the group it belongs to, and what it means.

The `features` config picks groups; nothing else decides which columns a model sees.
No feature reads the truth file or anything known only after the request was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bump when a feature's definition changes: an exported model refuses features computed by
# code of another version, because the same name would no longer mean the same number.
FEATURE_CODE_VERSION = "2"  # 2: track records


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    kind: str  # numeric | boolean | categorical
    meaning: str


FEATURES: tuple[Feature, ...] = (
    Feature("has_note", "personalization", "boolean", "the request carries a note"),
    Feature("note_length", "personalization", "numeric", "characters in the note (0 without)"),
    Feature("note_mentions_name", "personalization", "boolean", "note uses the recipient's first name"),
    Feature("note_mentions_company", "personalization", "boolean", "note names the recipient's company"),
    Feature("note_skill_mentions", "personalization", "numeric", "recipient skills the note names"),
    Feature("note_template_reuse", "personalization", "numeric",
            "earlier notes by the same sender with the same masked text"),
    Feature("sender_connections", "network_size", "numeric", "sender's connection count"),
    Feature("recipient_connections", "network_size", "numeric", "recipient's connection count"),
    Feature("mutual_connections", "tie_strength", "numeric", "shared first-degree connections"),
    Feature("sender_in_recipient_industry", "industry_overlap", "boolean",
            "the sender specializes in the recipient's industry"),
    Feature("sender_industry_count", "industry_overlap", "numeric", "industries the sender covers"),
    Feature("headline_skill_overlap", "industry_overlap", "numeric",
            "recipient skills named in the sender's headline"),
    Feature("sender_account_age_days", "sender_profile", "numeric", "age of the sender's account"),
    Feature("sender_profile_completeness", "sender_profile", "numeric", "0-1"),
    Feature("sender_headline_role", "sender_profile", "categorical",
            "recruiter / talent_acquisition / hiring_manager / other / none, from the headline"),
    Feature("sender_prior_requests", "sender_profile", "numeric",
            "requests the sender sent earlier in the data (outreach volume)"),
    Feature("sender_acceptance_rate", "sender_track_record", "numeric",
            "share of the sender's earlier requests accepted, as known at sending (shrunk)"),
    Feature("sender_opportunity_rate", "sender_track_record", "numeric",
            "share of the sender's earlier requests that led to an opportunity, as known "
            "at sending (shrunk)"),
    Feature("sender_outcomes_seen", "sender_track_record", "numeric",
            "the sender's earlier requests whose opportunity outcome was known at sending"),
    Feature("recipient_industry", "recipient_profile", "categorical", "recipient's industry"),
    Feature("recipient_seniority", "recipient_profile", "categorical", "entry / mid / senior / executive"),
    Feature("recipient_open_to_work", "recipient_profile", "boolean", "active job seeker"),
    Feature("recipient_accepts_messages", "recipient_profile", "boolean", "messages from strangers allowed"),
    Feature("recipient_profile_completeness", "recipient_profile", "numeric", "0-1"),
    Feature("recipient_skill_count", "recipient_profile", "numeric", "skills on the profile"),
    Feature("recipient_acceptance_rate", "recipient_responsiveness", "numeric",
            "share of the recipient's earlier requests they accepted, as known at sending "
            "(shrunk)"),
    Feature("recipient_outcomes_seen", "recipient_responsiveness", "numeric",
            "the recipient's earlier requests whose acceptance was known at sending"),
    Feature("sent_hour", "timing", "numeric", "hour of day (UTC)"),
    Feature("sent_weekday", "timing", "numeric", "0 = Monday"),
    Feature("sent_month", "timing", "numeric", "month of year, 1-12"),
)  # fmt: skip

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FEATURES))
# groups built from the outcomes of earlier requests (features/track_record.py)
TRACK_RECORD_GROUPS = ("sender_track_record", "recipient_responsiveness")
BY_NAME = {f.name: f for f in FEATURES}


def select(groups: list[str]) -> list[Feature]:
    """The features of the chosen groups, in registry order; an unknown group is an error."""
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"features.groups: unknown group(s) {unknown}; known: {list(GROUPS)}")
    if not groups:
        raise ValueError("features.groups: choose at least one group")
    return [f for f in FEATURES if f.group in groups]


def describe(chosen: list[Feature], levels: dict[str, list[str]]) -> dict:
    """The feature recipe as plain data: what `feature_spec.json` holds, in model order."""
    return {
        "feature_code_version": FEATURE_CODE_VERSION,
        "features": [
            {"name": f.name, "group": f.group, "kind": f.kind, "meaning": f.meaning} for f in chosen
        ],
        "groups": list(dict.fromkeys(f.group for f in chosen)),
        "category_levels": {f.name: levels[f.name] for f in chosen if f.kind == "categorical"},
    }
