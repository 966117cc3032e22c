"""What a message says: the study's label rules (`data.opportunity_rules`), compiled."""

from __future__ import annotations

import re

from tiesignal.config import ConfigError, OpportunityRules

UNCLEAR = "unclear"  # a message that neither offers a job nor rules one out


class LabelRules:
    """`OpportunityRules` compiled: what a message says, and by which rule."""

    def __init__(self, rules: OpportunityRules) -> None:
        self.match = _compile(rules.match, "match")
        self.exclude = _compile(rules.exclude, "exclude")
        self.unclear = _compile(rules.unclear, "unclear")

    def reading(self, text: str) -> tuple[str, str] | None:
        """("opportunity" | UNCLEAR, rule name), or None for a message that is neither."""
        if not text or any(p.search(text) for p in self.exclude.values()):
            return None
        for verdict, rules in (("opportunity", self.match), (UNCLEAR, self.unclear)):
            name = next((n for n, p in rules.items() if p.search(text)), None)
            if name is not None:
                return verdict, name
        return None


def _compile(rules: dict[str, str], kind: str) -> dict[str, re.Pattern]:
    compiled = {}
    for name, pattern in rules.items():
        try:
            compiled[name] = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise ConfigError(f"data.opportunity_rules.{kind}.{name}: bad pattern ({err})") from err
    return compiled
