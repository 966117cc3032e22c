"""The simulated world written as member data exports, one per recipient, in the file
formats of a chosen export era (DESIGN.md), so that `ingest` can be checked against
requests and labels that are known.

The messages are rendered from templates. Most opportunity messages use the words the
label rules look for, some use only a turn of phrase (`team`), and some friendly messages
name opportunities without offering one (`unclear`): the rules' errors show up as label
precision and recall below 1.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.config import WorldConfig
from tiesignal.extract.keys import name_key, profile_key
from tiesignal.extract.participant import participant_fingerprint, request_key
from tiesignal.simulate import build_world
from tiesignal.simulate.requests import COMPANIES_ARRAY, INDUSTRY_NAMES, ROLE_NAMES
from tiesignal.simulate.vocab import FIRST_NAMES, LAST_NAMES, SENIORITY_TITLE_PREFIX

PROFILE_HOST = "https://network.example/in/"  # only the /in/<slug> part joins people
CONNECTIONS_PREAMBLE = (
    "Notes:\n"
    '"When exporting your connection data, you may notice that some of the email addresses '
    'are missing. You will only see email addresses for connections who have allowed it."\n'
    "\n"
)
OPPORTUNITY_MESSAGES = (
    "Hi {first},\n\nthanks for connecting! We have an opening for a {role} and I think your "
    "background fits. Would you be open to a call this week?",
    "Hello {first}, I'm hiring for a {role} position on my team. Interested in an interview?",
    "Hi {first}, following up on my note: the {role} role is still open and I'd love to "
    "tell you more. When suits you?",
    "{first}, we are recruiting for a {role} and your profile stood out.\nCan we talk?",
    # no job word, only a phrase (the `team` rule)
    "Hi {first}, could we hop on a call next week? I think you'd be great on our team.",
)
QUIET_SHARE = 0.1  # opportunity messages written without a job word
SMALL_TALK = (
    "Thanks for connecting, {first}!",
    "Great to be connected. Enjoy your week!",
    "Nice to meet you here, {first}.",
    "Thanks for accepting! Let me know if I can ever help.",
    "Good to connect. Loved your recent post.",
    "Hi {first}, thanks for the connection!\nHave a great day.",
    "Congrats on the new role, {first}!",
    "Happy to share my job search tips any time.",
)
SMALL_TALK_SHARE = 0.35
# a rule word without an offer, after an accepted request that led to none: the rules
# mislabel these
FALSE_ALARM = (
    "Always happy to hear about opportunities in {industry}, {first}. Let's stay in touch."
)
FALSE_ALARM_SHARE = 0.01
FILLER_MESSAGES = (
    "See you at the meetup on Thursday.",
    "Here are the slides from today,\nthanks again!",
    "Did you get a chance to look at the proposal?",
)


@dataclass(frozen=True)
class Era:
    """How one export year wrote its files."""

    name_prefix: str
    urls: bool  # profile URLs in Invitations.csv, Connections.csv and messages.csv
    preamble: bool  # the "Notes:" lines above Connections.csv's header
    four_digit_years: bool  # Invitations.csv's Sent At
    name_drift: bool  # names in Invitations.csv not written as in Connections.csv


ERAS = {
    "2020": Era("Basic", urls=False, preamble=False, four_digit_years=True, name_drift=True),
    "2022": Era("Basic", urls=False, preamble=True, four_digit_years=False, name_drift=True),
    "2024": Era("Complete", urls=True, preamble=True, four_digit_years=False, name_drift=False),
}
MESSAGE_COLUMNS = {
    False: ("CONVERSATION ID", "CONVERSATION TITLE", "FROM", "TO", "DATE", "SUBJECT", "CONTENT"),
    True: (
        "CONVERSATION ID",
        "CONVERSATION TITLE",
        "FROM",
        "SENDER PROFILE URL",
        "TO",
        "RECIPIENT PROFILE URLS",
        "DATE",
        "SUBJECT",
        "CONTENT",
        "FOLDER",
        "ATTACHMENTS",
        "IS MESSAGE DRAFT",
        "IS CONVERSATION DRAFT",
    ),
}


def member_name(member: int, first_name: int) -> tuple[str, str, str]:
    """First name, last name and profile slug of a simulated member."""
    first, last = FIRST_NAMES[first_name], _last_name(member)
    return first, last, f"{first}-{last}-m{member:x}".lower()


def sender_name(sender: int) -> tuple[str, str, str]:
    first = FIRST_NAMES[(sender * 13 + 5) % len(FIRST_NAMES)]
    last = _last_name(sender + 7)
    return first, last, f"{first}-{last}-s{sender:x}".lower()


def member_title(members, member: int) -> str:
    """A member's job title: their seniority's prefix and one of their industry's roles."""
    roles = ROLE_NAMES[members.industry[member]]
    return SENIORITY_TITLE_PREFIX[members.seniority[member]] + roles[member % len(roles)]


def _export_key(first: str, last: str, slug: str, urls: bool) -> str:
    """The key `ingest` finds for a person: the profile URL's slug, else the name."""
    return profile_key(PROFILE_HOST + slug) if urls else name_key(f"{first} {last}")


def _last_name(number: int) -> str:
    """Double-barrelled, so that few people share a full name (older exports join on names)."""
    n = len(LAST_NAMES)
    return f"{LAST_NAMES[number % n]}-{LAST_NAMES[(number // n) % n]}"


def render_exports(
    cfg: WorldConfig,
    records: pd.DataFrame,
    out: Path,
    era: str = "2024",
    max_exports: int | None = None,
    as_zip: bool = True,
    max_connections: int = 500,
    filler_messages: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Write one export per recipient of `records` (the simulator's requests, with notes)
    into `out`; return the exports' names. Connections beyond `max_connections` are left
    out, so `recipient_connections` reads as at most that many. `progress(done, total)` is
    called every 100 exports and at the end."""
    if era not in ERAS:
        raise ValueError(f"unknown export era {era!r}; choose one of {', '.join(ERAS)}")
    style = ERAS[era]
    members, senders, calendar = build_world(cfg)
    export_day = calendar.start + pd.Timedelta(days=calendar.n_days)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7, list(ERAS).index(era)]))
    by_recipient = records.sort_values(["recipient_id", "sent_at", "request_id"]).groupby(
        "recipient_id", sort=True
    )
    out.mkdir(parents=True, exist_ok=True)
    total = by_recipient.ngroups if max_exports is None else min(max_exports, by_recipient.ngroups)
    names = []
    for recipient_id, requests in by_recipient:
        if len(names) >= total:
            break
        member = int(str(recipient_id).lstrip("M"))
        files = _export_files(
            style, members, member, requests, export_day, rng, max_connections, filler_messages
        )
        name = f"{style.name_prefix}_DataExport_{recipient_id}"
        _write(out, name, files, as_zip)
        names.append(name + (".zip" if as_zip else ""))
        if progress is not None and (len(names) % 100 == 0 or len(names) == total):
            progress(len(names), total)
    return names


@dataclass(frozen=True)
class _Owner:
    """The participant whose export this is, as their export shows them."""

    member: int
    first: str
    last: str
    name: str  # first and last
    url: str  # their profile URL, "" in eras without URLs
    industry: str
    title: str


class _Messages:
    """messages.csv rows in the era's columns."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.rows: list[list[str]] = []

    def add(self, conversation, sender, sender_url, to, at, content) -> None:
        row = {
            "CONVERSATION ID": conversation,
            "CONVERSATION TITLE": "",
            "FROM": sender,
            "SENDER PROFILE URL": sender_url,
            "TO": to,
            "RECIPIENT PROFILE URLS": "",
            "DATE": f"{at:%Y-%m-%d %H:%M:%S} UTC",
            "SUBJECT": "",
            "CONTENT": content,
            "FOLDER": "INBOX",
            "ATTACHMENTS": "",
            "IS MESSAGE DRAFT": "No",
            "IS CONVERSATION DRAFT": "No",
        }
        self.rows.append([row[c] for c in self.columns])

    def csv(self) -> str:
        return _csv([list(self.columns)] + self.rows)


def _export_files(style, members, member, requests, export_day, rng, max_connections, filler):
    """The files of one export, as text by file name."""
    first, last, slug = member_name(member, members.first_name[member])
    owner = _Owner(
        member, first, last, f"{first} {last}", PROFILE_HOST + slug if style.urls else "",
        INDUSTRY_NAMES[members.industry[member]], member_title(members, member),
    )  # fmt: skip
    invitations = [
        ["From", "To", "Sent At", "Message", "Direction"]
        + (["inviterProfileUrl", "inviteeProfileUrl"] if style.urls else [])
    ]
    conn_header = ["First Name", "Last Name"] + (["URL"] if style.urls else [])
    connections = [conn_header + ["Email Address", "Company", "Position", "Connected On"]]
    messages = _Messages(MESSAGE_COLUMNS[style.urls])
    for r in requests.itertuples(index=False):
        _add_request(style, owner, r, export_day, rng, invitations, connections, messages)
    for k in range(2):  # the participant's own invitations: not requests to them
        row = [
            owner.name,
            f"{FIRST_NAMES[k]} {LAST_NAMES[k]}",
            _sent_at(export_day - pd.Timedelta(days=3 + k), style),
            "",
            "OUTGOING",
        ]
        invitations.append(
            row + ([owner.url, f"{PROFILE_HOST}other-{member:x}-{k}"] if style.urls else [])
        )
    others = max(0, min(int(members.connections[member]), max_connections) - len(connections) + 1)
    connections += _rest_of_network(style, member, others, export_day)
    for k in range(filler):
        at = export_day - pd.Timedelta(hours=int(k * 7 % 20000) + 1)
        sender = f"{FIRST_NAMES[k % 50]} {LAST_NAMES[k % 30]}"
        messages.add(f"f-{member:x}-{k // 4}", sender, "", owner.name, at, FILLER_MESSAGES[k % 3])
    skills = requests["recipient_skills"].iloc[0]
    return {
        **_profile_files(members, owner, [] if skills is None else list(skills)),
        "Invitations.csv": _csv(invitations),
        "Connections.csv": (CONNECTIONS_PREAMBLE if style.preamble else "") + _csv(connections),
        "messages.csv": messages.csv(),
    }


def _profile_files(members, owner: _Owner, skills: list[str]) -> dict[str, str]:
    member = owner.member
    profile = [
        ["First Name", "Last Name", "Maiden Name", "Address", "Birth Date", "Headline"]
        + ["Summary", "Industry", "Zip Code", "Geo Location", "Twitter Handles", "Websites"]
        + ["Instant Messengers"],
        [owner.first, owner.last, "", "", "", owner.title]
        + ["I build things." if members.completeness[member] > 0.6 else "", owner.industry]
        + ["", "", "", "", ""],
    ]
    positions = [
        ["Company Name", "Title", "Description", "Location", "Started On", "Finished On"],
        [COMPANIES_ARRAY[members.company[member]], owner.title, "", "", "Jan 2021", ""],
        ["Earlier Co", ROLE_NAMES[members.industry[member]][0], "", "", "Mar 2017", "Dec 2020"],
    ]
    return {
        "Profile.csv": _csv(profile),
        "Positions.csv": _csv(positions),
        "Skills.csv": _csv([["Name"]] + [[s] for s in skills]),
    }


def _add_request(style, owner: _Owner, r, export_day, rng, invitations, connections, messages):
    """One request as the export shows it: the invitation, the connection if accepted, and
    what the sender wrote after (an opportunity, a false alarm, small talk, or nothing)."""
    sender = int(str(r.sender_id).lstrip("S"))
    s_first, s_last, s_slug = sender_name(sender)
    s_url = PROFILE_HOST + s_slug if style.urls else ""
    shown = f"{s_first} {s_last}"
    if style.name_drift and rng.random() < 0.2:
        shown = rng.choice([shown.upper(), f"{shown}, MBA", f"{shown} 🚀", f" {shown}  "])
    row = [
        shown,
        owner.name,
        _sent_at(r.sent_at, style),
        r.note if isinstance(r.note, str) else "",
        "INCOMING",
    ]
    invitations.append(row + ([s_url, owner.url] if style.urls else []))
    if not r.accepted:
        return
    position, at_company = _position(r.sender_headline)
    connections.append(
        [s_first, s_last] + ([s_url] if style.urls else [])
        + [f"{s_slug}@mail.example" if sender % 3 == 0 else "", at_company, position]
        + [f"{r.accepted_at:%d %b %Y}"]
    )  # fmt: skip
    conversation = f"c-{owner.member:x}-{sender:x}"
    words = {"first": owner.first, "role": owner.title, "industry": owner.industry}
    if r.opportunity:
        pick = len(OPPORTUNITY_MESSAGES) - 1 if rng.random() < QUIET_SHARE else None
        pick = rng.integers(0, len(OPPORTUNITY_MESSAGES) - 1) if pick is None else pick
        at = r.opportunity_at
        text = OPPORTUNITY_MESSAGES[pick].format(**words)
        messages.add(conversation, shown, s_url, owner.name, at, text)
        reply_at = at + pd.Timedelta(hours=3)
        messages.add(conversation, owner.name, owner.url, shown, reply_at, "Thanks, happy to talk.")
    elif rng.random() < FALSE_ALARM_SHARE:
        at = min(r.accepted_at + pd.Timedelta(hours=2), export_day)
        messages.add(conversation, shown, s_url, owner.name, at, FALSE_ALARM.format(**words))
    elif rng.random() < SMALL_TALK_SHARE:
        at = r.accepted_at + pd.Timedelta(hours=int(rng.integers(1, 48)))
        text = SMALL_TALK[rng.integers(0, len(SMALL_TALK))].format(**words)
        messages.add(conversation, shown, s_url, owner.name, min(at, export_day), text)


def _rest_of_network(style, member: int, others: int, export_day) -> list[list[str]]:
    """Connections that came from no request in the data; some profiles are hidden."""
    width = 6 + (1 if style.urls else 0)
    rows = []
    for k in range(others):
        day = f"{export_day - pd.Timedelta(days=int(k % 900) + 1):%d %b %Y}"
        if k % 5 == 4:
            rows.append([""] * (width - 1) + [day])
            continue
        o_first, o_last = (
            FIRST_NAMES[(k * 3) % len(FIRST_NAMES)],
            LAST_NAMES[(k * 5) % len(LAST_NAMES)],
        )
        rows.append(
            [o_first, o_last] + ([f"{PROFILE_HOST}c-{member:x}-{k}"] if style.urls else [])
            + ["", "Some Co", "Analyst", day]
        )  # fmt: skip
    return rows


def _position(headline) -> tuple[str, str]:
    """A sender's headline as Connections.csv's Position and Company."""
    if not isinstance(headline, str) or " at " not in headline:
        return (headline if isinstance(headline, str) else ""), ""
    position, _, rest = headline.partition(" at ")
    return position, rest.split(" | ")[0]


def _sent_at(t: pd.Timestamp, style: Era) -> str:
    year = f"{t:%Y}" if style.four_digit_years else f"{t:%y}"
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{year}, {hour}:{t:%M} {'AM' if t.hour < 12 else 'PM'}"


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().rstrip("\n")  # real exports often end without a newline


def _write(out: Path, name: str, files: dict[str, str], as_zip: bool) -> None:
    if as_zip:
        with zipfile.ZipFile(out / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for file, text in files.items():
                info = zipfile.ZipInfo(file, date_time=(2026, 1, 1, 0, 0, 0))  # same bytes
                archive.writestr(info, text.encode("utf-8"), zipfile.ZIP_DEFLATED)
        return
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")


def round_trip(
    cfg: WorldConfig,
    records: pd.DataFrame,
    ingested: pd.DataFrame,
    pseudonymize: Callable[[str], str],
    era: str,
) -> dict:
    """How much of the simulator's requests and labels `ingest` gives back from the
    rendered exports: the share of requests found, agreement on acceptance, recipient
    fields and note features, and the label rules' precision and recall."""
    members, _, _ = build_world(cfg)
    urls = ERAS[era].urls
    member = records["recipient_id"].str.lstrip("M").astype(int).to_numpy()
    sender = records["sender_id"].str.lstrip("S").astype(int).to_numpy()
    recipient_keys = {}
    for m in np.unique(member):
        key = _export_key(*member_name(m, members.first_name[m]), urls)
        industry = INDUSTRY_NAMES[members.industry[m]]
        recipient_keys[m] = participant_fingerprint(key, member_title(members, m), industry)
    sender_keys = {s: _export_key(*sender_name(s), urls) for s in np.unique(sender)}
    expected = records.assign(
        request_id=[
            pseudonymize(request_key(recipient_keys[m], sender_keys[s], t.floor("min")))
            for m, s, t in zip(member, sender, records["sent_at"], strict=True)
        ],
        recipient_id=[pseudonymize(recipient_keys[m]) for m in member],
    )
    expected = expected[expected["recipient_id"].isin(set(ingested["recipient_id"]))]
    both = expected.merge(ingested, on="request_id", how="inner", suffixes=("_sim", ""))
    note_columns = [c for c in ingested.columns if c.startswith("note_")]
    notes_agree = np.ones(len(both), dtype=bool)
    for c in note_columns:
        sim, got = both[f"{c}_sim"], both[c]
        notes_agree &= ((sim == got) | (sim.isna() & got.isna())).fillna(False).to_numpy(bool)
    truth = both["opportunity_sim"].fillna(False).to_numpy(bool)
    found = both["opportunity"].fillna(False).to_numpy(bool)
    tp = int((truth & found).sum())
    return {
        "era": era,
        "requests_expected": len(expected),
        "requests_ingested": int(
            ingested["recipient_id"].isin(set(expected["recipient_id"])).sum()
        ),
        "requests_matched": len(both),
        "share_matched": len(both) / max(len(expected), 1),
        "accepted_agreement": float((both["accepted_sim"] == both["accepted"]).mean()),
        "industry_agreement": float(
            (both["recipient_industry_sim"] == both["recipient_industry"]).mean()
        ),
        "seniority_agreement": float(
            (both["recipient_seniority_sim"] == both["recipient_seniority"]).mean()
        ),
        "note_features_agreement": float(notes_agree.mean()) if len(both) else 0.0,
        "opportunities_true": int(truth.sum()),
        "opportunities_labelled": int(found.sum()),
        "label_precision": tp / max(int(found.sum()), 1),
        "label_recall": tp / max(int(truth.sum()), 1),
    }
