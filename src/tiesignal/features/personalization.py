"""The one function that turns a note into personalization signals.

Sources apply it (simulate, ingest) and keep only its `note_*` outputs, so no message text
or recipient name has to travel past the source stage. `featurize` uses the outputs as
they are, plus template reuse counted over each sender's earlier notes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NOTE_COLUMNS = (
    "note_length",
    "note_mentions_name",
    "note_mentions_company",
    "note_skill_mentions",
    "note_template_id",
)

_SPACES = re.compile(r"\s+")


def note_features(
    notes: Iterable[str | None],
    first_names: Iterable[str | None],
    companies: Iterable[str | None],
    skills: Iterable[Iterable[str] | None],
) -> pd.DataFrame:
    """Length, mentions of the recipient's name, company and skills, and a template id.

    The template id hashes the note with the recipient's name, company and skills masked
    out, so a mail-merged message sent to many people gets the same id each time.
    """
    # Real outreach repeats itself (templates, mail merge, the same names and skills), so
    # lower-cased terms and template ids are cached; one pass, no call per row and term:
    # simulate runs this on every request of the world.
    lowered_terms = _LoweredTerms()
    template_ids: dict[str, str] = {}
    rows = []
    for note, first, company, recipient_skills in zip(
        notes, first_names, companies, skills, strict=True
    ):
        if not isinstance(note, str) or not note.strip():
            rows.append(_NO_NOTE)
            continue
        lowered = masked = note.lower()
        first = lowered_terms[first]
        mentions_name = first is not None and first in lowered
        if mentions_name:
            masked = masked.replace(first, "<name>")
        company = lowered_terms[company]
        mentions_company = company is not None and company in lowered
        if mentions_company:
            masked = masked.replace(company, "<company>")
        named = 0
        for skill in () if recipient_skills is None else recipient_skills:
            skill = lowered_terms[skill]
            if skill is not None and skill in lowered:
                named += 1
                masked = masked.replace(skill, "<skill>")
        template_id = template_ids.get(masked)
        if template_id is None:
            template_id = template_ids[masked] = _template_id(masked)
        rows.append((len(note), mentions_name, mentions_company, named, template_id))
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


_NO_NOTE = (0, False, False, 0, None)


class _LoweredTerms(dict):
    """term -> the term as it is searched for in lower-cased text, None for no term."""

    def __missing__(self, term) -> str | None:
        self[term] = term.lower() if isinstance(term, str) and term else None
        return self[term]


def _template_id(masked: str) -> str:
    return hashlib.blake2b(_SPACES.sub(" ", masked).strip().encode(), digest_size=8).hexdigest()


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
