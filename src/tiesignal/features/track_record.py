"""Track records as of each request: the earlier outcomes of the same sender (did their
requests get accepted, lead to opportunities?) and of the same recipient (do they accept?).

A point-in-time ("as of") join: a request sent at t sees an outcome only once it was
observable before t. An acceptance counts from `accepted_at`; an opportunity from
`opportunity_at`, when it came within the label window; a negative only once the label
window has closed, and only if its request was still observed then (`observed_until`).
Rates are shrunk toward the base rate by `prior_weight` pseudo-outcomes, so a sender with
one lucky request does not get a rate of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TrackRecordPrior:
    """What the rates start from, fixed when the model is trained (feature_spec.json)."""

    label_window_days: int
    prior_weight: float  # pseudo-outcomes at the base rate
    acceptance_rate: float  # base rates, from the training split
    opportunity_rate: float

    def rate(self, positive, observed, base: float):
        """A rate shrunk toward `base` (arrays, or one request's floats)."""
        w = self.prior_weight
        return (positive + w * base) / (observed + w)


# record -> (whose record, which outcome)
RECORDS = {
    "sender_acceptance": ("sender_id", "accepted"),
    "sender_opportunity": ("sender_id", "opportunity"),
    "recipient_acceptance": ("recipient_id", "accepted"),
}
WHOSE = ("sender_id", "recipient_id")


class TrackRecords:
    """Outcome events of a stream of requests in time order, per sender and recipient.

    One instance carries them from chunk to chunk: each person gets a number the first
    time they are seen; events already before the latest request are summed per person,
    later ones (an acceptance next week) wait."""

    def __init__(self, prior: TrackRecordPrior) -> None:
        self.prior = prior
        self.people = {who: pd.Index([], dtype="str") for who in WHOSE}  # number: position
        self.totals = {who: np.zeros((0, len(_values(who)))) for who in WHOSE}
        self.pending = {who: _Events.none(len(_values(who))) for who in WHOSE}

    def as_of(self, requests: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each record, each request's (positives, observed) outcomes seen before its
        `sent_at`; then this chunk's outcomes join the stream. Requests in time order."""
        return self._step(requests, read=True)

    def advance(self, requests: pd.DataFrame) -> TrackRecords:
        """This chunk's outcomes join the stream, as after `as_of`, without reading them.
        Returns the records as they were before, of the chunk's senders and recipients."""
        handed = TrackRecords(self.prior)
        self._step(requests, read=False, handed=handed)
        return handed

    def _step(
        self, requests: pd.DataFrame, read: bool, handed: TrackRecords | None = None
    ) -> dict[str, tuple]:
        out = {}
        r = requests.reset_index(drop=True)
        times = _ns(r["sent_at"])
        outcomes = self._outcomes(r, times)
        for who in WHOSE:
            person, people = self._numbers(who, r[who].astype("str"))
            if handed is not None:
                self._hand_over(who, people, handed)
            events = self.pending[who].plus(self._events(outcomes, person, who))
            if read:
                sums = _earlier_sums(person, times, events.person, events.at, events.values)
                sums += self.totals[who][person]
                for i, name in enumerate(_records_of(who)):
                    out[name] = (sums[:, 2 * i], sums[:, 2 * i + 1])
            done = events.at < times.max()  # before every later request: summed up
            for j in range(self.totals[who].shape[1]):  # np.add.at, an order faster
                self.totals[who][:, j] += np.bincount(
                    events.person[done], events.values[done, j], len(self.totals[who])
                )
            self.pending[who] = events.where(~done)
        return out

    def _hand_over(self, who: str, numbers: np.ndarray, handed: TrackRecords) -> None:
        """The records of the distinct people `numbers`, renumbered from 0, into `handed`."""
        handed.people[who] = self.people[who][numbers]
        handed.totals[who] = self.totals[who][numbers]
        renumbered = np.full(len(self.people[who]), -1, dtype=np.intp)
        renumbered[numbers] = np.arange(len(numbers))
        pending = self.pending[who]
        theirs = renumbered[pending.person]
        mine = theirs >= 0
        handed.pending[who] = _Events(theirs[mine], pending.at[mine], pending.values[mine])

    def _numbers(self, who: str, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Each request's person as a number, new people numbered after the known ones;
        and the numbers of the distinct people."""
        codes, distinct = pd.factorize(ids, use_na_sentinel=False)
        known = self.people[who]
        numbers = known.get_indexer(distinct)
        new = numbers < 0
        if new.any():
            numbers[new] = len(known) + np.arange(new.sum())
            self.people[who] = known.append(pd.Index(distinct[new], dtype="str"))
            grown = np.zeros((len(self.people[who]), self.totals[who].shape[1]))
            grown[: len(known)] = self.totals[who]
            self.totals[who] = grown
        return numbers[codes], numbers

    def _outcomes(self, r: pd.DataFrame, times: np.ndarray) -> dict[str, tuple]:
        """Per outcome the data hold: which requests it happened to and when that became
        observable, and which are negatives observed once their window closed (at
        `closes`). The same for senders and recipients, so worked out once per chunk."""
        closes = times + pd.Timedelta(days=self.prior.label_window_days).value
        until = _ns(r["observed_until"]) if "observed_until" in r else None
        still_observed = np.ones(len(r), dtype=bool) if until is None else (
            (until == NAT) | (closes <= until)
        )  # fmt: skip
        out = {}
        for outcome in ("accepted", "opportunity"):
            if outcome not in r or r[outcome].isna().all():
                continue
            known = r[outcome].notna().to_numpy()
            happened = known & r[outcome].fillna(False).to_numpy(dtype=bool)
            # when it became observable; a time not given: once the window had closed
            at = _ns(r[f"{outcome}_at"])
            at = np.where(at == NAT, closes, at)
            if outcome == "opportunity":  # one after the window is a negative label
                happened &= at <= closes
            out[outcome] = (happened, at, known & ~happened & still_observed, closes)
        return out

    @staticmethod
    def _events(outcomes: dict[str, tuple], person: np.ndarray, who: str) -> _Events:
        """When each request's outcomes became observable: +1 observed (and +1 positive)
        in the columns of the record each counts for. A request's outcomes that became
        observable at the same time (both negatives of a request not accepted, once its
        window closed) are one event: fewer events to sort and join."""
        names = _records_of(who)
        width = 2 * len(names)
        values = np.zeros((len(person), len(names), width))  # [request, record, column]
        when = np.zeros((len(person), len(names)), dtype=np.int64)
        exists = np.zeros((len(person), len(names)), dtype=bool)
        for i, name in enumerate(names):
            if RECORDS[name][1] not in outcomes:
                continue
            happened, at, negative_seen, closes = outcomes[RECORDS[name][1]]
            exists[:, i] = happened | negative_seen
            when[:, i] = np.where(happened, at, closes)
            values[:, i, 2 * i] = happened
            values[:, i, 2 * i + 1] = exists[:, i]
        parts = []
        for i in range(1, len(names)):  # folded into the first record's event
            same = exists[:, 0] & exists[:, i] & (when[:, i] == when[:, 0])
            values[same, 0] += values[same, i]
            exists[same, i] = False
        for i in range(len(names)):
            rows = exists[:, i]
            parts.append(_Events(person[rows], when[rows, i], values[rows, i]))
        return _Events.concat(parts, width)


NAT = np.iinfo(np.int64).min  # a missing time, as nanoseconds


@dataclass(frozen=True)
class _Events:
    """Outcome events: whose (a person's number), when (ns), and what they add."""

    person: np.ndarray
    at: np.ndarray
    values: np.ndarray

    @staticmethod
    def none(width: int) -> _Events:
        return _Events(
            np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), np.zeros((0, width))
        )

    @staticmethod
    def concat(parts: list[_Events], width: int) -> _Events:
        if not parts:
            return _Events.none(width)
        return _Events(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("person", "at", "values"))
        )

    def plus(self, other: _Events) -> _Events:
        return _Events.concat([self, other], self.values.shape[1])

    def where(self, keep: np.ndarray) -> _Events:
        return _Events(self.person[keep], self.at[keep], self.values[keep])


def _records_of(who: str) -> list[str]:
    """The records kept per `who` (sender_id or recipient_id), in RECORDS order."""
    return [name for name, (whose, _) in RECORDS.items() if whose == who]


def _values(who: str) -> list[str]:
    return [f"{name}.{part}" for name in _records_of(who) for part in ("positive", "observed")]


def _earlier_sums(
    codes: np.ndarray,
    times: np.ndarray,
    event_codes: np.ndarray,
    event_times: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Per request (person `codes`, `times` in ascending order), the sums of its person's
    event `values` strictly before its time: running sums of each person's events in time
    order, and an as-of join (pandas' merge_asof) that reads the last one before each
    request."""
    columns = list(range(values.shape[1]))
    order = np.argsort(event_times, kind="stable")
    person = event_codes[order].astype(np.int64)
    running = pd.DataFrame(values[order], columns=columns).groupby(person, sort=False).cumsum()
    running["person"], running["at"] = person, event_times[order]
    requests = pd.DataFrame({"person": codes.astype(np.int64), "at": times})
    sums = pd.merge_asof(requests, running, on="at", by="person", allow_exact_matches=False)
    out = sums[columns].to_numpy(dtype=float, copy=True)
    out[np.isnan(out)] = 0.0  # no earlier event of that person
    return out


def _ns(times: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch (UTC); a missing time is NAT."""
    naive = pd.to_datetime(times, utc=True).dt.tz_localize(None)
    return naive.to_numpy("datetime64[ns]").view(np.int64)
