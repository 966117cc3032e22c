"""Personalization signals as columns: `tiesignal.extract.notes` computes them per note (also
in the donation page); `featurize` uses them as they are, plus template reuse counted over
each sender's earlier notes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiesignal.extract.notes import note_feature_rows


def note_features(
    notes: Iterable[str | None],
    first_names: Iterable[str | None],
    companies: Iterable[str | None],
    skills: Iterable[Iterable[str] | None],
) -> pd.DataFrame:
    """`note_feature_rows` as the canonical columns."""
    rows = note_feature_rows(notes, first_names, companies, skills)
    lengths, names, comps, skill_counts, ids = zip(*rows, strict=True) if rows else ((),) * 5
    return pd.DataFrame(
        {
            "note_length": np.asarray(lengths, dtype="int32"),
            "note_mentions_name": np.asarray(names, dtype=bool),
            "note_mentions_company": np.asarray(comps, dtype=bool),
            "note_skill_mentions": np.asarray(skill_counts, dtype="int16"),
            "note_template_id": pd.array(ids, dtype="str"),
        }
    )


def mentions_table(terms: list[str], texts: list[str]) -> np.ndarray:
    """`mentions` for every (term, text) pair at once: a boolean [term, text] matrix, one
    vectorized substring search per term."""
    lowered = pc.utf8_lower(pa.array(texts, pa.string()))
    table = np.zeros((len(terms), len(texts)), dtype=bool)
    for i, term in enumerate(terms):
        if isinstance(term, str) and term:
            found = pc.match_substring(lowered, term.lower())
            table[i] = found.fill_null(False).to_numpy(zero_copy_only=False)
    return table
