"""The exported model for clients that send raw requests: MLflow models-from-code.

`mlflow models serve -m models/export/raw_requests_model --env-manager local` (from this
project's environment: the code imports `tiesignal`) answers requests in the canonical
schema, with names, not codes: the same validation and feature code as `tiesignal
predict`, and the same probabilities. History features (a sender's earlier requests,
template reuse) count the requests of the same call, in time order, as `predict` counts
those of its file. A call of one plainly valid row is scored without pandas
(`schema.plain_request`, `ExportedModel.score_lone`: the same probability, a fraction of
the time). Rows that cannot be scored make the call fail with a short message naming
row, column and reason (no value of a person).
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from tiesignal.export.bundle import ExportedModel, read_spec
from tiesignal.schema import (
    REQUIRED_TO_SCORE,
    SCORING_COLUMNS,
    InputError,
    no_value,
    plain_request,
    validate_requests,
)
from tiesignal.scoring import score_in_time_order

SHOWN_REJECTS = 5  # the message names this many rows that cannot be scored


class RequestRejected(MlflowException):
    """Rows that cannot be scored, named by row, column and reason only. MLflow's server
    puts the request's data in front of the message of every MlflowException a model
    raises (ids, names, headlines); this exception's message cannot be rewritten."""

    def __init__(self, reason: str) -> None:
        self._reason = reason
        super().__init__(reason, INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self._reason

    @message.setter
    def message(self, _wrapped: str) -> None:
        pass


class RawRequests(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        spec, features = read_spec(Path(context.artifacts["feature_spec"]))
        booster = lgb.Booster(model_file=context.artifacts["lightgbm_text"])
        self.model = ExportedModel(booster, spec, features)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        requests = pd.DataFrame(model_input)
        _within_limits(requests, self.model.spec["serving_limits"])
        valid_sent_at = self.model.spec["valid_sent_at"]
        if len(requests) == 1 and requests.columns.is_unique:  # an online client's call
            cells = {column: requests[column].array[0] for column in requests.columns}
            plain = plain_request(cells, *valid_sent_at, REQUIRED_TO_SCORE, SCORING_COLUMNS)
            if plain is not None:
                return np.array([self.model.score_lone(plain)])
        try:
            checked = validate_requests(
                requests, "request", *valid_sent_at, REQUIRED_TO_SCORE, SCORING_COLUMNS
            )
        except InputError as err:
            raise RequestRejected(str(err)) from None
        rejects = checked.rejects
        if len(rejects):
            first = rejects[["reject_row", "reject_column", "reject_reason"]].head(SHOWN_REJECTS)
            shown = [f"row {row}: {column}: {why}" for row, column, why in first.itertuples(False)]
            raise RequestRejected(_listed(shown, len(rejects), "rows"))
        return score_in_time_order(checked.kept, self.model.history(), self.model.matrix,
                                   self.model.predict)  # fmt: skip


def _within_limits(requests: pd.DataFrame, limits: dict[str, int]) -> None:
    """Refuse a call larger than export.max_rows_per_call, with a text cell longer than
    export.max_cell_chars (named by row and column), or with more text in all than
    export.max_call_chars, before any work on it. (MLflow's server has read and parsed
    the body by then: a limit on its bytes belongs to a proxy in front, README.)"""
    most = limits["max_rows_per_call"]
    if len(requests) > most:
        raise RequestRejected(f"{len(requests)} rows in one call; at most {most} "
                              "(export.max_rows_per_call)")  # fmt: skip
    lengths = {  # cell by cell: a call is small, and one row is the common call
        column: np.fromiter(map(_chars, values.array), np.int64, len(values))
        for column, values in requests.items()
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
    }
    longest = limits["max_cell_chars"]
    too_long = [
        f"row {row}: {column}: longer than {longest} characters"
        for column, chars in lengths.items()
        for row in np.flatnonzero(chars > longest)
    ]
    if too_long:
        raise RequestRejected(_listed(too_long[:SHOWN_REJECTS], len(too_long), "cells"))
    total, most = sum(int(chars.sum()) for chars in lengths.values()), limits["max_call_chars"]
    if total > most:
        raise RequestRejected(f"{total} characters of text in one call; at most {most} "
                              "(export.max_call_chars)")  # fmt: skip


def _chars(cell) -> int:
    """Characters of a cell's text (a list as its text); 0 for no value."""
    if no_value(cell):
        return 0
    return len(cell if isinstance(cell, str) else str(cell))


def _listed(shown: list[str], total: int, what: str) -> str:
    """The problems shown (the first `SHOWN_REJECTS`), and how many more of `total` there are."""
    more = total - len(shown)
    return "; ".join(shown) + (f" (and {more} more {what})" if more > 0 else "")


mlflow.models.set_model(RawRequests())
