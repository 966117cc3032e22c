"""From a features file to a model matrix and label, for the chosen feature groups."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from tiesignal.features.build import encode
from tiesignal.features.registry import BY_NAME, Feature
from tiesignal.schema import LABEL


def model_matrix(
    table: pd.DataFrame, chosen: list[Feature], levels: dict[str, list[str]]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The encoded features a model sees, and the label (empty when the table has none)."""
    X = encode(table, chosen, levels)
    y = table[LABEL].to_numpy(dtype=bool).astype(np.int8) if LABEL in table else np.array([])
    return X, y


def model_matrix_in_chunks(
    chunks: Iterable[pd.DataFrame], rows: int, chosen: list[Feature], levels: dict[str, list[str]]
) -> tuple[pd.DataFrame, np.ndarray]:
    """`model_matrix` of a table of `rows` rows read in chunks, written into one C-ordered
    float64 array that LightGBM takes without a copy: memory is the matrix and a chunk,
    where the whole table, its matrix and LightGBM's copy of it were about four times
    that."""
    X = np.empty((rows, len(chosen)))
    y = np.empty(rows, dtype=np.int8)
    start = 0
    for table in chunks:
        part, labels = model_matrix(table, chosen, levels)
        X[start : start + len(part)] = part.to_numpy()
        y[start : start + len(part)] = labels
        start += len(part)
    if start != rows:
        raise ValueError(f"expected {rows} rows, read {start}")
    return pd.DataFrame(X, columns=[f.name for f in chosen], copy=False), y


def features_named(names: list[str]) -> list[Feature]:
    """A trained model's features, by the names it was trained with."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"model uses features this code does not know: {unknown}")
    return [BY_NAME[n] for n in names]
