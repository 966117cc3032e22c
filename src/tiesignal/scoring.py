"""Score raw requests in the canonical schema with an exported model, chunk by chunk.

Memory stays at one chunk whatever the file's size, plus 16 bytes a row to find a
request id given twice. Only the columns the features use are read and validated (not
outcomes, not `source`, never message text); a row that cannot be scored goes to the
rejects file with its row, column, reason and request id, and no other value. History
features (a sender's earlier requests) carry over from chunk to chunk, so they count every
earlier request in the file when the file is in time order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from tiesignal.export.exported import ExportedModel
from tiesignal.features.build import History, build_features
from tiesignal.io import TableChunks, TableReader, atomic_path, table_format
from tiesignal.schema import (
    REQUIRED_TO_SCORE,
    SCORING_COLUMNS,
    EarlierRows,
    InputError,
    validate_requests,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringReport:
    rows_in: int
    rows_scored: int
    rows_rejected: int
    seconds: float
    chunks_out_of_time_order: int

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else float("inf")


def score_file(
    model: ExportedModel,
    source: Path,
    out: Path,
    rejects: Path,
    chunk_size: int = 200_000,
    progress: bool | None = None,
) -> ScoringReport:
    """Write `request_id, p_opportunity` for every valid row of `source` to `out` (input
    order), and the rows that cannot be scored to `rejects` (no file when there are none);
    both are written atomically.
    `progress`: a progress bar on stderr (None: only when stderr is a terminal)."""
    start = time.perf_counter()
    earliest, latest = model.spec["valid_sent_at"]
    table = TableReader(source, chunk_size, list(SCORING_COLUMNS))
    for note in table.notes:
        log.info("%s: %s", source, note)
    earlier = EarlierRows()
    stream = _Stream(model)
    rows_scored = rows_rejected = 0
    bar = tqdm(
        total=table.total,
        unit="req",
        unit_scale=True,
        disable=None if progress is None else not progress,
    )
    with atomic_path(out) as out_tmp, atomic_path(rejects) as rejects_tmp, bar:
        scores = TableChunks(out_tmp, table_format(out))
        rejected = TableChunks(rejects_tmp, table_format(rejects))
        try:
            for chunk in table:
                raw = chunk.rows
                if raw.empty:
                    continue
                checked = validate_requests(
                    raw, str(source), earliest, latest, REQUIRED_TO_SCORE, SCORING_COLUMNS,
                    earlier, chunk.malformed,
                )  # fmt: skip
                first = earlier.rows == len(raw)  # the first chunk sets the columns
                rows_rejected += len(checked.rejects)
                rows_scored += len(checked.kept)
                if len(checked.rejects) or first:
                    rejected.write(checked.rejects)
                if len(checked.kept) or first:
                    scores.write(stream.score(checked.kept))
                bar.update(len(raw))
            rows_in = earlier.rows  # every row validated, kept or rejected
            if rows_in == 0:
                raise InputError(f"{source}: no rows")
        finally:
            scores.close()
            rejected.close()
    if rows_scored == 0:
        raise InputError(f"{source}: all {rows_in} rows rejected (see {rejects})")
    if rows_rejected == 0:  # no empty rejects file, nor one a run before left at that path
        rejects.unlink()
    if stream.out_of_order:
        log.warning(
            "%s is not in time order (%d chunks start before the previous one ended): "
            "history features counted only the requests read before each one",
            source,
            stream.out_of_order,
        )
    seconds = time.perf_counter() - start
    return ScoringReport(rows_in, rows_scored, rows_rejected, seconds, stream.out_of_order)


class _Stream:
    """What carries over from chunk to chunk: the history counts and the latest time seen."""

    def __init__(self, model: ExportedModel) -> None:
        self.model = model
        self.history = model.history()
        self.latest: pd.Timestamp | None = None
        self.out_of_order = 0

    def score(self, kept: pd.DataFrame) -> pd.DataFrame:
        """Features in time order (history counts need it), scores back in input order."""
        if len(kept) == 0:
            return pd.DataFrame({"request_id": kept["request_id"], "p_opportunity": 0.0})
        if self.latest is not None and kept["sent_at"].min() < self.latest:
            self.out_of_order += 1
        chunk_end = kept["sent_at"].max()
        self.latest = chunk_end if self.latest is None else max(self.latest, chunk_end)
        scored = score_in_time_order(kept, self.history, self.model.matrix, self.model.predict)
        return pd.DataFrame({"request_id": kept["request_id"].to_numpy(), "p_opportunity": scored})


def score_in_time_order(
    kept: pd.DataFrame,
    history: History,
    matrix: Callable[[pd.DataFrame], pd.DataFrame],
    predict: Callable[[pd.DataFrame], np.ndarray],
) -> np.ndarray:
    """P(opportunity) of validated requests, in their order: features are built in time
    order (history counts need it), through `history` (the counts of earlier requests)."""
    order = np.argsort(kept["sent_at"].dt.tz_localize(None).to_numpy(), kind="stable")
    in_time = kept.iloc[order].reset_index(drop=True)
    p = predict(matrix(build_features(in_time, history)))
    scored = np.empty(len(p))
    scored[order] = p
    return scored
