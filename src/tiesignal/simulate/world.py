"""The people of the simulated world: members who receive requests and senders who send them.

Members are stored sorted by (industry, seniority) so that a targeted search ("mid-level
data engineers") is a contiguous slice, and sampling within it is one `searchsorted`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tiesignal.config import WorldConfig
from tiesignal.simulate.vocab import (
    AGENCY_NAMES,
    COMPANY_STEMS,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    INDUSTRIES,
    NOTE_LEVELS,
    SENDER_TYPES,
    SENIORITIES,
)

N_INDUSTRIES = len(INDUSTRIES)
N_SKILLS = len(INDUSTRIES[0].skills)
MAX_MEMBER_SKILLS = 6
MAX_SPECIALIZATIONS = 3
COMPANIES = tuple(f"{stem} {suffix}" for stem in COMPANY_STEMS for suffix in COMPANY_SUFFIXES)
INDUSTRY_SHARES = np.array([ind.share for ind in INDUSTRIES]) / sum(ind.share for ind in INDUSTRIES)
DIGITAL_INTENSITY = np.array([ind.digital_intensity for ind in INDUSTRIES])


@dataclass(frozen=True)
class Members:
    industry: np.ndarray  # int8 index into INDUSTRIES
    seniority: np.ndarray  # int8 index into SENIORITIES
    skills: np.ndarray  # (n, MAX_MEMBER_SKILLS) int8 skill index within the industry, -1 = none
    connections: np.ndarray
    completeness: np.ndarray
    open_to_work: np.ndarray
    blocks_strangers: np.ndarray
    first_name: np.ndarray  # index into FIRST_NAMES
    company: np.ndarray  # index into COMPANIES
    latent_openness: np.ndarray  # unobserved: how readily this member accepts
    # how often recruiters find each member, summed up to them (drawn by searchsorted):
    found_by_anyone: np.ndarray  # openings, pipelines, growth
    found_by_seekers: np.ndarray  # connection-seekers, who favour large networks
    bucket_start: np.ndarray  # (N_INDUSTRIES, 4 + 1) first member of each seniority slice

    @property
    def n(self) -> int:
        return len(self.industry)


@dataclass(frozen=True)
class Senders:
    kind: np.ndarray  # index into SENDER_TYPES
    specializations: np.ndarray  # (n, MAX_SPECIALIZATIONS) industry index, -1 = none
    n_specializations: np.ndarray
    connections: np.ndarray
    account_age_days: np.ndarray
    completeness: np.ndarray
    personalize: np.ndarray  # propensity in (0, 1)
    automated: np.ndarray
    automated_level: np.ndarray  # the single note level a bulk tool sends
    automated_variant: np.ndarray
    volume: np.ndarray
    headline: np.ndarray  # object array of str
    headline_skills: np.ndarray  # (n, 2) skill index within the primary specialization
    company: np.ndarray  # object array of str

    @property
    def n(self) -> int:
        return len(self.kind)


def make_members(cfg: WorldConfig, rng: np.random.Generator) -> Members:
    n, m = cfg.n_members, cfg.members
    industry = rng.choice(N_INDUSTRIES, n, p=INDUSTRY_SHARES)
    seniority_p = np.array([m.seniority_shares[s] for s in SENIORITIES])
    seniority = rng.choice(len(SENIORITIES), n, p=seniority_p / seniority_p.sum())
    order = np.lexsort((seniority, industry))
    industry, seniority = industry[order].astype(np.int8), seniority[order].astype(np.int8)

    n_skills = rng.integers(3, MAX_MEMBER_SKILLS + 1, n)
    ranked = np.argsort(rng.random((n, N_SKILLS)), axis=1)[:, :MAX_MEMBER_SKILLS]
    skills = np.where(np.arange(MAX_MEMBER_SKILLS) < n_skills[:, None], ranked, -1).astype(np.int8)

    log_conn = rng.normal(
        m.log_connections_mean + m.log_connections_per_seniority * seniority, m.log_connections_sd
    )
    connections = np.clip(np.exp(log_conn), 1, 30_000).astype(np.int64)
    completeness = rng.beta(m.completeness_a, m.completeness_b, n)
    seeking = m.open_to_work * np.where(seniority == 0, m.entry_open_to_work_boost, 1.0)
    open_to_work = rng.random(n) < seeking
    blocks_strangers = rng.random(n) < m.blocks_strangers
    activity = rng.lognormal(0.0, m.activity_sd, n)
    seniority_pull = np.array([m.contact_seniority[s] for s in SENIORITIES])[seniority]
    contact_weight = (
        activity
        * np.where(open_to_work, m.contact_open_to_work, 1.0)
        * seniority_pull
        * (connections / 200.0) ** m.contact_connections_exponent
        * (0.5 + completeness)
    )
    bucket = industry.astype(np.int64) * len(SENIORITIES) + seniority
    starts = np.searchsorted(bucket, np.arange(N_INDUSTRIES * len(SENIORITIES) + 1))
    bucket_start = np.empty((N_INDUSTRIES, len(SENIORITIES) + 1), dtype=np.int64)
    for i in range(N_INDUSTRIES):
        bucket_start[i] = starts[i * len(SENIORITIES) : (i + 1) * len(SENIORITIES) + 1]
    return Members(
        industry=industry,
        seniority=seniority,
        skills=skills,
        connections=connections,
        completeness=completeness,
        open_to_work=open_to_work,
        blocks_strangers=blocks_strangers,
        first_name=rng.integers(0, len(FIRST_NAMES), n),
        company=rng.integers(0, len(COMPANIES), n),
        latent_openness=rng.normal(0.0, cfg.acceptance.recipient_latent_sd, n),
        found_by_anyone=np.cumsum(contact_weight),
        found_by_seekers=np.cumsum(
            contact_weight * (connections / 200.0) ** cfg.outreach.network_seeking_exponent
        ),
        bucket_start=bucket_start,
    )


def make_senders(cfg: WorldConfig, rng: np.random.Generator) -> Senders:
    n, o = cfg.n_senders, cfg.outreach
    type_cfgs = [cfg.sender_types[t] for t in SENDER_TYPES]
    shares = np.array([t.share for t in type_cfgs])
    kind = rng.choice(len(SENDER_TYPES), n, p=shares / shares.sum())

    def per_kind(attr: str) -> np.ndarray:
        return np.array([getattr(t, attr) for t in type_cfgs])[kind]

    n_spec = 1 + np.floor(rng.random(n) * per_kind("specializations_max")).astype(np.int64)
    spec = rng.choice(N_INDUSTRIES, (n, MAX_SPECIALIZATIONS), p=INDUSTRY_SHARES)
    for j in range(1, MAX_SPECIALIZATIONS):  # no industry twice for one sender
        dup = (spec[:, j : j + 1] == spec[:, :j]).any(axis=1)
        spec[dup, j] = -1
    spec = np.where(np.arange(MAX_SPECIALIZATIONS) < n_spec[:, None], spec, -1)
    spec = _compact(spec)
    n_spec = (spec >= 0).sum(axis=1)

    connections = np.exp(
        rng.normal(per_kind("log_connections_mean"), per_kind("log_connections_sd"))
    )
    age = rng.lognormal(np.log(per_kind("account_age_days_mean")), o.sender_account_age_sd)
    completeness = rng.beta(per_kind("completeness_a"), per_kind("completeness_b"))
    personalize = rng.beta(per_kind("personalize_a"), per_kind("personalize_b"))
    automated = rng.random(n) < per_kind("automation_share")
    # bulk tools send one template to everyone: none, generic or first-name mail merge
    levels = list(o.automated_levels)
    level_p = np.array([o.automated_levels[lv] for lv in levels])
    automated_level = np.array([NOTE_LEVELS.index(lv) for lv in levels])[
        rng.choice(len(levels), n, p=level_p / level_p.sum())
    ]
    automated_variant = rng.integers(0, 3, n)
    volume = (
        per_kind("volume")
        * rng.lognormal(0.0, o.sender_volume_sd, n)
        * np.where(automated, o.automated_volume_boost, 1.0)
    )
    headline_skills = (
        np.stack([np.argsort(rng.random(N_SKILLS))[:2] for _ in range(n)])
        if n
        else np.zeros((0, 2), dtype=np.int64)
    )
    company_idx = rng.integers(0, len(COMPANIES), n)
    agency_idx = rng.integers(0, len(AGENCY_NAMES), n)
    first_idx = rng.integers(0, len(FIRST_NAMES), n)
    company = np.array(
        [
            AGENCY_NAMES[a] if SENDER_TYPES[k] == "agency_recruiter" else COMPANIES[c]
            for k, a, c in zip(kind, agency_idx, company_idx, strict=True)
        ],
        dtype=object,
    )
    headline = np.array(
        [
            _headline(SENDER_TYPES[k], spec[i, 0], headline_skills[i], company[i], first_idx[i])
            for i, k in enumerate(kind)
        ],
        dtype=object,
    )
    return Senders(
        kind=kind.astype(np.int8),
        specializations=spec.astype(np.int8),
        n_specializations=n_spec,
        connections=np.clip(connections, 1, 30_000).astype(np.int64),
        account_age_days=np.clip(age, 1, 7_000).astype(np.int64),
        completeness=completeness,
        personalize=personalize,
        automated=automated,
        automated_level=automated_level,
        automated_variant=automated_variant,
        volume=volume,
        headline=headline,
        headline_skills=headline_skills,
        company=company,
    )


def _compact(spec: np.ndarray) -> np.ndarray:
    """Move the -1 gaps of each row to its end, keeping the order of the rest."""
    order = np.argsort(spec < 0, axis=1, kind="stable")
    return np.take_along_axis(spec, order, axis=1)


def _headline(kind: str, industry: int, skills: np.ndarray, company: str, seed: int) -> str:
    ind = INDUSTRIES[industry]
    skill_text = ", ".join(ind.skills[s] for s in skills)
    role = ind.roles[seed % len(ind.roles)]
    if kind == "agency_recruiter":
        return f"Recruiter, {ind.name} at {company} | {skill_text}"
    if kind == "inhouse_recruiter":
        return f"Talent Acquisition Partner at {company} | Hiring {skill_text}"
    if kind == "hiring_manager":
        return f"Hiring Manager, {role} team at {company}"
    if kind == "peer":
        return f"{role} at {company}"
    return ("Entrepreneur | Investor | Visionary", "CEO", "Opportunities Consultant")[seed % 3]
