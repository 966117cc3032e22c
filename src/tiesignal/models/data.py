"""From a features file to a model matrix and label, for the chosen feature groups."""

from __future__ import annotations

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


def features_named(names: list[str]) -> list[Feature]:
    """A trained model's features, by the names it was trained with."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"model uses features this code does not know: {unknown}")
    return [BY_NAME[n] for n in names]
