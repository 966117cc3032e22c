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


# record -> (whose record, which outcome)
RECORDS = {
    "sender_acceptance": ("sender_id", "accepted"),
    "sender_opportunity": ("sender_id", "opportunity"),
    "recipient_acceptance": ("recipient_id", "accepted"),
}
WHOSE = ("sender_id", "recipient_id")


class TrackRecords:
    """Outcome events of a stream of requests in time order, per sender and recipient.

    One instance carries them from chunk to chunk: events already before the latest
    request are summed per person; later ones (an acceptance next week) wait."""

    def __init__(self, prior: TrackRecordPrior) -> None:
        self.prior = prior
        self.totals = {who: pd.DataFrame(dtype=float) for who in WHOSE}  # person x value
        self.pending = {who: pd.DataFrame() for who in WHOSE}  # who, at, values

    def as_of(self, requests: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each record, each request's (positives, observed) outcomes seen before its
        `sent_at`; then this chunk's outcomes join the stream. Requests in time order."""
        out = {}
        r = requests.reset_index(drop=True)
        horizon = r["sent_at"].max()
        for who in WHOSE:
            names = [name for name, (whose, _) in RECORDS.items() if whose == who]
            values = [f"{name}.{part}" for name in names for part in ("positive", "observed")]
            people = r[who].astype("str")
            codes, uniques = pd.factorize(people)
            events = pd.concat([self.pending[who], self._events(r, people, names)])
            events = events.reindex(columns=["who", "at", *values]).fillna({v: 0.0 for v in values})
            # only the events of people in this chunk can count for its requests
            event_codes = pd.Index(uniques).get_indexer(events["who"])
            ours = event_codes >= 0
            sums = _earlier_sums(
                codes, _ns(r["sent_at"]), event_codes[ours], _ns(events.loc[ours, "at"]),
                events.loc[ours, values].to_numpy(float),
            )  # fmt: skip
            base = self.totals[who].reindex(index=uniques, columns=values, fill_value=0.0)
            sums += base.to_numpy(float)[codes]
            for name in names:
                i = values.index(f"{name}.positive")
                out[name] = (sums[:, i], sums[:, i + 1])
            if len(events):
                done = (events["at"] < horizon).to_numpy()  # before every later request
                summed = events[done].groupby("who")[values].sum()
                self.totals[who] = self.totals[who].add(summed, fill_value=0.0)
                self.pending[who] = events[~done]
        return out

    def rate(self, positive: np.ndarray, observed: np.ndarray, base: float) -> np.ndarray:
        w = self.prior.prior_weight
        return (positive + w * base) / (observed + w)

    def _events(self, r: pd.DataFrame, people: pd.Series, names: list[str]) -> pd.DataFrame:
        """When each request's outcomes became observable: a row per request and time with
        +1 observed (and +1 positive) in the columns of the record it counts for."""
        closes = r["sent_at"] + pd.Timedelta(days=self.prior.label_window_days)
        until = r["observed_until"] if "observed_until" in r else pd.Series(pd.NaT, index=r.index)
        frames = []
        for name in names:
            outcome = RECORDS[name][1]
            if outcome not in r or r[outcome].isna().all():
                continue
            known = r[outcome].notna()
            happened = known & r[outcome].fillna(False).astype(bool)
            # when it became observable; a time not given: once the window had closed
            at = r[f"{outcome}_at"].fillna(closes)
            if outcome == "opportunity":  # one after the window is a negative label
                happened &= at <= closes
            negative_seen = known & ~happened & ~(closes > until)  # NaT: still observed
            for rows, when, positive in ((happened, at, 1.0), (negative_seen, closes, 0.0)):
                frames.append(
                    pd.DataFrame({"who": people[rows], "at": when[rows],
                                  f"{name}.positive": positive, f"{name}.observed": 1.0})
                )  # fmt: skip
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _earlier_sums(
    codes: np.ndarray,
    times: np.ndarray,
    event_codes: np.ndarray,
    event_times: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Per request (person `codes`, `times`), the sums of its person's event `values`
    strictly before its time: requests and events sorted together by person and time, a
    request before an event at the same time, and the running sums read at each request."""
    n = len(codes)
    keys = np.concatenate([codes, event_codes])
    is_event = np.r_[np.zeros(n, dtype=np.int8), np.ones(len(event_codes), dtype=np.int8)]
    order = np.lexsort((is_event, np.concatenate([times, event_times]), keys))
    steps = np.vstack([np.zeros((n, values.shape[1])), values])[order]
    running = np.cumsum(steps, axis=0)
    sorted_keys = keys[order]
    start = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    # the running total before each person's first row, carried down their rows
    before_person = np.maximum.accumulate(np.where(start[:, None], running - steps, 0.0), axis=0)
    sums = np.empty_like(steps)
    sums[order] = running - before_person - steps  # strictly before: not the row's own step
    return sums[:n]


def _ns(times: pd.Series) -> np.ndarray:
    naive = pd.to_datetime(times, utc=True).dt.tz_localize(None)  # no events: an empty float
    return naive.to_numpy("datetime64[ns]").astype(np.int64)
