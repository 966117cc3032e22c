"""Connection-request notes rendered from templates, from no note to a specific pitch.

The model never sees the level a note was written at, only the text, through
`tiesignal.features.personalization.note_features`.
"""

from __future__ import annotations

import numpy as np

from tiesignal.simulate.vocab import NOTE_LEVELS

TEMPLATES: dict[str, tuple[str, ...]] = {
    "none": ("",),
    "generic": (
        "I'd like to add you to my professional network.",
        "Hi, I'm growing my network and would love to connect.",
        "Hello! Always great to connect with professionals in the field. Let's connect.",
    ),
    "name_merge": (
        "Hi {first}, I'd like to add you to my professional network.",
        "Hi {first}, I help companies find great people. Let's connect!",
        "Hello {first}, I came across your profile and would like to connect.",
    ),
    "name_company": (
        "Hi {first}, I noticed your work at {company} in {industry}. Would be great to connect.",
        "Hi {first}, I work with teams like {company}'s and follow {industry} closely. "
        "Happy to connect and share what I'm seeing in the market.",
        "Hello {first}, your background at {company} caught my eye. I'd love to connect.",
    ),
    "specific": (
        "Hi {first}, I'm hiring for our {role} role and your experience with {skill1} and {skill2} at "
        "{company} stands out. Open to a short chat this week?{extra}",
        "Hi {first}, we have an opening for our {role} role. Your {skill1} work at {company} fits what "
        "the team needs, and {skill2} is a big plus. Could we talk?{extra}",
    ),
}

# A long company blurb some senders append: it pushes notes past 400 characters, where
# shorter messages are known to do better.
EXTRA = (
    " A bit about us: we are a fast-growing team with a strong engineering culture, flexible "
    "hybrid work, a generous learning budget, and a mission we care about. The role comes "
    "with real ownership from day one, clear growth paths into leadership, and competitive "
    "pay with equity. I would be glad to send the full description and answer any questions "
    "you have about the team, the interview process and the timeline."
)

LEVEL_INDEX = {level: i for i, level in enumerate(NOTE_LEVELS)}


def render_notes(
    level: np.ndarray,
    variant: np.ndarray,
    with_extra: np.ndarray,
    first: np.ndarray,
    company: np.ndarray,
    industry: np.ndarray,
    role: np.ndarray,
    skill1: np.ndarray,
    skill2: np.ndarray,
) -> list[str | None]:
    """One note per request; `level` indexes NOTE_LEVELS, `variant` picks a template."""
    templates = [TEMPLATES[name] for name in NOTE_LEVELS]
    notes: list[str | None] = []
    for lv, var, ext, f, c, ind, r, s1, s2 in zip(
        level, variant, with_extra, first, company, industry, role, skill1, skill2, strict=True
    ):
        if lv == 0:
            notes.append(None)
            continue
        options = templates[lv]
        template = options[var % len(options)]
        notes.append(
            template.format(
                first=f,
                company=c,
                industry=ind,
                role=r,
                skill1=s1,
                skill2=s2,
                extra=EXTRA if ext else "",
            )
        )
    return notes


FIELDS = ("first", "company", "industry", "role", "skill1", "skill2")


def field_lengths(**fields: np.ndarray) -> np.ndarray:
    """(notes, FIELDS): the length of each word a note can use, for `note_lengths`."""
    return np.stack(
        [np.fromiter(map(len, fields[name]), np.int64, len(fields[name])) for name in FIELDS],
        axis=1,
    )


def note_lengths(
    level: np.ndarray, variant: np.ndarray, with_extra: np.ndarray, lengths_of_fields: np.ndarray
) -> np.ndarray:
    """len() of what `render_notes` would write, without writing it: a template's fixed
    characters plus the length of each field it uses, as many times as it uses it."""
    template = variant % _VARIANTS[level]
    return (
        _FIXED[level, template]
        + (_USES[level, template] * lengths_of_fields).sum(axis=1)
        + np.where(_HAS_EXTRA[level, template] & with_extra, len(EXTRA), 0)
    )


def _template_table() -> tuple[np.ndarray, ...]:
    """[level, template]: its number of templates, fixed characters, uses of each field,
    and whether it can take the blurb."""
    most = max(len(options) for options in TEMPLATES.values())
    variants = np.array([len(TEMPLATES[name]) for name in NOTE_LEVELS])
    fixed = np.zeros((len(NOTE_LEVELS), most), dtype=np.int64)
    uses = np.zeros((len(NOTE_LEVELS), most, len(FIELDS)), dtype=np.int64)
    has_extra = np.zeros((len(NOTE_LEVELS), most), dtype=bool)
    for lv, name in enumerate(NOTE_LEVELS):
        for v, template in enumerate(TEMPLATES[name]):
            fixed[lv, v] = len(template.format(**dict.fromkeys(FIELDS, ""), extra=""))
            uses[lv, v] = [template.count("{" + field + "}") for field in FIELDS]
            has_extra[lv, v] = "{extra}" in template
    return variants, fixed, uses, has_extra


_VARIANTS, _FIXED, _USES, _HAS_EXTRA = _template_table()
