"""The one function that turns a note into personalization signals.

Sources apply it (simulate, ingest, the donation page) and keep only its outputs, so no
message text or recipient name travels past the source. Standard library only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

NOTE_COLUMNS = (
    "note_length",
    "note_mentions_name",
    "note_mentions_company",
    "note_skill_mentions",
    "note_template_id",
)
NoteFeatures = tuple[int, bool, bool, int, "str | None"]  # in the order of NOTE_COLUMNS
NO_NOTE: NoteFeatures = (0, False, False, 0, None)
_SPACES = re.compile(r"\s+")


def note_feature_rows(
    notes: Iterable[str | None],
    first_names: Iterable[str | None],
    companies: Iterable[str | None],
    skills: Iterable[Iterable[str] | None],
) -> list[NoteFeatures]:
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
            rows.append(NO_NOTE)
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
    return rows


class _LoweredTerms(dict):
    """term -> the term as it is searched for in lower-cased text, None for no term."""

    def __missing__(self, term) -> str | None:
        self[term] = term.lower() if isinstance(term, str) and term else None
        return self[term]


def _template_id(masked: str) -> str:
    return hashlib.blake2b(_SPACES.sub(" ", masked).strip().encode(), digest_size=8).hexdigest()
