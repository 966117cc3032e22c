"""One participant's exports as canonical request rows: the extraction core.

Each incoming invitation is a request to the participant. It was accepted when its sender
is among the participant's connections, and it led to an opportunity when a message from
the sender after it matches the label rules (or a hand label says so) within the label
window. A participant's several exports are merged: every request once, accepted and
labelled from everything their exports know, observed until the newest export's date.
Only pseudonymous ids, times, profile fields and the note's `note_*` features leave here.

Standard library only: the donation page runs this in the participant's browser.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tiesignal.config import DataConfig
from tiesignal.extract.files import (
    MAX_PROBLEMS,
    Export,
    ReadLimits,
    Table,
    clean,
    copy_number,
    copy_stem,
)
from tiesignal.extract.keys import name_key, person_key, profile_key
from tiesignal.extract.notes import NOTE_COLUMNS, note_feature_rows
from tiesignal.extract.rules import UNCLEAR, LabelRules

# the date formats each file has used (DESIGN.md); local times are taken as UTC
SENT_AT_FORMATS = ("%m/%d/%y, %I:%M %p", "%m/%d/%Y, %I:%M %p", "%Y-%m-%d %H:%M:%S")
CONNECTED_ON_FORMATS = ("%d %b %Y", "%m/%d/%y", "%Y-%m-%d")
MESSAGE_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
POSITION_DATE_FORMATS = ("%b %Y", "%Y", "%m/%Y")
DAY = timedelta(days=1)
# the canonical columns a participant's rows have, in order (DESIGN.md)
COLUMNS = (
    "request_id", "sent_at", "sender_id", "recipient_id", "sender_headline",
    "sender_industries", "recipient_industry", "recipient_seniority", "recipient_skills",
    "recipient_connections", "recipient_profile_completeness", "accepted", "accepted_at",
    "opportunity", "opportunity_at", "opportunity_unclear", "source", *NOTE_COLUMNS,
    "observed_until",
)  # fmt: skip
ID_COLUMNS = ("request_id", "sender_id", "recipient_id")
# a row's (file, line) in the export it was read from: for the rejects of later checks;
# never donated (a donation holds COLUMNS)
ORIGIN = "origin"
TIME_COLUMNS = ("sent_at", "accepted_at", "opportunity_at", "observed_until")
# a message in this folder was never read as the sender's word; a draft was never sent
SPAM_FOLDERS = frozenset({"spam"})
TRUE_WORDS = frozenset({"yes", "true", "1"})

# title words -> seniority, checked from the top; a title with none of them is "mid"
SENIORITY_WORDS = (
    (
        "executive",
        r"\b(chief|ceo|cto|cfo|coo|cio|vp|vice president|president|head of|director|founder)\b",
    ),
    ("senior", r"\b(senior|sr|lead|principal|staff)\b"),
    ("entry", r"\b(junior|jr|intern|trainee|graduate|apprentice|entry level)\b"),
)
_SENIORITY = [(level, re.compile(words)) for level, words in SENIORITY_WORDS]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# the export's date in its name: LinkedIn writes month-day-year (`..._01-15-2026.zip`)
NAME_DATE = re.compile(
    r"(?<!\d)(\d{1,2})-(\d{1,2})-(\d{4})(?!\d)|(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"
)

NO_DIRECTION = "direction unknown: no Direction column and no Profile.csv name"
Reject = tuple[str, int, str, str]  # (file, line, column, reason): never a value


@dataclass(frozen=True)
class Settings:
    """What extraction needs of the study's config."""

    rules: LabelRules
    label_window_days: int
    clock_skew: timedelta  # how far a message may seem to precede its invitation
    sender_profile_from_connections: bool
    limits: ReadLimits
    now: datetime  # no export holds a later date: such dates are problems, not data
    source: str = "member_exports"

    @classmethod
    def of(
        cls, data: DataConfig, label_window_days: int, now: datetime, source: str = ""
    ) -> Settings:
        return cls(
            rules=LabelRules(data.opportunity_rules),
            label_window_days=label_window_days,
            clock_skew=timedelta(hours=data.clock_skew_hours),
            sender_profile_from_connections=data.sender_profile_from_connections,
            limits=ReadLimits(data.max_file_mb << 20, data.max_compression_ratio),
            now=now,
            source=source or data.source,
        )


@dataclass
class Extracted:
    """A participant's rows, the rows of their files that could not be used, and a report
    per export."""

    rows: list[dict]  # COLUMNS -> value (times aware, UTC), and its ORIGIN
    rejects: list[Reject]
    reports: list[dict]  # one per export, in the order given
    fingerprint: str | None  # who the participant is, to find the same person twice


def parse_time(value: str, formats: tuple[str, ...]) -> datetime | None:
    """A value in the first format that reads it, as UTC; None where none does."""
    text = value.strip()
    for fmt in formats if text else ():
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def copies_among(names: list[str]) -> dict[str, str]:
    """`Export (1).zip` -> `Export.zip` where both are among one participant's exports: a
    second download of the same export, reported and not read twice."""
    by_stem = {copy_stem(n): n for n in names if not copy_number(n)}
    return {n: by_stem[copy_stem(n)] for n in names if copy_number(n) and copy_stem(n) in by_stem}


# ------------------------------------------------------------------ one export, parsed


@dataclass
class _Invitation:
    """One incoming invitation that could be used."""

    sender_key: str  # profile URL key, else normalized name
    name_key: str | None  # normalized name, to find messages sent under the name
    sent_at: datetime
    note: str | None
    origin: tuple[str, int]  # (file, line) in its export
    accepted: bool = False
    accepted_at: datetime | None = None
    connected_on: datetime | None = None
    headline: str | None = None


@dataclass
class Parsed:
    """One export, read: who it belongs to, its invitations, connections and messages."""

    export: Export
    report: dict
    rejects: list[Reject]
    me: dict | None = None  # the participant as a recipient
    my_key: str | None = None
    fingerprint: str | None = None
    date: datetime | None = None  # its date: from its name, else found later from its rows
    date_from: str = ""
    limit: datetime | None = None  # a row dated after this is a problem
    invitations: list[_Invitation] = field(default_factory=list)
    connections: dict[str, tuple[datetime | None, str | None]] = field(default_factory=dict)
    connection_count: int | None = None
    newest_connection: datetime | None = None

    def path(self, table: Table) -> str:
        """A file as a reject names it: the export, then the file's path inside it
        (without a first folder named like the export)."""
        name = self.export.name
        first, _, rest = table.file.partition("/")
        base = name.rsplit("/", 1)[-1]
        inside = rest if rest and first in (base, base.removesuffix(".zip")) else table.file
        return f"{name}/{inside}"


def parse_export(export: Export, settings: Settings) -> Parsed:
    """One export read for extraction: whose it is (`fingerprint`, None when it cannot be
    used), its incoming invitations and its connections; problems in its report."""
    t = export.tables
    parsed = Parsed(export, _report(export), [])
    for table in t.values():
        where = parsed.path(table)
        parsed.rejects.extend((where, line, "(row)", why) for line, why in table.bad_rows)
        parsed.report["bad_rows"] += len(table.bad_rows)
    named = _name_date(export.name)
    if named is not None and named - DAY > settings.now:
        parsed.report["problems"] = _problems(
            [*filter(None, [parsed.report["problems"]]),
             f"dated {named - DAY:%Y-%m-%d} by its name, after today: dated by its newest row"]
        )  # fmt: skip
        named = None
    if named is not None:
        parsed.date, parsed.date_from = named, "export name"
    # a row dated after this is a problem: the export cannot have seen it
    parsed.limit = named + settings.clock_skew if named is not None else settings.now
    invitations = t.get("invitations")
    if invitations is None:
        parsed.report["status"] = "no usable Invitations.csv"
        return parsed
    if "connections" in t:
        _note_hidden_profiles(t["connections"])
    parsed.me = _recipient(t)
    incoming = _incoming(invitations, parsed)
    if parsed.my_key is None:
        parsed.report["status"] = "participant cannot be identified"
        parsed.report["requests_rejected"] = sum(incoming)
        return parsed
    me = parsed.me
    parsed.fingerprint = participant_fingerprint(parsed.my_key, me["headline"], me["industry"])
    _read_connections(t.get("connections"), parsed)
    _read_invitations(invitations, [i for i, inc in enumerate(incoming) if inc], parsed)
    return parsed


def _name_date(name: str) -> datetime | None:
    """The end of the day an export's name gives (UTC), month first, else day first."""
    for match in NAME_DATE.finditer(name):
        month, day, year = match.group(1, 2, 3) if match.group(1) else match.group(5, 6, 4)
        for m, d in ((month, day), (day, month)):
            try:
                return datetime(int(year), int(m), int(d), tzinfo=UTC) + DAY
            except ValueError:
                continue
    return None


def _incoming(invitations: Table, parsed: Parsed) -> list[bool]:
    """Which invitations the participant received, and the participant's own key (their
    profile URL as invitee, else their name). Rows whose direction or recipient cannot be
    known are rejected."""
    me_key = parsed.me["name_key"]
    file, rejects = parsed.path(invitations), parsed.rejects
    raw = [d.strip().upper() for d in invitations.get("Direction")]
    direction = [_CONTROL.sub("", d) for d in raw]
    damaged = sum(a != b for a, b in zip(raw, direction, strict=True))
    if damaged:
        invitations.notes.append(f"{damaged} Direction value(s) with control characters "
                                 "(NUL bytes): read without them")  # fmt: skip
    incoming, unknown = [], []
    for d, to, line in zip(direction, invitations.get("To"), invitations.lines, strict=True):
        if d not in ("INCOMING", "OUTGOING", ""):
            rejects.append((file, line, "Direction", "neither INCOMING nor OUTGOING"))
            incoming.append(False)
            unknown.append(True)
            continue
        incoming.append(
            d == "INCOMING" or (not d and me_key is not None and name_key(to) == me_key)
        )
        unknown.append(not d and me_key is None)
        if unknown[-1]:
            rejects.append((file, line, "Direction", NO_DIRECTION))
    slugs = Counter(
        profile_key(url)
        for url, inc in zip(invitations.get("inviteeProfileUrl"), incoming, strict=True)
        if inc and profile_key(url)
    )
    parsed.my_key = slugs.most_common(1)[0][0] if slugs else me_key
    parsed.report["outgoing"] = sum(not i and not u for i, u in zip(incoming, unknown, strict=True))
    if parsed.my_key is None:
        nobody = "participant unknown: no profile URL and no Profile.csv name"
        rejects += [
            (file, line, "To", nobody)
            for line, inc in zip(invitations.lines, incoming, strict=True)
            if inc
        ]
    return incoming


def _after_export(parsed: Parsed) -> str:
    return f"after the export's date ({parsed.limit:%Y-%m-%d})"


def _read_invitations(invitations: Table, rows: list[int], parsed: Parsed) -> None:
    """The usable incoming invitations."""
    col = invitations.columns["Sent At"]
    urls, names = invitations.get("inviterProfileUrl"), invitations.get("From")
    notes = invitations.get("Message")
    file, rejects = parsed.path(invitations), parsed.rejects
    for i in rows:
        line = invitations.lines[i]
        key = person_key(urls[i], names[i])
        sent_at = parse_time(invitations.rows[i][col], SENT_AT_FORMATS)
        if key is None:
            rejects.append((file, line, "From", "no sender name or profile URL"))
        elif sent_at is None:
            rejects.append((file, line, "Sent At", "not a date in a known format"))
        elif sent_at > parsed.limit:
            rejects.append((file, line, "Sent At", _after_export(parsed)))
        elif parsed.connection_count is None:
            rejects.append((file, line, "(row)", "acceptance unknown: no usable Connections.csv"))
        else:
            invitation = _Invitation(key, name_key(names[i]), sent_at, notes[i], (file, line))
            parsed.invitations.append(invitation)
    parsed.report["requests_rejected"] = len(rows) - len(parsed.invitations)


def _read_connections(table: Table | None, parsed: Parsed) -> None:
    if table is None:
        return
    connected = [parse_time(v, CONNECTED_ON_FORMATS) for v in table.get("Connected On")]
    for url, first, last, company, position, on, line in zip(
        table.get("URL"),
        table.get("First Name"),
        table.get("Last Name"),
        table.get("Company"),
        table.get("Position"),
        connected,
        table.lines,
        strict=True,
    ):
        if on is not None and on > parsed.limit:
            parsed.rejects.append((parsed.path(table), line, "Connected On", _after_export(parsed)))
            on = None
        headline = (
            f"{position.strip()} at {company.strip()}"
            if position.strip() and company.strip()
            else (position.strip() or company.strip() or None)
        )
        for key in (profile_key(url), name_key(f"{first} {last}")):
            if key is not None:
                parsed.connections.setdefault(key, (on, headline))
    dates = [d for d in connected if d is not None and d <= parsed.limit]
    parsed.connection_count = len(table.rows)
    parsed.newest_connection = max(dates) if dates else None
    parsed.report["connections"] = len(table.rows)


def _read_messages(
    p: Parsed, wanted: set[str], rejects: list[Reject]
) -> list[tuple[str, datetime, str]] | None:
    """An export's messages from the senders in `wanted`, as (sender key, date, text);
    SPAM and drafts left out (archived ones count). None: the export has no messages."""
    messages = p.export.tables.get("messages")
    if messages is None:
        return None
    col = messages.columns["DATE"]
    found, spam, draft = [], 0, 0
    for i, (name, url, folder, is_draft, content) in enumerate(
        zip(
            messages.get("FROM"),
            messages.get("SENDER PROFILE URL"),
            messages.get("FOLDER"),
            messages.get("IS MESSAGE DRAFT"),
            messages.get("CONTENT"),
            strict=True,
        )
    ):
        url_key = profile_key(url)
        key = url_key if url_key in wanted else name_key(name)
        if key not in wanted:
            continue
        if folder.strip().lower() in SPAM_FOLDERS:
            spam += 1
            continue
        if is_draft.strip().lower() in TRUE_WORDS:
            draft += 1
            continue
        line = messages.lines[i]
        date = parse_time(messages.rows[i][col], MESSAGE_DATE_FORMATS)
        if date is None:
            rejects.append((p.path(messages), line, "DATE", "not a date in a known format"))
        elif date > p.limit:
            rejects.append((p.path(messages), line, "DATE", _after_export(p)))
        else:
            found.append((key, date, content))
    p.report["messages_spam"], p.report["messages_draft"] = spam, draft
    return found


# ------------------------------------------------------------------ a participant


def extract_participant(
    parsed: list[Parsed],
    settings: Settings,
    pseudonymize,
    hand_labels: dict[str, bool] | None = None,
) -> Extracted:
    """The rows of one participant's exports (`parse_export`ed; `pseudonymize`: person
    key -> id), merged; reports in the order given."""
    usable = [p for p in parsed if p.fingerprint is not None]
    labels = hand_labels or {}
    if len(usable) > 1:  # in order of their dates: the newest export knows the most
        for p in usable:
            if p.date is None:
                p.date = _combined([p], settings, pseudonymize, labels, [], report=False)[1]
        usable.sort(key=lambda p: (p.date or datetime.min.replace(tzinfo=UTC), p.export.name))
    rows: list[dict] = []
    rejects = [r for p in parsed for r in p.rejects]
    if usable:
        rows, _ = _combined(usable, settings, pseudonymize, labels, rejects)
    for p in parsed:
        finish_notes(p.export, p.report)
    fingerprint = usable[-1].fingerprint if usable else None
    return Extracted(rows, rejects, [p.report for p in parsed], fingerprint)


def _combined(
    exports: list[Parsed],
    settings: Settings,
    pseudonymize,
    hand_labels: dict[str, bool],
    rejects: list[Reject],
    report: bool = True,
) -> tuple[list[dict], datetime | None]:
    """The rows of exports of one participant, oldest first, and their observation end;
    the messages' rejects are added to `rejects`, the counts to the exports' reports."""
    newest = exports[-1]
    identity = newest.fingerprint
    connections: dict = {}
    first: dict[tuple, _Invitation] = {}  # request -> the newest export's copy of it
    held: list[list[_Invitation]] = [[] for _ in exports]  # each export's requests
    for k in reversed(range(len(exports))):
        p = exports[k]
        for key, value in p.connections.items():
            connections.setdefault(key, value)
        superseded = 0
        for invitation in p.invitations:
            request = (invitation.sender_key, invitation.sent_at)
            superseded += request in first
            held[k].append(first.setdefault(request, invitation))
        if report:
            p.report["requests_superseded"] = superseded
            p.report["merged_exports"] = len(exports)
    found = list(first.values())
    for invitation in found:
        match = connections.get(invitation.sender_key)
        if match is None and invitation.name_key is not None:
            match = connections.get(invitation.name_key)
        invitation.accepted = match is not None
        invitation.connected_on = match[0] if match is not None else None
        invitation.headline = match[1] if match is not None else None
        if match is not None and match[0] is not None:
            invitation.accepted_at = max(match[0], invitation.sent_at)  # a date, never before
    _one_acceptance_per_connection(found)
    wanted = {f.sender_key for f in found} | {f.name_key for f in found if f.name_key}
    read = [_read_messages(p, wanted, rejects) for p in exports]
    messages = None if all(m is None for m in read) else [m for ms in read for m in ms or ()]
    outcomes = _labels(messages, found, settings, hand_labels)
    me = newest.me
    notes = note_feature_rows(
        [f.note for f in found], *([value] * len(found) for value in
                                   (me["first"], me["company"], me["skills"]))
    )  # fmt: skip
    recipient_id = pseudonymize(identity)
    rows = []
    for f, (opportunity, opportunity_at, unclear), note in zip(found, outcomes, notes, strict=True):
        rows.append(
            {
                "request_id": pseudonymize(request_key(identity, f.sender_key, f.sent_at)),
                "sent_at": f.sent_at,
                "sender_id": pseudonymize(f.sender_key),
                "recipient_id": recipient_id,
                "sender_headline": f.headline if settings.sender_profile_from_connections else None,
                "sender_industries": None,
                "recipient_industry": me["industry"],
                "recipient_seniority": me["seniority"],
                "recipient_skills": me["skills"],
                "recipient_connections": newest.connection_count,
                "recipient_profile_completeness": me["completeness"],
                "accepted": f.accepted,
                "accepted_at": f.accepted_at,
                "opportunity": opportunity,
                "opportunity_at": opportunity_at,
                "opportunity_unclear": unclear,
                "source": settings.source,
                **dict(zip(NOTE_COLUMNS, note, strict=True)),
                "observed_until": None,
                ORIGIN: f.origin,
            }
        )
    until, until_from = newest.date, newest.date_from
    if until is None:  # the newest time inside it
        times = [r[c] for r in rows for c in ("sent_at", "accepted_at", "opportunity_at")]
        if newest.newest_connection is not None:
            times.append(newest.newest_connection + DAY)
        times = [t for t in times if t is not None]
        until = max(times) if times else None
        until_from = "newest date inside (none in the name)"
    for r in rows:
        r["observed_until"] = until
    if report:
        row_of = {id(f): r for f, r in zip(found, rows, strict=True)}
        _report_merged(exports, [[row_of[id(f)] for f in h] for h in held], recipient_id,
                       until, until_from, outcomes.by_rule)  # fmt: skip
    rows.sort(key=lambda r: (r["sent_at"], r["request_id"]))
    return rows, until


def row_counts(rows: list[dict]) -> dict[str, int]:
    """Requests, accepted, labelled, unclear and opportunities among rows."""
    return {
        "requests": len(rows),
        "accepted": sum(bool(r["accepted"]) for r in rows),
        "labelled": sum(r["opportunity"] is not None for r in rows),
        "unclear": sum(bool(r["opportunity_unclear"]) for r in rows),
        "opportunities": sum(bool(r["opportunity"]) for r in rows),
    }


def _report_merged(exports, held_rows, recipient_id, until, until_from, by_rule) -> None:
    """Each export's report: the requests it held, with their merged outcomes."""
    newest = exports[-1]
    for k, p in enumerate(exports):
        mine = held_rows[k]
        p.report.update(
            status="used",
            participant_id=recipient_id,
            joined_on="profile URLs" if p.my_key.startswith("in/") else "names",
            **row_counts(mine),
            observed_until=None if until is None else f"{until:%Y-%m-%d %H:%M}",
        )
        p.report["observed_until_from"] = (
            until_from if p is newest else f"its participant's newest export ({newest.export.name})"
        )
    for rule, count in by_rule.items():
        newest.report[f"rule_{rule}"] = count


def request_key(recipient: str, sender: str, sent_at: datetime) -> str:
    """What identifies a request: who sent it to whom, and when (to the minute)."""
    return f"request|{recipient}|{sender}|{sent_at.isoformat()}"


def participant_fingerprint(key: str, headline: str | None, industry: str | None) -> str:
    """Who a participant is: their profile URL, or (older exports, without URLs) their
    name with headline and industry, so that two people of the same name stay apart."""
    return key if key.startswith("in/") else f"{key}|{headline or ''}|{industry or ''}"


def _one_acceptance_per_connection(found: list[_Invitation]) -> None:
    """A sender who invited more than once is one connection: the accepted request is the
    last one sent by the day of the connection (an earlier one was left unanswered)."""
    by_sender: dict[str, list[_Invitation]] = {}
    for invitation in found:
        if invitation.accepted:
            by_sender.setdefault(invitation.sender_key, []).append(invitation)
    for invited in by_sender.values():
        if len(invited) < 2:
            continue
        on = invited[0].connected_on
        before = [f for f in invited if on is None or f.sent_at < on + DAY]
        chosen = max(before, key=lambda f: f.sent_at) if before else invited[0]
        for invitation in invited:
            if invitation is not chosen:
                invitation.accepted, invitation.accepted_at = False, None


class _Outcomes(list):
    """(opportunity, opportunity_at, unclear) per request, and how many each rule gave."""

    by_rule: Counter


def _labels(
    messages: list[tuple[str, datetime, str]] | None,
    found: list[_Invitation],
    settings: Settings,
    hand_labels: dict[str, bool],
) -> _Outcomes:
    """Each request's opportunity label from the sender's messages after it, within the
    label window: True (an offer within it), None with `unclear` (within it, only messages
    that neither offer nor rule one out), else False; an offer after the window keeps its
    time, so `prepare` reads it as a negative at this window."""
    outcomes = _Outcomes()
    outcomes.by_rule = Counter()
    if messages is None:  # no messages: unknown
        outcomes.extend((None, None, False) for _ in found)
        return outcomes
    by_sender: dict[str, list[tuple[datetime, str]]] = {}
    for key, date, text in messages:
        by_sender.setdefault(key, []).append((date, text))
    for listed in by_sender.values():
        listed.sort(key=lambda m: m[0])
    window = timedelta(days=settings.label_window_days)
    rules, skew = settings.rules, settings.clock_skew
    for f in found:
        listed = by_sender.get(f.sender_key) or by_sender.get(f.name_key) or []
        after = [(d, text) for d, text in listed if d >= f.sent_at - skew]
        readings = [(d, *r) for d, text in after if (r := rules.reading(text))]
        hits = [(d, rule) for d, verdict, rule in readings if verdict != UNCLEAR]
        inside = [(d, rule) for d, rule in hits if d - f.sent_at <= window]
        vague = [rule for d, verdict, rule in readings
                 if verdict == UNCLEAR and d - f.sent_at <= window]  # fmt: skip
        label = hand_labels.get(f.sender_key)
        if label is None and f.name_key:
            label = hand_labels.get(f.name_key)
        hit = hits[0] if hits else None
        if label is not None:
            outcomes.by_rule["hand_label"] += 1
        elif inside:
            label = True
            outcomes.by_rule[hit[1]] += 1
        elif vague:  # neither offered nor ruled out within the window: `prepare` leaves it out
            outcomes.by_rule[f"{UNCLEAR}_{vague[0]}"] += 1
        elif hits:  # an offer after the window: a negative at this window
            label = True
            outcomes.by_rule[hit[1]] += 1
        else:
            label = False
        when = (hit[0] if hit is not None else after[0][0] if after else None) if label else None
        outcomes.append((label, max(when, f.sent_at) if when is not None else None, label is None))
    return outcomes


def _note_hidden_profiles(table: Table) -> None:
    hidden = sum(
        not (url.strip() or first.strip() or last.strip())
        for url, first, last in zip(
            table.get("URL"), table.get("First Name"), table.get("Last Name"), strict=True
        )
    )
    if hidden:
        table.notes.append(f"{hidden} connection(s) with no name or URL (hidden profiles): "
                           "counted, never matched to an invitation")  # fmt: skip


def _recipient(tables: dict[str, Table]) -> dict:
    """The participant as a recipient: name (for note features and matching only),
    industry, seniority, skills, company, profile completeness."""
    profile = tables.get("profile")
    first = last = headline = industry = summary = ""
    if profile is not None and profile.rows:
        row = profile.rows[0]
        get = lambda c: row[profile.columns[c]].strip() if c in profile.columns else ""  # noqa: E731
        first, last, headline, industry, summary = (
            get(c) for c in ("First Name", "Last Name", "Headline", "Industry", "Summary")
        )
    title, company = _current_position(tables.get("positions"))
    skills_table = tables.get("skills")
    skills = [s.strip() for s in skills_table.get("Name") if s.strip()] if skills_table else []
    filled = [bool(headline), bool(summary), bool(industry), bool(title or company), bool(skills)]
    return {
        "first": first or None,
        "company": company or None,
        "name_key": name_key(f"{first} {last}"),
        "headline": headline,
        "industry": industry or None,
        "seniority": seniority(title or headline) if (title or headline) else None,
        "skills": skills or None,
        "completeness": round(sum(filled) / len(filled), 3),
    }


def seniority(title: str) -> str:
    """entry, mid, senior or executive from the words of a job title."""
    lowered = title.lower()
    return next((level for level, words in _SENIORITY if words.search(lowered)), "mid")


def _current_position(positions: Table | None) -> tuple[str, str]:
    """Title and company of the position without an end date that started last."""
    if positions is None or not positions.rows:
        return "", ""
    started = [parse_time(v, POSITION_DATE_FORMATS) for v in positions.get("Started On")]
    ongoing = [not f.strip() for f in positions.get("Finished On")]
    earliest = datetime.min.replace(tzinfo=UTC)
    best = max(range(len(positions.rows)), key=lambda i: (ongoing[i], started[i] or earliest, i))
    return positions.get("Title")[best].strip(), positions.get("Company Name")[best].strip()


def _report(export: Export) -> dict:
    t = export.tables
    return {
        "export": export.name,
        "participant": None,  # the participant's folder, in that layout
        "status": "",
        "participant_id": None,
        "joined_on": None,
        "files": ";".join(sorted(table.file for table in t.values())),
        **{
            f"{kind}_rows": len(t[kind].rows) if kind in t else None
            for kind in ("invitations", "connections", "messages", "profile", "positions", "skills")
        },
        "connections": None,
        "outgoing": 0,
        "requests": 0,
        "requests_rejected": 0,
        "bad_rows": 0,
        "accepted": 0,
        "labelled": 0,
        "unclear": 0,  # requests whose messages neither offered a job nor ruled one out
        "opportunities": 0,
        "messages_spam": 0,  # messages of request senders in SPAM: never read as an outcome
        "messages_draft": 0,  # drafts: never sent
        "observed_until": None,
        "observed_until_from": None,
        "merged_exports": 1,  # exports of the same participant merged with this one
        "requests_superseded": 0,  # requests a newer export of the participant also holds
        # something of the export was not read: a file, a row
        "problems": _problems(
            export.problems
            + [
                f"{clean(tb.file)}: {len(tb.bad_rows)} row(s) not read, truncated or malformed "
                f"(line {', '.join(str(line) for line, _ in tb.bad_rows[:5])}; in the rejects)"
                for tb in t.values()
                if tb.bad_rows
            ]
        ),  # fmt: skip
        "notes": "",  # filled once the export is read: encodings, ignored columns, hidden rows
    }


def finish_notes(export: Export, report: dict) -> None:
    """How an export was read (encodings, byte-order marks, ignored columns and files,
    hidden rows), once everything that notes something has run."""
    t = export.tables
    report["notes"] = _problems(
        export.notes + [f"{clean(tb.file)}: {note}" for tb in t.values() for note in tb.notes]
    )


def _problems(problems: list[str]) -> str:
    """One cell and one log line: at most `MAX_PROBLEMS`, each cut to length."""
    shown = [clean(p) for p in problems[:MAX_PROBLEMS]]
    more = len(problems) - MAX_PROBLEMS
    return "; ".join(shown + ([f"and {more} more problems"] if more > 0 else []))


def unusable(name: str, why: str) -> dict:
    """The report of an export that could not be used at all."""
    report = _report(Export(name=name, tables={}, problems=[why]))
    report["status"] = why
    return report
