"""Who a row is about: the keys that join people across an export's files, and keyed
hashes of them.

A profile URL's `/in/<slug>` names a person in every file that has it; where URLs are
absent (older exports), the normalized name does. Ids are HMAC-SHA256 of that key: under
the study's public key in the participant's browser, then again under the study's secret
salt when the donation arrives (DESIGN.md, "Donations").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from urllib.parse import unquote

MIN_KEY_BYTES = 16
MIN_KEY_DISTINCT = 8
_SLUG = re.compile(r"/in/([^/?#\s]+)")
_CREDENTIALS = re.compile(r",.*$")  # "Ana Silva, PhD" -> "Ana Silva"
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


class Pseudonymizer:
    """Keyed hash of a person key; the same key gives the same id in every run. `length`
    hex digits: 20 (80 bits) cannot collide among billions of people."""

    def __init__(self, key: bytes, length: int = 20, what: str = "the salt") -> None:
        self._key = checked_key(key, what)
        self._length = length
        self._seen: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        if key not in self._seen:
            digest = hmac.new(self._key, key.encode("utf-8"), hashlib.sha256).hexdigest()
            self._seen[key] = digest[: self._length]
        return self._seen[key]


def key_fingerprint(key: bytes) -> str:
    """Which key was used, without revealing it: an HMAC of a fixed text under the key."""
    return hmac.new(key, b"tiesignal key fingerprint", hashlib.sha256).hexdigest()[:16]


def profile_key(url: str | None) -> str | None:
    """`in/<slug>` from a profile URL (composed Unicode, lower case), or None."""
    if not url:
        return None
    found = _SLUG.search(url)
    if not found:
        return None
    return f"in/{unicodedata.normalize('NFC', unquote(found.group(1))).lower()}"


def name_key(name: str | None) -> str | None:
    """A name reduced to lower-case letters, so that case, accents, emoji, extra spaces
    and trailing credentials do not stop two files from naming the same person."""
    if not name:
        return None
    text = _CREDENTIALS.sub("", name)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = _SPACES.sub(" ", _NOT_LETTERS.sub(" ", text.lower())).strip()
    return f"name/{text}" if text else None


def person_key(url: str | None, name: str | None) -> str | None:
    return profile_key(url) or name_key(name)


def checked_key(key: bytes, where: str) -> bytes:
    """A key that someone could guess (short, blank, a few characters repeated) would let
    them test names against the ids: refused."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{where}: the key has {len(key)} bytes; use at least {MIN_KEY_BYTES}")
    if not key.strip() or len(set(key)) < MIN_KEY_DISTINCT:
        raise ValueError(
            f"{where}: the key has {len(set(key))} distinct bytes; use random text with at "
            f"least {MIN_KEY_DISTINCT} (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key
