"""Censoring, labelling and the time split, after validation.

Rows in = rows kept + rows rejected (by `validate_requests`), and every kept row ends up
in exactly one of train / valid / test / excluded, the last with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.config import ASSIGNMENT_ARMS, PrepareConfig
from tiesignal.io import TableChunks
from tiesignal.schema import (
    LABEL,
    SPLITS,
    EarlierRows,
    FoundDuplicates,
    InputError,
    Validated,
    request_ids,
    validate_requests,
)


@dataclass(frozen=True)
class Prepared:
    requests: pd.DataFrame  # every kept row, sorted by time, with `split` and `excluded_reason`
    report: dict
    rejects: pd.DataFrame | None = None  # rows that failed validation, with their reasons


def within_window(requests: pd.DataFrame, outcome: str, label_window_days: int) -> pd.Series:
    """The label of an outcome (`accepted` or `opportunity`): it happened within the label
    window of sending (a time not given counts as within); missing where it is unknown."""
    at = requests[f"{outcome}_at"]
    within = at.isna() | (at - requests["sent_at"] <= pd.Timedelta(days=label_window_days))
    return (requests[outcome].astype("boolean") & within).astype("boolean")


def label_and_split(
    kept: pd.DataFrame, cfg: PrepareConfig, target: str = "opportunity"
) -> Prepared:
    """Label each request by `target` (`opportunity`, `accepted`, or
    `opportunity_given_accept`: accepted requests only), censor the ones whose window is
    still open, split by time.

    Each request is observed until its own `observed_until` (an export's date), else
    until the data's end, the latest timestamp it holds. A request sent less than
    `label_window_days` before that is censored: its outcome is unknown, not negative.
    Train, valid and test are consecutive periods cut at time quantiles of the labelled
    requests: a forecasting split, in which a recipient may appear in several periods as
    in use. With `recipients: disjoint` a recipient belongs to the period of their latest
    labelled request and their requests in earlier periods are excluded, so no recipient
    is in two splits and the test period keeps every labelled request it has: what is
    lost is training data.
    A study too small for that is cross-validated over participants instead (`fold`):
    its split is the first rotation, and `train` fits the others.
    """
    if cfg.train_fraction <= 0 or cfg.valid_fraction <= 0:
        raise ValueError("split.train_fraction and split.valid_fraction must be positive")
    if cfg.train_fraction + cfg.valid_fraction >= 1:
        raise ValueError("split.train_fraction + split.valid_fraction must be below 1")
    df = kept.sort_values(["sent_at", "request_id"], kind="stable").reset_index(drop=True)
    data_end = max(
        df[c].max() for c in ("sent_at", "accepted_at", "opportunity_at") if df[c].notna().any()
    )
    reason, censored = _labelled(df, cfg.label_window_days, target, data_end)
    labelled = reason.isna()
    if labelled.sum() < 3:
        raise TooFewRequests(f"only {labelled.sum()} labelled requests (excluded: "
                             f"{_counts(reason.dropna())}): too few to split")  # fmt: skip
    method = cfg.method if labelled.sum() >= cfg.participants_below else "participants"
    if method == "time":
        period, valid_from, test_from, kept_by_policy = _time_periods(df, labelled, reason, cfg)
    else:
        df["fold"] = participant_folds(df["recipient_id"], df[LABEL].where(labelled), cfg.folds)
        # the first rotation is the pipeline's split: test fold 0, early stopping on fold 1
        period = np.select([df["fold"].eq(0).fillna(False), df["fold"].eq(1).fillna(False)],
                           [2, 1], 0)  # fmt: skip
        valid_from = test_from = None
        kept_by_policy = {}
    split = pd.Series(np.array(SPLITS, dtype=object)[period], index=df.index, dtype="str")
    df["split"] = split.where(reason.isna(), "excluded")
    df["excluded_reason"] = reason

    by_split = _by_split(df)
    folds = _fold_counts(df) if method == "participants" else {}
    _check_enough(by_split, folds, cfg)
    report = {
        "data_end": data_end,
        "sources": {k: int(v) for k, v in df["source"].value_counts().sort_index().items()},
        "label_window_days": cfg.label_window_days,
        "target": target,
        "split_method": method,
        "recipients": cfg.recipients if method == "time" else "disjoint",
        # labelled requests each recipient policy would keep (time split)
        **({"rows_by_recipient_policy": kept_by_policy} if kept_by_policy else {}),
        "valid_from": valid_from,
        "test_from": test_from,
        "splits": by_split,
        **({"folds": folds} if folds else {}),
        "excluded": {k: int(v) for k, v in reason.value_counts().sort_index().items()},
        "recipients_in_two_splits": _recipients_in_two_splits(df),
        "censored_by_source": _counts(df.loc[censored, "source"]),
        # by observation end: an export's date, or the data's end where a source gives none
        "censored_by_observed_until": _counts(
            df.loc[censored, "observed_until"].dt.strftime("%Y-%m-%d").fillna("data end")
        ),
    }
    return Prepared(requests=df, report=report)


def _by_split(df: pd.DataFrame) -> dict[str, dict]:
    """Rows, positives and time span of train, valid and test."""
    return {
        s: {
            "rows": int((df["split"] == s).sum()),
            "positives": int(df.loc[df["split"] == s, LABEL].sum()),
            "from": df.loc[df["split"] == s, "sent_at"].min(),
            "to": df.loc[df["split"] == s, "sent_at"].max(),
        }
        for s in SPLITS
    }


def _labelled(
    df: pd.DataFrame, label_window_days: int, target: str, data_end: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    """Adds the label column to `df`; returns why each request is left out (NA: it is
    labelled) and which were censored (sent less than the window before their end)."""
    window = pd.Timedelta(days=label_window_days)
    outcome = "accepted" if target == "accepted" else "opportunity"
    df[LABEL] = within_window(df, outcome, label_window_days)
    reason = pd.Series(pd.NA, index=df.index, dtype="str")
    reason[df[outcome].isna()] = "no_label"
    if outcome == "opportunity":
        reason[df["opportunity"].isna() & df["opportunity_unclear"].fillna(False)] = "unclear"
    if target == "opportunity_given_accept":  # the recipient's question: accepted ones only
        reason[reason.isna() & df["accepted"].isna()] = "no_label"
        reason[reason.isna() & ~df["accepted"].fillna(True).astype(bool)] = "not_accepted"
    observed_until = df["observed_until"]
    censored = reason.isna() & (df["sent_at"] > observed_until.fillna(data_end) - window)
    reason[censored] = "censored"
    return reason, censored


def _time_periods(df: pd.DataFrame, labelled: pd.Series, reason: pd.Series, cfg: PrepareConfig):
    """Train, valid and test as consecutive periods at time quantiles of the labelled
    requests: each row's period, the two cuts, and the rows each recipient policy keeps.
    Under `recipients: disjoint` a recipient's requests before their last period are left
    out (`reason`)."""
    times = df.loc[labelled, "sent_at"]
    valid_from = times.quantile(cfg.train_fraction)
    test_from = times.quantile(cfg.train_fraction + cfg.valid_fraction)
    period = np.select([df["sent_at"] < valid_from, df["sent_at"] < test_from], [0, 1], 2)
    last_period = (
        pd.Series(np.where(labelled, period, -1), index=df.index)
        .groupby(df["recipient_id"])
        .transform("max")
    )
    in_later = labelled & (period < last_period)
    kept_by_policy = {
        "shared": int(labelled.sum()),
        "disjoint": int((labelled & ~in_later).sum()),
    }
    if cfg.recipients == "disjoint":
        reason[in_later] = "recipient_in_later_split"
    return period, valid_from, test_from, kept_by_policy


def participant_folds(recipients: pd.Series, labels: pd.Series, folds: int) -> pd.Series:
    """Each recipient's fold (NA where `labels` is NA): whole recipients, so no one is in
    two folds, dealt so that the folds are alike in positives, then in rows. Recipients
    with the most positives go first, each to the fold with the fewest positives so far;
    those without positives to the fold with the fewest rows (ties: the lower fold)."""
    known = labels.notna()
    per = (
        pd.DataFrame({"recipient": recipients[known], "positive": labels[known].astype(int)})
        .groupby("recipient", sort=True)["positive"]
        .agg(["sum", "size"])
        .sort_values(["sum", "size"], ascending=False, kind="stable")
    )
    k = min(folds, len(per))
    positives, rows = [0] * k, [0] * k
    fold_of = {}
    for recipient, n_pos, n_rows in per.itertuples():
        fold = min(range(k), key=lambda f: (positives[f], rows[f]) if n_pos else rows[f])
        fold_of[recipient] = fold
        positives[fold] += n_pos
        rows[fold] += n_rows
    return recipients.map(fold_of).where(known).astype("Int8")


def _fold_counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    used = df[df["fold"].notna()]
    by_fold = used.groupby("fold")
    return {
        str(fold): {
            "rows": int(len(rows)),
            "positives": int(rows[LABEL].sum()),
            "recipients": int(rows["recipient_id"].nunique()),
        }
        for fold, rows in by_fold
    }


def _check_enough(by_split: dict, folds: dict, cfg: PrepareConfig) -> None:
    """Stop before training when a split is too small to train on or to judge a model by."""
    if folds:  # each fold is once the test fold: it needs both outcomes
        short = [
            f
            for f, n in folds.items()
            if n["positives"] < cfg.min_split_positives or n["positives"] == n["rows"]
        ]
        if len(folds) < 3 or short:
            counts = "; ".join(f"fold {f} {n['recipients']} recipients, {n['rows']} requests, "
                               f"{n['positives']} positive" for f, n in folds.items())  # fmt: skip
            raise TooFewRequests(
                f"too few for cross-validation over participants ({counts}): it needs at "
                f"least 3 folds, each with {cfg.min_split_positives} positive(s) "
                "(split.min_split_positives) and a negative. Add participants, lower "
                "split.folds, or shorten the label window (split.label_window_days)"
            )
        return
    short = [
        s
        for s, n in by_split.items()
        if n["rows"] < cfg.min_split_rows or n["positives"] < cfg.min_split_positives
    ]
    if short:
        counts = "; ".join(f"{s} {n['rows']} requests, {n['positives']} positive"
                           for s, n in by_split.items())  # fmt: skip
        raise TooFewRequests(
            f"too few labelled requests to split ({counts}): each split needs at least "
            f"{cfg.min_split_rows} requests and {cfg.min_split_positives} positives "
            f"(split.min_split_rows, split.min_split_positives); {', '.join(short)} fall(s) "
            "short. Add data (more participants or a longer period), shorten the label window "
            "(split.label_window_days) to censor fewer, move split.train_fraction and "
            "split.valid_fraction, or cross-validate over participants instead "
            "(split=participants, or split.participants_below)"
        )


class TooFewRequests(InputError):
    """The data are too small for a train/valid/test split."""


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def _recipients_in_two_splits(df: pd.DataFrame) -> int:
    used = df[df["split"].isin(SPLITS)]
    return int((used.groupby("recipient_id")["split"].nunique() > 1).sum())


# What labelling and splitting read: all that `prepare_chunks` holds of the whole table
LABELLING_COLUMNS = (
    "request_id", "sent_at", "recipient_id", "source", "accepted", "accepted_at",
    "opportunity", "opportunity_at", "opportunity_unclear", "observed_until",
)  # fmt: skip
KEPT_ROW = "kept_row"  # a kept row's position among the kept rows, in arrival order


def prepare_requests(
    raw: pd.DataFrame,
    file: str,
    cfg: PrepareConfig,
    target: str = "opportunity",
    arms: tuple[str, ...] = tuple(ASSIGNMENT_ARMS.values()),
) -> Prepared:
    """`prepare_chunks` over one table in memory: `requests` is every kept row, sorted,
    with the columns prepare adds."""
    kept: list[pd.DataFrame] = []
    validated = validated_chunks([raw], file, cfg, arms)
    prepared = prepare_chunks(validated, file, cfg, target, keep=kept.append)
    return Prepared(with_labels(kept[0], prepared.requests), prepared.report, prepared.rejects)


def validated_chunks(
    chunks: Iterable[pd.DataFrame], file: str, cfg: PrepareConfig, arms: tuple[str, ...]
) -> Iterator[Validated]:
    """Each chunk of a file validated in turn, with duplicates found across chunks.
    `arms`: the values an `assignment` may take."""
    earlier = EarlierRows()
    for chunk in chunks:
        yield validate_chunk(chunk, file, cfg, earlier, arms)


def validate_chunk(
    chunk: pd.DataFrame,
    file: str,
    cfg: PrepareConfig,
    earlier: EarlierRows | FoundDuplicates,
    arms: tuple[str, ...],
) -> Validated:
    """One chunk of a file validated after the chunks before it (`EarlierRows`), or alone
    with its duplicates found beforehand (`FoundDuplicates`: a part the executor runs)."""
    return validate_requests(
        chunk, file, cfg.min_sent_at, cfg.max_sent_at, earlier=earlier, arms=arms
    )


def duplicates_before(earlier: EarlierRows, ids: pd.DataFrame) -> FoundDuplicates:
    """A part's rows before it and its duplicates, as validating the file in order finds
    them, from its `request_id` column alone: what validating that part elsewhere needs.
    A file without the column is counted all the same (its validation says it is missing)."""
    rows = earlier.rows
    if "request_id" not in ids:
        earlier.rows += len(ids)
        return FoundDuplicates(rows, np.full(len(ids), -1, dtype=np.int64))
    return FoundDuplicates(rows, earlier.duplicates(request_ids(ids)))


def validate_and_set_aside(
    chunk: pd.DataFrame,
    found: FoundDuplicates,
    kept_file: Path,
    file: str,
    cfg: PrepareConfig,
    arms: tuple[str, ...],
) -> Validated:
    """`validate_chunk` of one part alone, its kept rows written to `kept_file` for the
    stage's external sort: only their `LABELLING_COLUMNS` come back."""
    checked = validate_chunk(chunk, file, cfg, found, arms)
    kept = TableChunks(kept_file, spool=True)
    kept.write(checked.kept)
    kept.close()
    return replace(checked, kept=checked.kept[list(LABELLING_COLUMNS)])


def prepare_chunks(
    validated: Iterable[Validated],
    file: str,
    cfg: PrepareConfig,
    target: str,
    keep: Callable[[pd.DataFrame], None] | None = None,
) -> Prepared:
    """Label and split validated chunks (in file order); `report` counts every row in
    exactly one place. Every row rejected is a clear error naming the columns most often
    at fault.

    Each chunk's kept rows go to `keep` (if given), in arrival order; memory holds only the
    `LABELLING_COLUMNS` of the whole table. `requests` is those, sorted, with `KEPT_ROW`
    and the columns prepare adds (`with_labels` puts them beside the kept rows)."""
    labelling, rejected = [], []
    rows_in = 0
    for checked in validated:
        kept = checked.kept
        keys = kept[list(LABELLING_COLUMNS)].copy()
        keys[KEPT_ROW] = np.arange(len(kept)) + sum(len(k) for k in labelling)
        labelling.append(keys)
        rejected.append(checked.rejects)
        rows_in += checked.rows
        if keep:
            keep(kept)
    if not labelling:
        raise InputError(f"{file}: no rows")
    rejects = pd.concat(rejected, ignore_index=True)
    if len(rejects) == rows_in:
        top = rejects.groupby(["reject_column"]).size().nlargest(3)
        raise AllRejected(
            rejects,
            f"{file}: all {rows_in} rows rejected, most often in column(s) "
            f"{', '.join(f'{c} ({n} rows)' for c, n in top.items())}; the rejects",
        )
    prepared = label_and_split(pd.concat(labelling, ignore_index=True), cfg, target)
    report = {
        "rows_in": rows_in,
        "rows_kept": len(prepared.requests),
        "rows_rejected": len(rejects),
        "rejected_by_column": rejects["reject_column"].value_counts().sort_index().to_dict(),
        **prepared.report,
    }
    assert report["rows_in"] == report["rows_kept"] + report["rows_rejected"]
    return Prepared(prepared.requests, report, rejects)


FIRST_AT = re.compile(r"first at row (\d+)")  # a duplicate's reason (schema.validate_requests)


def in_the_source(rejects: pd.DataFrame, origins: pd.DataFrame) -> pd.DataFrame:
    """Rejects numbered in the canonical table, renamed to the file and row each row came
    from in the source the user gave (`origins`: `ORIGIN_COLUMNS`, in the table's order),
    a duplicate's first row too: a reject names what the user can open."""
    if rejects.empty:
        return rejects
    files = origins["origin_file"].to_numpy(dtype=object)
    rows = origins["origin_row"].to_numpy()
    at = rejects["reject_row"].to_numpy()

    def first_at(match: re.Match, file: str) -> str:
        first = int(match[1])
        where = "" if files[first] == file else f"{files[first]} "
        return f"first at {where}row {rows[first]}"

    reasons = [
        FIRST_AT.sub(lambda m, f=files[i]: first_at(m, f), reason)
        for i, reason in zip(at, rejects["reject_reason"], strict=True)
    ]
    return rejects.assign(
        reject_file=pd.array(files[at], dtype="str"),
        reject_row=rows[at],
        reject_reason=pd.array(reasons, dtype="str"),
    )


def added_columns(labelled: pd.DataFrame) -> list[str]:
    """The columns prepare adds to the kept rows: the label, the split and its reasons."""
    return [c for c in labelled.columns if c not in LABELLING_COLUMNS and c != KEPT_ROW]


def with_labels(kept: pd.DataFrame, labelled: pd.DataFrame) -> pd.DataFrame:
    """The kept rows in `labelled`'s order, with the columns prepare added."""
    rows = kept.take(labelled[KEPT_ROW].to_numpy()).reset_index(drop=True)
    return pd.concat([rows, labelled[added_columns(labelled)].reset_index(drop=True)], axis=1)


class AllRejected(InputError):
    """No row passed validation; the rejects are kept so they can still be written."""

    def __init__(self, rejects: pd.DataFrame, message: str) -> None:
        super().__init__(message)
        self.rejects = rejects
