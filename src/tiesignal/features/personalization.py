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
    # Real outreach repeats itself (templates, mail merge), so the text work is cached by
    # note, name and company, and the template id by masked text and the skills it names.
    by_text: dict[tuple, tuple] = {}
    by_mask: dict[tuple, str] = {}
    rows = []
    for note, first, company, recipient_skills in zip(
        notes, first_names, companies, skills, strict=True
    ):
        if not isinstance(note, str) or not note.strip():
            rows.append(_NO_NOTE)
            continue
        key = (note, first, company)
        if key not in by_text:
            by_text[key] = _mask_person(*key)
        lowered, masked, mentions_name, mentions_company = by_text[key]
        named = tuple(
            skill
            for skill in (() if recipient_skills is None else recipient_skills)
            if mentions(skill, lowered)
        )
        if (masked, named) not in by_mask:
            by_mask[masked, named] = _template_id(masked, named)
        template_id = by_mask[masked, named]
        rows.append((len(note), mentions_name, mentions_company, len(named), template_id))
    lengths, names, comps, skill_counts, template_ids = (
        zip(*rows, strict=True) if rows else ((),) * 5
    )
    return pd.DataFrame(
        {
            "note_length": np.asarray(lengths, dtype="int32"),
            "note_mentions_name": np.asarray(names, dtype=bool),
            "note_mentions_company": np.asarray(comps, dtype=bool),
            "note_skill_mentions": np.asarray(skill_counts, dtype="int16"),
            "note_template_id": pd.array(template_ids, dtype="str"),
        }
    )


_NO_NOTE = (0, False, False, 0, None)


def _mask_person(note: str, first, company) -> tuple[str, str, bool, bool]:
    lowered = note.lower()
    masked = lowered
    mentions_name = mentions(first, lowered)
    if mentions_name:
        masked = masked.replace(first.lower(), "<name>")
    mentions_company = mentions(company, lowered)
    if mentions_company:
        masked = masked.replace(company.lower(), "<company>")
    return lowered, masked, mentions_name, mentions_company


def _template_id(masked: str, named_skills: tuple[str, ...]) -> str:
    for skill in named_skills:
        masked = masked.replace(skill.lower(), "<skill>")
    masked = _SPACES.sub(" ", masked).strip()
    return hashlib.blake2b(masked.encode(), digest_size=8).hexdigest()


def mentions(term: str | None, lowered_text: str) -> bool:
    """The (already lower-cased) text names the term, ignoring case."""
    return isinstance(term, str) and bool(term) and term.lower() in lowered_text


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
