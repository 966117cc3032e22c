"""Requests over time: who contacts whom, why, with what note, and what comes of it.

Each request has a latent intent (never a feature). Openings target recipients by
industry, seniority and skills; growth requests go out en masse. Senders with an opening
personalize more, so personalization's predictive importance mixes its causal effect with
intent. Probabilities are sums of named logit terms, each tagged with the feature group it
belongs to, so the truth can say what each group is worth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from tiesignal.config import ASSIGNMENT_ARMS, WorldConfig
from tiesignal.features.personalization import note_features
from tiesignal.features.registry import GROUPS as FEATURE_GROUPS
from tiesignal.simulate.notes import LEVEL_INDEX, field_lengths, note_lengths, render_notes
from tiesignal.simulate.vocab import (
    FIRST_NAMES,
    INDUSTRIES,
    INTENTS,
    NOTE_LEVELS,
    SENDER_TYPES,
    SENIORITIES,
    SENIORITY_TITLE_PREFIX,
)
from tiesignal.simulate.world import (
    COMPANIES,
    DIGITAL_INTENSITY,
    INDUSTRY_SHARES,
    MAX_MEMBER_SKILLS,
    N_INDUSTRIES,
    Members,
    Senders,
)

SECONDS_PER_DAY = 86_400
INDUSTRY_NAMES = np.array([ind.name for ind in INDUSTRIES], dtype=object)
SKILL_NAMES = np.array([list(ind.skills) for ind in INDUSTRIES], dtype=object)
ROLE_NAMES = [ind.roles for ind in INDUSTRIES]
# [industry, seniority]: the title an opening of that industry and seniority is posted as
OPENING_TITLES = np.array(
    [
        [prefix + roles[(i + s) % len(roles)] for s, prefix in enumerate(SENIORITY_TITLE_PREFIX)]
        for i, roles in enumerate(ROLE_NAMES)
    ],
    dtype=object,
)

# Which feature group each logit term belongs to; `latent` terms have no observable twin.
TERM_GROUPS: dict[str, str] = {
    "acc_intercept": "intercept",
    "acc_personalization": "personalization",
    "acc_long_note": "personalization",
    "acc_mutual": "tie_strength",
    "acc_sender_completeness": "sender_profile",
    "acc_sender_young_account": "sender_profile",
    "acc_open_to_work": "recipient_profile",
    "acc_blocks_strangers": "recipient_profile",
    "acc_recipient_connections": "network_size",
    "acc_executive": "recipient_profile",
    "acc_latent_openness": "latent",
    "acc_weekend": "timing",
    "acc_business_hours": "timing",
    "opp_intercept": "intercept",
    "opp_intent": "latent",
    "opp_fit": "industry_overlap",
    "opp_open_to_work": "recipient_profile",
    "opp_personalization": "personalization",
    "opp_market": "timing",
    "opp_seniority": "recipient_profile",
    "opp_fake_sender": "sender_profile",
    "opp_tie_strength": "tie_strength",
}


@dataclass(frozen=True)
class Calendar:
    """Days of the timeline with how much outreach each gets (humans rest on weekends)."""

    start: pd.Timestamp
    n_days: int
    human_cum: np.ndarray
    bot_cum: np.ndarray

    @classmethod
    def build(cls, cfg: WorldConfig) -> Calendar:
        start = pd.Timestamp(cfg.start, tz="UTC")
        end = start + pd.DateOffset(months=cfg.months)
        days = pd.date_range(start, end, freq="D", inclusive="left")
        month = _months_since(days, start)
        busy = 1.0 + cfg.outreach.market_volume_amplitude * market_cycle(cfg, month)
        weekend = days.day_of_week.to_numpy() >= 5
        human = busy * np.where(weekend, cfg.outreach.human_weekend_volume, 1.0)
        return cls(start, len(days), np.cumsum(human) / human.sum(), np.cumsum(busy) / busy.sum())


def market_cycle(cfg: WorldConfig, months_since_start: np.ndarray) -> np.ndarray:
    """Hiring-market cycle in [-1, 1]: hot and cold quarters over the year."""
    o = cfg.opportunity
    return np.sin(2 * np.pi * (months_since_start - o.market_phase_months) / o.market_period_months)


def tie_strength_effect(cfg: WorldConfig, mutuals: np.ndarray, digital: np.ndarray) -> np.ndarray:
    """Inverted U in mutual connections on the opportunity logit, higher in digital industries."""
    t = cfg.opportunity.tie_strength
    bump = np.exp(-0.5 * ((np.log1p(mutuals) - np.log1p(t.peak_mutuals)) / t.width_log) ** 2)
    return (t.height + t.digital_height * digital) * bump


@dataclass(frozen=True)
class Targets:
    """Who sends each request, why, and what they look for."""

    sender: np.ndarray
    kind: np.ndarray  # sender type
    automated: np.ndarray  # sent by a bulk tool
    intent: np.ndarray  # latent: opening | pipeline | connections | growth
    industry: np.ndarray
    seniority: np.ndarray
    required_skills: np.ndarray  # (n, 2) skill indices an opening asks for


@dataclass(frozen=True)
class RequestDraw:
    """Everything the logit terms read about a request, observable or latent."""

    kind: np.ndarray
    intent: np.ndarray
    fit: np.ndarray
    mutuals: np.ndarray
    digital: np.ndarray
    sender_completeness: np.ndarray
    sender_age: np.ndarray
    open_to_work: np.ndarray
    blocks: np.ndarray
    r_conn: np.ndarray
    r_sen: np.ndarray
    latent_openness: np.ndarray
    weekend: np.ndarray
    business_hours: np.ndarray
    month: np.ndarray


@dataclass(frozen=True)
class Timing:
    sent_at: pd.DatetimeIndex
    month: np.ndarray  # months since the world's start
    weekend: np.ndarray
    business_hours: np.ndarray


@dataclass(frozen=True)
class Note:
    level: np.ndarray  # index into NOTE_LEVELS
    variant: np.ndarray
    with_extra: np.ndarray  # a long company blurb appended
    inputs: dict[str, np.ndarray]  # the words it can use (`_note_inputs`)
    input_lengths: np.ndarray  # their lengths (`field_lengths`), for rewriting it
    text: list[str | None]
    # under the world's experiment: the level without and with the assistant
    unassisted: np.ndarray | None = None
    assisted: np.ndarray | None = None


@dataclass(frozen=True)
class Assignment:
    """The world's experiment on each request: sent in an experiment month (`inside`), by
    a sender offered the assistant (`offered`), who would use it then (`takes_up`)."""

    inside: np.ndarray
    offered: np.ndarray
    takes_up: np.ndarray

    def arms(self) -> pd.Series:
        """`assignment`: the arm inside the experiment's months, missing outside them."""
        arm = np.where(self.offered, ASSIGNMENT_ARMS["offered"], ASSIGNMENT_ARMS["control"])
        return pd.Series(np.where(self.inside, arm, None), dtype="str")


@dataclass(frozen=True)
class Outcomes:
    terms: dict[str, np.ndarray]
    p_accept: np.ndarray
    p_opportunity_given_accept: np.ndarray
    u_accept: np.ndarray  # the uniform draws, reused by the counterfactuals
    u_opportunity: np.ndarray
    accepted: np.ndarray  # eventually, observed or not
    opportunity: np.ndarray
    accepted_at: pd.DatetimeIndex
    opportunity_at: pd.DatetimeIndex


def simulate_chunk(
    cfg: WorldConfig,
    members: Members,
    senders: Senders,
    calendar: Calendar,
    first_request: int,
    n: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n` requests numbered from `first_request`: (observable records, truth rows).
    The steps draw from `rng` in a fixed order: same seed, same bytes."""
    t = _draw_targets(cfg, senders, n, rng)
    recipient = _find_recipients(members, t.intent, t.industry, t.seniority, rng)
    r_ind = members.industry[recipient].astype(np.int64)
    specialized = (senders.specializations[t.sender] == r_ind[:, None]).any(axis=1)
    fit_by_intent = _fit_by_intent(cfg, members, senders, t, recipient, r_ind, specialized)
    fit = fit_by_intent[np.arange(n), t.intent]
    timing = _draw_timing(cfg, calendar, t.automated, n, rng)
    experiment = _assign(cfg, senders, t, timing, first_request)
    note = _draw_note(cfg, members, senders, t, recipient, r_ind, rng, experiment)
    mutuals = _draw_mutuals(cfg, members, senders, t, recipient, specialized, rng)
    draw = RequestDraw(
        kind=t.kind,
        intent=t.intent,
        fit=fit,
        mutuals=mutuals,
        digital=DIGITAL_INTENSITY[r_ind],
        sender_completeness=senders.completeness[t.sender],
        sender_age=senders.account_age_days[t.sender],
        open_to_work=members.open_to_work[recipient],
        blocks=members.blocks_strangers[recipient],
        r_conn=members.connections[recipient],
        r_sen=members.seniority[recipient].astype(np.int64),
        latent_openness=members.latent_openness[recipient],
        weekend=timing.weekend,
        business_hours=timing.business_hours,
        month=timing.month,
    )
    outcomes = _draw_outcomes(cfg, draw, note, timing.sent_at, rng)
    request_id = _ids("R", first_request + np.arange(n), 10)
    records = _records(
        cfg, calendar, members, senders, t, recipient, r_ind, draw, note, timing, outcomes,
        request_id,
    )  # fmt: skip
    if experiment is not None:
        records.insert(records.columns.get_loc("source"), "assignment", experiment.arms())
    truth = _truth(cfg, draw, note, outcomes, request_id)
    truth["p_opportunity_intent_unknown"] = _p_opportunity_intent_unknown(
        cfg, outcomes.terms, fit_by_intent, _intent_chances(cfg, t.kind, t.automated)
    )
    if experiment is not None:
        truth = _experiment_truth(cfg, truth, draw, note, experiment)
    return records, _portable(truth)


def _draw_targets(cfg: WorldConfig, senders: Senders, n: int, rng) -> Targets:
    sender = np.searchsorted(np.cumsum(senders.volume) / senders.volume.sum(), rng.random(n))
    sender = np.minimum(sender, senders.n - 1)
    kind = senders.kind[sender]
    automated = senders.automated[sender]
    intent = _draw_intent(cfg, kind, automated, rng)
    n_spec = senders.n_specializations[sender]
    pick = np.floor(rng.random(n) * n_spec).astype(np.int64)
    industry = senders.specializations[sender, pick].astype(np.int64)
    off = rng.random(n) < cfg.off_target_share  # sourcing errors
    industry[off] = rng.choice(N_INDUSTRIES, off.sum(), p=INDUSTRY_SHARES)
    seniority_p = np.array([cfg.members.seniority_shares[s] for s in SENIORITIES])
    seniority = rng.choice(len(SENIORITIES), n, p=seniority_p / seniority_p.sum())
    required = np.argsort(rng.random((n, SKILL_NAMES.shape[1])), axis=1)[:, :2]
    return Targets(sender, kind, automated, intent, industry, seniority, required)


def _fit_by_intent(cfg, members, senders, t: Targets, recipient, r_ind, specialized):
    """(requests, intents): how well the recipient fits what the sender would look for
    under each intent (partly latent); the oracle blind to intent needs them all."""
    r_sen = members.seniority[recipient].astype(np.int64)
    r_skills = members.skills[recipient]
    industry_match = r_ind == t.industry
    has_required = (r_skills[:, :, None] == t.required_skills[:, None, :]).any(
        axis=1
    ) & industry_match[:, None]
    headline_skill_hit = (
        r_skills[:, :, None] == senders.headline_skills[t.sender][:, None, :]
    ).any(axis=(1, 2)) & (r_ind == senders.specializations[t.sender, 0])
    w = cfg.outreach.fit
    by_intent = {
        "opening": w["opening_skills"] * has_required.mean(axis=1)
        + w["opening_industry"] * industry_match
        + w["opening_seniority"] * (1 - np.abs(r_sen - t.seniority) / 3),
        "pipeline": w["pipeline_industry"] * specialized
        + w["pipeline_skills"] * headline_skill_hit,
    }
    other = w["other_industry"] * specialized
    return np.stack([by_intent.get(intent, other) for intent in INTENTS], axis=1)


def _draw_timing(cfg, calendar: Calendar, automated: np.ndarray, n: int, rng) -> Timing:
    """When: tools send around the clock, people in office hours and less at weekends."""
    o = cfg.outreach
    day = np.where(
        automated,
        np.searchsorted(calendar.bot_cum, rng.random(n)),
        np.searchsorted(calendar.human_cum, rng.random(n)),
    ).clip(0, calendar.n_days - 1)
    bot_hour = rng.integers(0, 24, n)
    human_hour = np.clip(rng.normal(o.hour_mean, o.hour_sd, n), 0, 23.99)
    hour = np.where(automated, bot_hour, human_hour)
    seconds = (day * SECONDS_PER_DAY + hour * 3600 + rng.random(n) * 3599).astype(np.int64)
    sent_at = calendar.start + pd.to_timedelta(seconds, unit="s")
    weekend = sent_at.day_of_week.to_numpy() >= 5
    local_hour = sent_at.hour.to_numpy()
    business_hours = (local_hour >= 9) & (local_hour < 18) & ~weekend
    return Timing(sent_at, _months_since(sent_at, calendar.start), weekend, business_hours)


def _assign(cfg: WorldConfig, senders: Senders, t: Targets, timing: Timing, first_request: int):
    """The experiment's arms, or None without one. Its draws come from streams of their
    own, so the world's other draws, and a world without it, keep their bytes."""
    e = cfg.experiment
    if not e.on:
        return None
    per_request = np.random.default_rng(np.random.SeedSequence([cfg.seed, 3, first_request]))
    inside = np.isin(np.floor(timing.month).astype(np.int64), e.months)  # whole months
    offered = inside & offered_senders(cfg, senders)[t.sender]
    return Assignment(inside, offered, per_request.random(len(t.sender)) < e.uptake)


def offered_senders(cfg: WorldConfig, senders: Senders) -> np.ndarray:
    """Which senders the experiment offers the assistant to, by its scheme."""
    e = cfg.experiment
    if e.scheme == "sender":
        by_sender = np.random.default_rng(np.random.SeedSequence([cfg.seed, 2]))
        return by_sender.random(senders.n) < e.offered_share
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 4]))
    return blocked_assignment(sender_blocks(senders, e.volume_blocks), e.offered_share, rng)


def sender_blocks(senders: Senders, volume_blocks: int) -> np.ndarray:
    """Each sender's block: its type, and the quartile (or other quantile) of its volume."""
    ranks = np.argsort(np.argsort(senders.volume, kind="stable"), kind="stable")
    quantile = ranks * volume_blocks // senders.n
    return senders.kind.astype(np.int64) * volume_blocks + quantile


def blocked_assignment(blocks: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Complete randomization within each block: of its n members, floor(share * n) or one
    more (with the chance that makes the expected share exact) are offered, at random."""
    order = rng.permutation(len(blocks))
    offered = np.zeros(len(blocks), dtype=bool)
    for block in np.unique(blocks):
        members = order[blocks[order] == block]  # the block's members in random order
        count = int(np.floor(share * len(members) + rng.random()))
        offered[members[:count]] = True
    return offered


def _draw_note(
    cfg, members, senders, t: Targets, recipient, r_ind, rng, experiment: Assignment | None
) -> Note:
    unassisted = _draw_level(cfg, senders, t.sender, t.intent, rng)
    assisted = level = unassisted
    if experiment is not None:  # a note that was not personal becomes name and company
        not_personal = unassisted <= LEVEL_INDEX["generic"]
        uses = experiment.inside & experiment.takes_up & ~t.automated & not_personal
        assisted = np.where(uses, LEVEL_INDEX["name_company"], unassisted)
        level = np.where(experiment.offered, assisted, unassisted)
    variant = np.where(
        t.automated, senders.automated_variant[t.sender], rng.integers(0, 3, len(recipient))
    )
    with_extra = (rng.random(len(recipient)) < cfg.outreach.long_pitch_share) & (
        level == LEVEL_INDEX["specific"]
    )
    inputs = _note_inputs(members, recipient, t.industry, t.seniority, t.required_skills, r_ind)
    text = render_notes(level, variant, with_extra, **inputs)
    return Note(
        level, variant, with_extra, inputs, field_lengths(**inputs), text, unassisted, assisted
    )


def _draw_mutuals(cfg, members, senders, t: Targets, recipient, specialized, rng) -> np.ndarray:
    """Tie strength: shared connections grow with both networks and a shared industry."""
    o = cfg.outreach
    lam = (
        cfg.mutual_scale
        * np.sqrt(senders.connections[t.sender] * members.connections[recipient])
        * np.where(specialized, cfg.same_industry_mutual_boost, 1.0)
        * np.where(t.intent == 2, o.connections_intent_mutual_boost, 1.0)
        * rng.lognormal(0.0, o.mutual_noise_sd, len(recipient))
    )
    return rng.poisson(np.minimum(lam, 5_000)).astype(np.int64)


def _draw_outcomes(cfg, draw: RequestDraw, note: Note, sent_at, rng) -> Outcomes:
    n = len(note.level)
    lengths = note_lengths(note.level, note.variant, note.with_extra, note.input_lengths)
    terms = logit_terms(cfg, draw, note.level, lengths)
    p_acc, p_opp = outcome_probabilities(terms)
    u_acc, u_opp = rng.random(n), rng.random(n)
    accepted = u_acc < p_acc
    opportunity = accepted & (u_opp < p_opp)
    accept_delay = rng.exponential(cfg.outreach.accept_delay_days_mean * SECONDS_PER_DAY, n)
    accept_delay = accept_delay.astype(np.int64) + 60
    opp_delay = rng.exponential(cfg.opportunity.delay_days_mean * SECONDS_PER_DAY, n).astype(
        np.int64
    )
    accepted_at = sent_at + pd.to_timedelta(accept_delay, unit="s")
    opportunity_at = accepted_at + pd.to_timedelta(opp_delay + 600, unit="s")
    return Outcomes(
        terms, p_acc, p_opp, u_acc, u_opp, accepted, opportunity, accepted_at, opportunity_at
    )


def _records(
    cfg, calendar, members, senders, t: Targets, recipient, r_ind, draw: RequestDraw,
    note: Note, timing: Timing, outcomes: Outcomes, request_id: pd.Series,
) -> pd.DataFrame:  # fmt: skip
    """What a platform would log: the canonical columns, outcomes as far as observed."""
    observed_until = calendar.start + pd.Timedelta(days=calendar.n_days)
    seen_accept = outcomes.accepted & (outcomes.accepted_at <= observed_until)
    seen_opportunity = outcomes.opportunity & (outcomes.opportunity_at <= observed_until)
    skill_names = _skill_names(members.skills[recipient], r_ind)
    n = len(recipient)
    records = pd.DataFrame(
        {
            "request_id": request_id,
            "sent_at": timing.sent_at,
            "sender_id": _ids("S", t.sender, 7),
            "recipient_id": _ids("M", recipient, 8),
            "note": pd.array(note.text, dtype="str"),
            "sender_headline": pd.array(senders.headline[t.sender], dtype="str"),
            "sender_connections": senders.connections[t.sender],
            "sender_account_age_days": senders.account_age_days[t.sender],
            "sender_profile_completeness": senders.completeness[t.sender].round(3),
            "sender_industries": _industry_lists(senders.specializations[t.sender]),
            "recipient_industry": pd.array(INDUSTRY_NAMES[r_ind], dtype="str"),
            "recipient_seniority": pd.array(np.array(SENIORITIES)[draw.r_sen], dtype="str"),
            "recipient_skills": _skill_lists(skill_names),
            "recipient_connections": draw.r_conn,
            "recipient_open_to_work": members.open_to_work[recipient],
            "recipient_accepts_messages": ~members.blocks_strangers[recipient],
            "recipient_profile_completeness": members.completeness[recipient].round(3),
            "mutual_connections": draw.mutuals,
            "accepted": seen_accept,
            "accepted_at": outcomes.accepted_at.where(seen_accept),
            "opportunity": seen_opportunity,
            "opportunity_at": outcomes.opportunity_at.where(seen_opportunity),
            "opportunity_unclear": np.zeros(n, dtype=bool),  # the world knows every outcome
            # the world records every outcome: observed until its latest timestamp (prepare)
            "observed_until": pd.array([pd.NaT] * n, dtype="datetime64[us, UTC]"),
            "source": pd.array(["simulated"] * n, dtype="str"),
        }
    )
    features = note_features(
        note.text,
        note.inputs["first"],
        note.inputs["company"],
        skill_names.tolist(),  # rows of names and Nones: iterating Arrow lists is slow
    )
    return pd.concat([records, features], axis=1)


def _truth(cfg, draw: RequestDraw, note: Note, outcomes: Outcomes, request_id) -> pd.DataFrame:
    """What only the simulator knows: latent causes, true probabilities, each group's
    effects removed, and the same requests re-simulated with other notes."""
    truth = pd.DataFrame(
        {
            "request_id": request_id,
            "intent": pd.array(np.array(INTENTS)[draw.intent], dtype="str"),
            "sender_type": pd.array(np.array(SENDER_TYPES)[draw.kind], dtype="str"),
            "note_level": pd.array(np.array(NOTE_LEVELS)[note.level], dtype="str"),
            "fit": draw.fit.round(4),
            "digital_intensity": draw.digital,
            "p_accept": outcomes.p_accept,
            "p_opportunity_given_accept": outcomes.p_opportunity_given_accept,
            "p_opportunity": outcomes.p_accept * outcomes.p_opportunity_given_accept,
            "accepted_eventually": outcomes.accepted,
            "opportunity_eventually": outcomes.opportunity,
        }
    )
    # each feature group's effects removed: the truth's answer to "which group matters"
    for group in FEATURE_GROUPS:
        kept_terms = {k: v for k, v in outcomes.terms.items() if TERM_GROUPS[k] != group}
        g_acc, g_opp = outcome_probabilities(kept_terms)
        truth[f"p_opportunity_without_{group}"] = g_acc * g_opp
    # counterfactual re-simulation of the same requests with every note at one level
    for name, cf_level in _counterfactual_levels(draw.intent).items():
        cf_acc, cf_opp = _with_level(cfg, draw, note, cf_level)
        truth[f"p_opportunity_if_{name}"] = cf_acc * cf_opp
        truth[f"opportunity_if_{name}"] = (outcomes.u_accept < cf_acc) & (
            outcomes.u_opportunity < cf_opp
        )
    return truth


def _experiment_truth(
    cfg: WorldConfig, truth: pd.DataFrame, draw: RequestDraw, note: Note, experiment: Assignment
) -> pd.DataFrame:
    """Each request of the experiment's months re-simulated in both arms (same draws): its
    P(opportunity) if its sender was offered the assistant and if not, and whether it is a
    complier (the offer makes its note personal). Missing outside those months."""
    inside = experiment.inside
    truth["assignment"] = experiment.arms().array
    complier = pd.array(note.assisted != note.unassisted, dtype="boolean")
    complier[~inside] = pd.NA
    truth["complier"] = complier
    for arm, level in (("assistant", note.assisted), ("control", note.unassisted)):
        p_acc, p_opp = _with_level(cfg, draw, note, level)
        truth[f"p_opportunity_if_{arm}"] = np.where(inside, p_acc * p_opp, np.nan)
    return truth


def _with_level(cfg: WorldConfig, draw: RequestDraw, note: Note, level: np.ndarray):
    """P(accept) and P(opportunity | accept) of the same requests, each note rewritten at
    `level` (its variant, words and long blurb kept, so only the level changes)."""
    specific = note.with_extra & (level == LEVEL_INDEX["specific"])
    length = note_lengths(level, note.variant, specific, note.input_lengths)
    return outcome_probabilities(logit_terms(cfg, draw, level, length))


def _p_opportunity_intent_unknown(
    cfg: WorldConfig, terms: dict[str, np.ndarray], fit_by_intent: np.ndarray, chances: np.ndarray
) -> np.ndarray:
    """P(opportunity) to an oracle that knows everything about the request but its intent:
    the intent term and the recipient's fit (which depends on what the sender looks for)
    taken for each intent, weighted by the chance the sender draws it. How much of the
    oracle's edge is the intent, which no observable field records (benchmarks/learnable.py)."""
    o = cfg.opportunity
    p = np.zeros(len(chances))
    for i, intent in enumerate(INTENTS):
        as_if = terms | {"opp_intent": np.full(len(p), o.intent[intent]),
                         "opp_fit": o.fit * fit_by_intent[:, i]}  # fmt: skip
        p_acc, p_opp = outcome_probabilities(as_if)
        p += chances[:, i] * p_acc * p_opp
    return p


def _portable(truth: pd.DataFrame) -> pd.DataFrame:
    """Probabilities rounded to float32 precision (kept as float64), so the truth file has
    the same bytes on every machine: NumPy's exp and log take CPU-specific SIMD paths
    (AVX-512 or not) that differ in the last bit of a float64."""
    for column in truth.columns:
        if column.startswith("p_"):
            truth[column] = truth[column].to_numpy().astype(np.float32).astype(np.float64)
    return truth


COMPANIES_ARRAY = np.array(COMPANIES, dtype=object)


def outcome_probabilities(terms: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """P(accept) and P(opportunity | accept) from the sums of their logit terms; a term left
    out adds nothing (its effect removed)."""
    acc = sum(v for k, v in terms.items() if k.startswith("acc_"))
    opp = sum(v for k, v in terms.items() if k.startswith("opp_"))
    return sigmoid(acc), sigmoid(opp)


def logit_terms(
    cfg: WorldConfig, state: RequestDraw, level: np.ndarray, note_length: np.ndarray
) -> dict[str, np.ndarray]:
    """Every additive term of both logits, named as in TERM_GROUPS."""
    a, o = cfg.acceptance, cfg.opportunity
    n = len(level)
    acc_pers = np.array([a.personalization[lv] for lv in NOTE_LEVELS])[level]
    opp_pers = np.array([o.personalization[lv] for lv in NOTE_LEVELS])[level]
    intent_effect = np.array([o.intent[i] for i in INTENTS])[state.intent]
    seniority_effect = np.array([o.recipient_seniority[s] for s in SENIORITIES])[state.r_sen]
    fake = state.kind == SENDER_TYPES.index("fake_profile")
    terms = {
        "acc_intercept": np.full(n, a.intercept),
        "acc_personalization": acc_pers,
        "acc_long_note": -a.long_note_per_100_chars
        * np.maximum(note_length - cfg.outreach.long_note_free_chars, 0)
        / 100,
        "acc_mutual": a.mutual_log1p * np.log1p(state.mutuals),
        "acc_sender_completeness": a.sender_completeness * (state.sender_completeness - 0.5),
        "acc_sender_young_account": a.sender_young_account * (state.sender_age < 90),
        "acc_open_to_work": a.recipient_open_to_work * state.open_to_work,
        "acc_blocks_strangers": a.recipient_blocks_strangers * state.blocks,
        "acc_recipient_connections": a.recipient_log_connections * (np.log(state.r_conn) - 5.5),
        "acc_executive": a.recipient_executive * (state.r_sen == 3),
        "acc_latent_openness": state.latent_openness,
        "acc_weekend": a.weekend * state.weekend,
        "acc_business_hours": a.business_hours * state.business_hours,
        "opp_intercept": np.full(n, o.intercept),
        "opp_intent": intent_effect,
        "opp_fit": o.fit * state.fit,
        "opp_open_to_work": o.open_to_work * state.open_to_work,
        "opp_personalization": opp_pers,
        "opp_market": o.market_amplitude * market_cycle(cfg, state.month)
        + o.late_shift_logit * (state.month >= cfg.months - o.late_shift_months),
        "opp_seniority": seniority_effect,
        "opp_fake_sender": o.fake_sender * fake,
        "opp_tie_strength": tie_strength_effect(cfg, state.mutuals, state.digital),
    }
    assert set(terms) == set(TERM_GROUPS), "every logit term needs a feature group"
    return terms


def _intent_chances(cfg: WorldConfig, kind: np.ndarray, automated: np.ndarray) -> np.ndarray:
    """(requests, intents): the chance of each intent, by the sender's type; a bulk tool has
    no particular person's opening in mind, so its openings are pipelines."""
    probs = np.array(
        [[cfg.sender_types[t].intent[i] for i in INTENTS] for t in SENDER_TYPES], dtype=float
    )
    chances = (probs / probs.sum(axis=1, keepdims=True))[kind]
    chances[automated, 1] += chances[automated, 0]
    chances[automated, 0] = 0.0
    return chances


def _draw_intent(
    cfg: WorldConfig, kind: np.ndarray, automated: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    chances = _intent_chances(cfg, kind, np.zeros(len(kind), dtype=bool))
    cum = np.cumsum(chances, axis=1)
    intent = (rng.random(len(kind))[:, None] > cum).sum(axis=1).clip(0, len(INTENTS) - 1)
    return np.where(automated & (intent == 0), 1, intent)  # as _intent_chances says


def _draw_level(
    cfg: WorldConfig, senders: Senders, sender: np.ndarray, intent: np.ndarray, rng
) -> np.ndarray:
    """Ordered-logit personalization level; openings push it up (the confounding)."""
    p = senders.personalize[sender]
    shift = np.array([cfg.personalization_intent_shift[i] for i in INTENTS])[intent]
    score = np.log(p / (1 - p)) + shift + rng.logistic(0.0, 1.0, len(sender))
    human_levels = np.array([0, 1, 3, 4])  # people do not mail-merge
    cuts = np.array(cfg.personalization_cutpoints)
    level = human_levels[(score[:, None] > cuts[None, :]).sum(axis=1)]
    level = np.where((level == 4) & (intent != 0), 3, level)  # a pitch needs an opening
    return np.where(senders.automated[sender], senders.automated_level[sender], level)


def _find_recipients(members: Members, intent, target_industry, target_seniority, rng):
    """Sample recipients: openings search a (industry, seniority) slice, pipelines an
    industry, connection-seekers favour large networks, growth requests anyone."""
    n = len(intent)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.full(n, members.n, dtype=np.int64)
    opening, pipeline = intent == 0, intent == 1
    bs = members.bucket_start
    lo[opening] = bs[target_industry[opening], target_seniority[opening]]
    hi[opening] = bs[target_industry[opening], target_seniority[opening] + 1]
    lo[pipeline] = bs[target_industry[pipeline], 0]
    hi[pipeline] = bs[target_industry[pipeline], -1]
    empty = hi <= lo  # a slice with nobody in it (tiny worlds): search the industry, then all
    lo[empty], hi[empty] = bs[target_industry[empty], 0], bs[target_industry[empty], -1]
    empty = hi <= lo
    lo[empty], hi[empty] = 0, members.n
    chosen = np.empty(n, dtype=np.int64)
    for weights, mask in (
        (members.found_by_seekers, intent == 2),
        (members.found_by_anyone, intent != 2),
    ):
        base = np.where(lo[mask] > 0, weights[lo[mask] - 1], 0.0)
        span = weights[hi[mask] - 1] - base
        target = base + rng.random(mask.sum()) * span
        chosen[mask] = _searchsorted_in_order(weights, target)
        chosen[mask] = np.clip(chosen[mask], lo[mask], hi[mask] - 1)
    return chosen


def _searchsorted_in_order(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """np.searchsorted(table, values, side="right"), looking the values up in sorted order:
    the same result, several times faster on a table of millions (memory stays cached)."""
    order = np.argsort(values)
    found = np.empty(len(values), dtype=np.int64)
    found[order] = np.searchsorted(table, values[order], side="right")
    return found


def _note_inputs(members, recipient, target_industry, target_seniority, required, r_ind):
    """The words a note can use: the recipient's name, company and industry, and the
    opening's role and required skills (only a specific pitch, which needs an opening,
    uses those)."""
    first = np.array(FIRST_NAMES, dtype=object)[members.first_name[recipient]]
    company = COMPANIES_ARRAY[members.company[recipient]]
    role = OPENING_TITLES[target_industry, target_seniority]
    return {
        "first": first,
        "company": company,
        "industry": INDUSTRY_NAMES[r_ind],
        "role": role,
        "skill1": SKILL_NAMES[target_industry, required[:, 0]],
        "skill2": SKILL_NAMES[target_industry, required[:, 1]],
    }


def _counterfactual_levels(intent: np.ndarray) -> dict[str, np.ndarray]:
    """No note for anyone, versus the most personal note each request's intent allows."""
    n = len(intent)
    return {
        "none": np.zeros(n, dtype=np.int64),
        "personalized": np.where(intent == 0, LEVEL_INDEX["specific"], LEVEL_INDEX["name_company"]),
    }


def _skill_names(skills: np.ndarray, industry: np.ndarray) -> np.ndarray:
    """(requests, MAX_MEMBER_SKILLS) recipient skill names, None past a member's last."""
    names = SKILL_NAMES[np.repeat(industry, MAX_MEMBER_SKILLS).reshape(skills.shape), skills]
    return np.where(skills >= 0, names, None)


def _skill_lists(names: np.ndarray) -> pa.Array:
    """`_skill_names` as an Arrow list<string> column, built without Python lists."""
    valid = names != None  # noqa: E711 (element-wise)
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
    return pd.arrays.ArrowExtensionArray(
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(names[valid], pa.string()))
    )


def _industry_lists(spec: np.ndarray) -> pa.Array:
    valid = spec >= 0
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
    names = INDUSTRY_NAMES[spec[valid].astype(np.int64)]
    return pd.arrays.ArrowExtensionArray(
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, pa.string()))
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """Zero-padded ids such as R0000000042, built column-wise."""
    return prefix + pd.Series(numbers, dtype="int64").astype("str").str.zfill(width)


def _months_since(times: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    return ((times - start) / pd.Timedelta(days=1)).to_numpy() / 30.4375


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, written out so the world's probabilities keep their bytes."""
    return 1.0 / (1.0 + np.exp(-x))
