"""Member data exports as canonical requests, one participant at a time.

Each incoming invitation is a request to the participant. It was accepted when its sender
is among the participant's connections, and it led to an opportunity when a message from
the sender after it matches the label rules (or a hand label says so). The participant's
profile, positions and skills describe the recipient. Only pseudonymous ids, times,
profile fields and the note's `note_*` features leave this module.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tiesignal.config import ConfigError, DataConfig, OpportunityRules
from tiesignal.features.personalization import note_features
from tiesignal.ingest.files import (
    MAX_PROBLEMS,
    Export,
    ExportError,
    ReadLimits,
    Table,
    clean,
    copy_number,
    decode,
    find_exports,
    read_export,
)
from tiesignal.ingest.pseudonym import Pseudonymizer, name_key, person_key, profile_key

# the date formats each file has used (DESIGN.md); local times are taken as UTC
SENT_AT_FORMATS = ("%m/%d/%y, %I:%M %p", "%m/%d/%Y, %I:%M %p", "%Y-%m-%d %H:%M:%S")
CONNECTED_ON_FORMATS = ("%d %b %Y", "%m/%d/%y", "%Y-%m-%d")
MESSAGE_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
POSITION_DATE_FORMATS = ("%b %Y", "%Y", "%m/%Y")
LABELS_FILE = "labels.csv"

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
log = logging.getLogger(__name__)


UNCLEAR = "unclear"  # a message that neither offers a job nor rules one out


class LabelRules:
    """`OpportunityRules` compiled: what a message says, and by which rule."""

    def __init__(self, rules: OpportunityRules) -> None:
        self.match = _compile(rules.match, "match")
        self.exclude = _compile(rules.exclude, "exclude")
        self.unclear = _compile(rules.unclear, "unclear")

    def reading(self, text: str) -> tuple[str, str] | None:
        """("opportunity" | UNCLEAR, rule name), or None for a message that is neither."""
        if not text or any(p.search(text) for p in self.exclude.values()):
            return None
        for verdict, rules in (("opportunity", self.match), (UNCLEAR, self.unclear)):
            name = next((n for n, p in rules.items() if p.search(text)), None)
            if name is not None:
                return verdict, name
        return None


def _compile(rules: dict[str, str], kind: str) -> dict[str, re.Pattern]:
    compiled = {}
    for name, pattern in rules.items():
        try:
            compiled[name] = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise ConfigError(f"data.opportunity_rules.{kind}.{name}: bad pattern ({err})") from err
    return compiled


@dataclass
class Participant:
    """What one export gives: requests, rows that could not be used, and its report."""

    requests: pd.DataFrame
    rejects: list[tuple[str, int, str, str]]  # (file, line, column, reason)
    report: dict
    fingerprint: str | None  # who the participant is, to find the same person twice


@dataclass
class Ingested:
    requests: pd.DataFrame  # canonical columns, no raw text
    rejects: pd.DataFrame  # file, row (line), column, reason; no raw values
    participants: pd.DataFrame  # one row per export: files, rows, rejects, labels, problems
    ignored: list[str]  # entries of the folder that are not exports


def ingest_exports(
    folder: Path,
    cfg: DataConfig,
    pseudonymize: Pseudonymizer,
    on_export: Callable[[int, int, dict], None] | None = None,
) -> Ingested:
    """Every export in `folder`, in either layout; one bad export never stops the others.
    Several exports of one participant are merged by request id, the newest export's
    outcomes winning; a second download (`... (1).zip`) of an export is reported, not read
    twice; the same person in two participants' folders is used once."""
    rules = LabelRules(cfg.opportunity_rules)
    found, ignored = find_exports(folder)
    labels, label_rejects = read_labels(folder / LABELS_FILE)
    ignored = [name for name in ignored if name != LABELS_FILE]
    used: dict[str, list[Participant]] = {}  # participant -> the exports used for them
    rejects, reports = list(label_rejects), []
    seen: dict[str, tuple[str, str]] = {}  # fingerprint -> (participant, first export's name)
    limits = ReadLimits(cfg.max_file_mb << 20, cfg.max_compression_ratio)
    for i, entry in enumerate(found):
        name = clean(entry.name)
        try:
            export = dataclasses.replace(read_export(entry.path, limits), name=name)
            result = ingest_participant(export, cfg, pseudonymize, rules, labels.get(name, {}),
                                        entry.participant)  # fmt: skip
        except ExportError as err:
            result = _unusable(name, str(err))
        except Exception as err:  # noqa: BLE001 - whatever one export does, the others count
            log.debug("%s: not used", name, exc_info=True)
            result = _unusable(name, f"not used: {type(err).__name__}: {clean(err)}")
        if result.fingerprint is not None:
            who = entry.participant or result.fingerprint
            first = seen.setdefault(result.fingerprint, (who, name))
            why = (
                f"a second copy of {first[1]}" if first[1] != name and copy_number(name) else
                f"same participant as {first[1]}" if first[0] != who else None
            )  # fmt: skip
            if why:
                n = len(result.requests)
                result = _unusable(name, why)
                result.report["requests_rejected"] = n
                result.rejects.append((f"{name}/Invitations.csv", 0, "(export)", why))
            else:
                used.setdefault(who, []).append(result)
        rejects.extend(
            (f"{name}/{_inside(f, name)}" if f else name, line, c, r)
            for f, line, c, r in result.rejects
        )
        reports.append(result.report)
        if on_export is not None:
            on_export(i + 1, len(found), result.report)
    if not found:
        raise FileNotFoundError(f"{folder}: no exports (zip files or folders) in it")
    frames = [_merged(exports) for exports in used.values()]
    requests = pd.concat([f for f in frames if len(f)] or [_empty_requests()], ignore_index=True)
    return Ingested(
        requests=requests,
        rejects=rejects_frame(rejects),
        participants=pd.DataFrame(reports),
        ignored=ignored,
    )


def _merged(exports: list[Participant]) -> pd.DataFrame:
    """One participant's requests from all their exports: a request in several keeps the
    row of the export that saw it last (its outcome is the most complete)."""
    if len(exports) == 1:
        return exports[0].requests
    order = sorted(exports, key=lambda e: (str(e.report["observed_until"]), e.report["export"]))
    frames = [e.requests.assign(_export=k) for k, e in enumerate(order)]
    both = pd.concat([f for f in frames if len(f)] or [_empty_requests()], ignore_index=True)
    if both.empty:
        return both
    kept = both.drop_duplicates("request_id", keep="last")
    superseded = both["_export"].value_counts().sub(kept["_export"].value_counts(), fill_value=0)
    for k, participant in enumerate(order):
        participant.report["requests_superseded"] = int(superseded.get(k, 0))
        participant.report["merged_exports"] = len(order)
    return kept.drop(columns="_export").sort_values(["sent_at", "request_id"])


def _inside(file: str, export: str) -> str:
    """A file's path inside its export, without a first folder named like the export."""
    first, _, rest = file.partition("/")
    base = export.rsplit("/", 1)[-1]
    return rest if rest and first in (base, base.removesuffix(".zip")) else file


def rejects_frame(rows: list[tuple[str, int, str, str]]) -> pd.DataFrame:
    files, lines, columns, reasons = zip(*rows, strict=True) if rows else ((),) * 4
    return pd.DataFrame(
        {
            "reject_file": pd.array(files, dtype="str"),
            "reject_row": np.asarray(lines, dtype=np.int64),
            "reject_column": pd.array(columns, dtype="str"),
            "reject_reason": pd.array(reasons, dtype="str"),
        }
    )


@dataclass
class Invitation:
    """One incoming invitation that could be used, and whether it was accepted."""

    sender_key: str  # profile URL key, else normalized name
    name_key: str | None  # normalized name, to find messages sent under the name
    sent_at: pd.Timestamp
    accepted: bool
    accepted_at: pd.Timestamp  # NaT unless accepted
    connected_on: pd.Timestamp  # the connection's date, NaT if never connected
    headline: str | None  # Position @ Company of the connection, if any
    note: str | None


def ingest_participant(
    export: Export,
    cfg: DataConfig,
    pseudonymize: Pseudonymizer,
    rules: LabelRules,
    hand_labels: dict[str, bool],
    folder: str | None = None,
) -> Participant:
    """One export's requests. `folder`: the participant's folder, whose name is then the
    participant's id (so that their several exports share request ids)."""
    t = export.tables
    if "connections" in t:
        _note_hidden_profiles(t["connections"])
    report = _report(export)
    report["participant"] = folder
    rejects: list[tuple[str, int, str, str]] = []
    for table in t.values():
        rejects.extend((table.file, line, "(row)", why) for line, why in table.bad_rows)
        report["bad_rows"] += len(table.bad_rows)
    invitations = t.get("invitations")
    if invitations is None:
        report["status"] = "no usable Invitations.csv"
        return Participant(_empty_requests(), rejects, report, None)

    me = _recipient(t)
    incoming, my_key = _incoming(invitations, me, report, rejects)
    if my_key is None:
        report["status"] = "participant cannot be identified"
        report["requests_rejected"] = sum(incoming)
        return Participant(_empty_requests(), rejects, report, None)
    fingerprint = participant_fingerprint(my_key, me["headline"], me["industry"])
    identity = fingerprint if folder is None else f"participant/{folder}"
    connections = _connections(t.get("connections"))
    report["connections"] = None if connections is None else connections.count
    rows = [i for i, inc in enumerate(incoming) if inc]
    found = _invitations(invitations, rows, connections, rejects)
    report["requests_rejected"] = len(rows) - len(found)
    _one_acceptance_per_connection(found)
    skew = pd.Timedelta(hours=cfg.clock_skew_hours)
    opportunity, opportunity_at, unclear, by_rule = _labels(
        t.get("messages"), found, rules, hand_labels, skew, rejects
    )
    recipient_id = pseudonymize(identity)
    requests = _request_table(
        found, me, identity, recipient_id, report["connections"], opportunity,
        opportunity_at, unclear, cfg.sender_profile_from_connections, pseudonymize,
    )  # fmt: skip
    until, report["observed_until_from"] = observed_until(export.name, requests, connections)
    requests["observed_until"] = pd.Series(
        until, index=requests.index, dtype=requests["sent_at"].dtype
    )
    report["observed_until"] = None if pd.isna(until) else f"{until:%Y-%m-%d %H:%M}"
    report.update(
        status="used",
        participant_id=recipient_id,
        joined_on="profile URLs" if my_key.startswith("in/") else "names",
        requests=len(found),
        accepted=int(requests["accepted"].sum()),
        labelled=int(requests["opportunity"].notna().sum()),
        unclear=int(requests["opportunity_unclear"].sum()),
        opportunities=int(requests["opportunity"].sum()),
        **{f"rule_{name}": count for name, count in sorted(by_rule.items())},
    )
    return Participant(requests, rejects, report, fingerprint)


def _incoming(invitations: Table, me: dict, report: dict, rejects: list) -> tuple[list, str | None]:
    """Which invitations the participant received, and the participant's own key (their
    profile URL as invitee, else their name). Rows whose direction or recipient cannot be
    known are rejected."""
    direction = [d.strip().upper() for d in invitations.get("Direction")]
    me_key = me["name_key"]
    incoming = [
        d == "INCOMING" or (not d and me_key is not None and name_key(to) == me_key)
        for d, to in zip(direction, invitations.get("To"), strict=True)
    ]
    unknown_direction = [not d and me_key is None for d in direction]
    slugs = Counter(
        profile_key(url)
        for url, inc in zip(invitations.get("inviteeProfileUrl"), incoming, strict=True)
        if inc and profile_key(url)
    )
    my_key = slugs.most_common(1)[0][0] if slugs else me_key
    report["outgoing"] = sum(
        not i and not u for i, u in zip(incoming, unknown_direction, strict=True)
    )
    no_direction = "direction unknown: no Direction column and no Profile.csv name"
    rejects += [
        (invitations.file, line, "Direction", no_direction)
        for line, unknown in zip(invitations.lines, unknown_direction, strict=True)
        if unknown
    ]
    if my_key is None:
        nobody = "participant unknown: no profile URL and no Profile.csv name"
        rejects += [
            (invitations.file, line, "To", nobody)
            for line, inc in zip(invitations.lines, incoming, strict=True)
            if inc
        ]
    return incoming, my_key


def _invitations(
    invitations: Table, rows: list[int], connections: _Connections | None, rejects: list
) -> list[Invitation]:
    """The usable incoming invitations, each joined to its connection if accepted."""
    sent_at = parse_times(
        [invitations.rows[i][invitations.columns["Sent At"]] for i in rows], SENT_AT_FORMATS
    )
    urls, names = invitations.get("inviterProfileUrl"), invitations.get("From")
    notes = invitations.get("Message")
    found = []
    for j, i in enumerate(rows):
        line = invitations.lines[i]
        key = person_key(urls[i], names[i])
        if key is None:
            rejects.append((invitations.file, line, "From", "no sender name or profile URL"))
            continue
        if pd.isna(sent_at[j]):
            rejects.append((invitations.file, line, "Sent At", "not a date in a known format"))
            continue
        if connections is None:
            rejects.append(
                (invitations.file, line, "(row)", "acceptance unknown: no usable Connections.csv")
            )
            continue
        match = connections.find(profile_key(urls[i]), name_key(names[i]))
        accepted_at = pd.NaT
        if match is not None and not pd.isna(match[0]):
            accepted_at = max(match[0], sent_at[j])  # a date, not a time: never before sending
        found.append(
            Invitation(
                sender_key=key,
                name_key=name_key(names[i]),
                sent_at=sent_at[j],
                accepted=match is not None,
                accepted_at=accepted_at,
                connected_on=match[0] if match is not None else pd.NaT,
                headline=match[1] if match is not None else None,
                note=notes[i],
            )
        )
    return found


def _request_table(
    found: list[Invitation], me: dict, identity: str, recipient_id: str,
    connections: int | None, opportunity: list, opportunity_at: list, unclear: list,
    sender_headlines: bool, pseudonymize: Pseudonymizer,
) -> pd.DataFrame:  # fmt: skip
    """The canonical columns of the participant's requests, pseudonymized, notes reduced to
    their `note_*` features."""
    n = len(found)
    notes = note_features(
        [f.note for f in found], [me["first"]] * n, [me["company"]] * n, [me["skills"]] * n
    )
    headlines = [f.headline for f in found] if sender_headlines else [None] * n
    requests = pd.DataFrame(
        {
            "request_id": pd.array(
                [pseudonymize(request_key(identity, f.sender_key, f.sent_at)) for f in found],
                dtype="str",
            ),
            "sent_at": pd.Series([f.sent_at for f in found], dtype="datetime64[us, UTC]"),
            "sender_id": pd.array([pseudonymize(f.sender_key) for f in found], dtype="str"),
            "recipient_id": pd.array([recipient_id] * n, dtype="str"),
            "sender_headline": pd.array(headlines, dtype="str"),
            "sender_industries": _missing_lists(n),
            "recipient_industry": pd.array([me["industry"]] * n, dtype="str"),
            "recipient_seniority": pd.array([me["seniority"]] * n, dtype="str"),
            "recipient_skills": pd.Series(
                [me["skills"]] * n, dtype=pd.ArrowDtype(pa.list_(pa.string()))
            ),
            "recipient_connections": pd.array([connections] * n, dtype="Int64"),
            "recipient_profile_completeness": np.full(n, me["completeness"]),
            "accepted": np.asarray([f.accepted for f in found], dtype=bool),
            "accepted_at": pd.Series([f.accepted_at for f in found], dtype="datetime64[us, UTC]"),
            "opportunity": pd.array(opportunity, dtype="boolean"),
            "opportunity_at": pd.Series(opportunity_at, dtype="datetime64[us, UTC]"),
            "opportunity_unclear": np.asarray(unclear, dtype=bool),
            "source": pd.array(["member_exports"] * n, dtype="str"),
        }
    )
    return pd.concat([requests, notes], axis=1)


def _one_acceptance_per_connection(found: list[Invitation]) -> None:
    """A sender who invited more than once is one connection: the accepted request is the
    last one sent by the day of the connection (an earlier one was left unanswered)."""
    by_sender: dict[str, list[Invitation]] = {}
    for invitation in found:
        if invitation.accepted:
            by_sender.setdefault(invitation.sender_key, []).append(invitation)
    for invited in by_sender.values():
        if len(invited) < 2:
            continue
        on = invited[0].connected_on
        day = on + pd.Timedelta(days=1) if not pd.isna(on) else pd.Timestamp.max.tz_localize("UTC")
        before = [f for f in invited if f.sent_at < day]
        chosen = max(before, key=lambda f: f.sent_at) if before else invited[0]
        for invitation in invited:
            if invitation is not chosen:
                invitation.accepted, invitation.accepted_at = False, pd.NaT


# the export's date in its name: LinkedIn writes month-day-year (`..._01-15-2026.zip`)
NAME_DATE = re.compile(
    r"(?<!\d)(\d{1,2})-(\d{1,2})-(\d{4})(?!\d)|(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"
)


def observed_until(
    name: str, requests: pd.DataFrame, connections: _Connections | None
) -> tuple[pd.Timestamp, str]:
    """Until when an export saw its requests, and how that is known: the end of the day
    its name gives (UTC), else the newest time inside it (the requests' times and the
    end of the latest day a connection was made)."""
    for match in NAME_DATE.finditer(name):
        month, day, year = match.group(1, 2, 3) if match.group(1) else match.group(5, 6, 4)
        for m, d in ((month, day), (day, month)):  # month first, else day first
            try:
                date = pd.Timestamp(int(year), int(m), int(d), tz="UTC")
            except ValueError:
                continue
            return date + pd.Timedelta(days=1), "export name"
    times = [requests[c].max() for c in ("sent_at", "accepted_at", "opportunity_at")]
    if connections is not None and not pd.isna(connections.newest):
        times.append(connections.newest + pd.Timedelta(days=1))
    times = [t for t in times if not pd.isna(t)]
    return (max(times) if times else pd.NaT), "newest date inside (none in the name)"


def participant_fingerprint(key: str, headline: str | None, industry: str | None) -> str:
    """Who a participant is: their profile URL, or (older exports, without URLs) their
    name with headline and industry, so that two people of the same name stay apart."""
    return key if key.startswith("in/") else f"{key}|{headline or ''}|{industry or ''}"


def request_key(recipient: str, sender: str, sent_at: pd.Timestamp) -> str:
    """What identifies a request: who sent it to whom, and when (to the minute)."""
    return f"request|{recipient}|{sender}|{sent_at.isoformat()}"


def _labels(
    messages: Table | None,
    found: list[Invitation],
    rules: LabelRules,
    hand_labels: dict[str, bool],
    skew,
    rejects,
) -> tuple[list, list, list, Counter]:
    """The opportunity label of each request, from the sender's messages after it: True,
    False, or None with `unclear` True when its messages neither offer nor rule one out."""
    n = len(found)
    by_rule: Counter = Counter()
    if messages is None:
        return [None] * n, [pd.NaT] * n, [False] * n, by_rule  # no messages: unknown
    wanted = {f.sender_key for f in found} | {f.name_key for f in found if f.name_key}
    froms, urls = messages.get("FROM"), messages.get("SENDER PROFILE URL")
    picked = []  # (message row, sender key) for messages from a sender of a request
    for i, (name, url) in enumerate(zip(froms, urls, strict=True)):
        url_key = profile_key(url)
        key = url_key if url_key in wanted else name_key(name)
        if key in wanted:
            picked.append((i, key))
    dates = parse_times(
        [messages.rows[i][messages.columns["DATE"]] for i, _ in picked], MESSAGE_DATE_FORMATS
    )
    content = messages.get("CONTENT")
    by_sender: dict[str, list[tuple[pd.Timestamp, int]]] = {}
    for (i, key), date in zip(picked, dates, strict=True):
        if pd.isna(date):
            rejects.append(
                (messages.file, messages.lines[i], "DATE", "not a date in a known format")
            )
            continue
        by_sender.setdefault(key, []).append((date, i))
    for messages_of_sender in by_sender.values():
        messages_of_sender.sort()
    opportunity, opportunity_at, unclear = [], [], []
    for key, alt, sent in ((f.sender_key, f.name_key, f.sent_at) for f in found):
        after = [
            (d, i) for d, i in by_sender.get(key, []) or by_sender.get(alt, []) if d >= sent - skew
        ]
        readings = [(d, *r) for d, i in after if (r := rules.reading(content[i]))]
        hit = next(((d, rule) for d, verdict, rule in readings if verdict != UNCLEAR), None)
        vague = next((rule for _, verdict, rule in readings if verdict == UNCLEAR), None)
        label = hand_labels.get(key, hand_labels.get(alt)) if alt else hand_labels.get(key)
        if label is not None:
            by_rule["hand_label"] += 1
        elif hit is not None:
            label = True
            by_rule[hit[1]] += 1
        elif vague is not None:  # neither offered nor ruled out: `prepare` leaves it out
            by_rule[f"{UNCLEAR}_{vague}"] += 1
        else:
            label = False
        when = (
            (hit[0] if hit is not None else after[0][0] if after else pd.NaT) if label else pd.NaT
        )
        opportunity.append(label)
        opportunity_at.append(max(when, sent) if not pd.isna(when) else pd.NaT)
        unclear.append(label is None)
    return opportunity, opportunity_at, unclear, by_rule


@dataclass
class _Connections:
    by_key: dict[str, tuple[pd.Timestamp, str | None]]  # key -> (connected on, headline)
    count: int
    newest: pd.Timestamp  # the latest day a connection was made (NaT if none has a date)

    def find(self, url_key: str | None, name: str | None) -> tuple | None:
        """The connection with this profile URL, else with this name."""
        if url_key is not None and url_key in self.by_key:
            return self.by_key[url_key]
        return self.by_key.get(name) if name is not None else None


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


def _connections(table: Table | None) -> _Connections | None:
    if table is None:
        return None
    connected = parse_times(table.get("Connected On"), CONNECTED_ON_FORMATS)
    by_key = {}
    for url, first, last, company, position, on in zip(
        table.get("URL"),
        table.get("First Name"),
        table.get("Last Name"),
        table.get("Company"),
        table.get("Position"),
        connected,
        strict=True,
    ):
        headline = (
            f"{position.strip()} at {company.strip()}"
            if position.strip() and company.strip()
            else (position.strip() or company.strip() or None)
        )
        for key in (profile_key(url), name_key(f"{first} {last}")):
            if key is not None:
                by_key.setdefault(key, (on, headline))
    return _Connections(by_key=by_key, count=len(table.rows), newest=connected.max())


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
    started = parse_times(positions.get("Started On"), POSITION_DATE_FORMATS)
    ongoing = [not f.strip() for f in positions.get("Finished On")]
    order = sorted(
        range(len(positions.rows)),
        key=lambda i: (
            ongoing[i],
            started[i] if not pd.isna(started[i]) else pd.Timestamp.min.tz_localize("UTC"),
        ),
    )
    best = order[-1]
    return positions.get("Title")[best].strip(), positions.get("Company Name")[best].strip()


def parse_times(values: list[str], formats: tuple[str, ...]) -> pd.Series:
    """Each value in the first format that reads it, as UTC; NaT where none does."""
    text = pd.Series(values, dtype="str").str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    for fmt in formats:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True)
    return out


def read_labels(path: Path) -> tuple[dict[str, dict[str, bool]], list]:
    """Hand labels: export -> sender key -> opportunity. Columns `export`, `sender` (a
    profile URL or the name as in Invitations.csv) and `opportunity` (true/false)."""
    if not path.exists():
        return {}, []
    text, _ = decode(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    need = {"export", "sender", "opportunity"}
    if not need <= set(reader.fieldnames or ()):
        raise ValueError(f"{path}: needs columns export, sender, opportunity")
    labels: dict[str, dict[str, bool]] = {}
    rejects = []
    for line, row in enumerate(reader, start=2):
        value = (row["opportunity"] or "").strip().lower()
        sender = (row["sender"] or "").strip()
        key = profile_key(sender) if "/in/" in sender else name_key(sender)
        if value not in ("true", "false", "1", "0", "yes", "no") or key is None:
            rejects.append(
                (LABELS_FILE, line, "opportunity" if key else "sender", "not a usable hand label")
            )
            continue
        labels.setdefault(row["export"].strip(), {})[key] = value in ("true", "1", "yes")
    return labels, rejects


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
        "outgoing": 0,
        "requests": 0,
        "requests_rejected": 0,
        "bad_rows": 0,
        "accepted": 0,
        "labelled": 0,
        "unclear": 0,  # requests whose messages neither offered a job nor ruled one out
        "opportunities": 0,
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
        # how it was read: encodings, byte-order marks, ignored columns and files, hidden rows
        "notes": _problems(
            export.notes + [f"{clean(tb.file)}: {note}" for tb in t.values() for note in tb.notes]
        ),
    }


def _problems(problems: list[str]) -> str:
    """One cell and one log line: at most `MAX_PROBLEMS`, each cut to length."""
    shown = [clean(p) for p in problems[:MAX_PROBLEMS]]
    more = len(problems) - MAX_PROBLEMS
    return "; ".join(shown + ([f"and {more} more problems"] if more > 0 else []))


def _unusable(name: str, why: str) -> Participant:
    report = _report(Export(name=name, tables={}, problems=[why]))
    report["status"] = why
    return Participant(_empty_requests(), [], report, None)


def _missing_lists(n: int) -> pd.Series:
    return pd.Series([None] * n, dtype=pd.ArrowDtype(pa.list_(pa.string())))


def _empty_requests() -> pd.DataFrame:
    return pd.DataFrame()
