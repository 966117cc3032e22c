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
    lengths, names, comps, skill_counts, template_ids = [], [], [], [], []
    for note, first, company, recipient_skills in zip(
        notes, first_names, companies, skills, strict=True
    ):
        if not isinstance(note, str) or not note.strip():
            lengths.append(0)
            names.append(False)
            comps.append(False)
            skill_counts.append(0)
            template_ids.append(None)
            continue
        lowered = note.lower()
        masked = lowered
        mentions_name = _mentions(first, lowered)
        if mentions_name:
            masked = masked.replace(first.lower(), "<name>")
        mentions_company = _mentions(company, lowered)
        if mentions_company:
            masked = masked.replace(company.lower(), "<company>")
        n_skills = 0
        for skill in recipient_skills if recipient_skills is not None else ():
            if _mentions(skill, lowered):
                n_skills += 1
                masked = masked.replace(skill.lower(), "<skill>")
        lengths.append(len(note))
        names.append(mentions_name)
        comps.append(mentions_company)
        skill_counts.append(n_skills)
        masked = _SPACES.sub(" ", masked).strip()
        template_ids.append(hashlib.blake2b(masked.encode(), digest_size=8).hexdigest())
    return pd.DataFrame(
        {
            "note_length": np.asarray(lengths, dtype="int32"),
            "note_mentions_name": np.asarray(names, dtype=bool),
            "note_mentions_company": np.asarray(comps, dtype=bool),
            "note_skill_mentions": np.asarray(skill_counts, dtype="int16"),
            "note_template_id": pd.array(template_ids, dtype="string"),
        }
    )


def _mentions(term: str | None, lowered_note: str) -> bool:
    return isinstance(term, str) and bool(term) and term.lower() in lowered_note
