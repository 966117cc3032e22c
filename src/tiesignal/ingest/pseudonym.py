"""Person ids as keyed hashes, and the keys that join people across an export's files.

A profile URL's `/in/<slug>` names a person in every file that has it; where URLs are
absent (older exports), the normalized name does. Ids are HMAC-SHA256 of that key with a
secret salt, so nobody without the salt can test a guess ("is this Ana Silva?").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from tiesignal.schema import InputError

MIN_SALT_BYTES = 16
MIN_SALT_DISTINCT = 8
_SLUG = re.compile(r"/in/([^/?#\s]+)")
_CREDENTIALS = re.compile(r",.*$")  # "Ana Silva, PhD" -> "Ana Silva"
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
log = logging.getLogger(__name__)


class Pseudonymizer:
    """Keyed hash of a person key; the same salt gives the same id in every run."""

    def __init__(self, salt: bytes) -> None:
        self._salt = _checked(salt, "the salt")
        self._seen: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        if key not in self._seen:
            digest = hmac.new(self._salt, key.encode("utf-8"), hashlib.sha256).hexdigest()
            self._seen[key] = digest[:20]  # 80 bits: no collision among billions of people
        return self._seen[key]


def profile_key(url: str | None) -> str | None:
    """`in/<slug>` from a profile URL, or None when there is no usable URL."""
    if not url:
        return None
    found = _SLUG.search(url)
    return f"in/{unquote(found.group(1)).lower()}" if found else None


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


def load_salt(env: Mapping[str, str], variable: str, salt_file: str, repo: Path) -> bytes:
    """The secret salt from the environment, else from a file outside the repository.

    Real data never runs without one: ids hashed with a missing or public salt could be
    reversed by hashing candidate names."""
    if env.get(variable):
        return _checked(env[variable].encode("utf-8"), f"${variable}")
    path = Path(salt_file).expanduser().resolve()
    if path.exists():
        if path.is_relative_to(repo.resolve()):
            raise InputError(
                f"{path}: the salt file is inside the repository; keep it outside git "
                f"(default ~/.config/tiesignal/salt) or set ${variable}"
            )
        if not path.is_file():
            raise InputError(f"{path}: the salt file is not a file (a folder?)")
        if path.stat().st_mode & 0o077:
            log.warning("%s: other users can read the salt file; chmod 600 it", path)
        return _checked(path.read_bytes().strip(), str(path))
    raise InputError(
        f"real data needs a secret salt for the person ids: set ${variable} or write one "
        f"(at least {MIN_SALT_BYTES} random characters) to {salt_file}; never commit it. "
        f"Example: mkdir -p {Path(salt_file).parent} && (umask 077; python -c 'import secrets; "
        f"print(secrets.token_hex(32))' > {salt_file})"
    )


def _checked(salt: bytes, where: str) -> bytes:
    """A salt that someone could guess (short, blank, a few characters repeated) would let
    them test names against the ids: refused."""
    if len(salt) < MIN_SALT_BYTES:
        raise InputError(f"{where}: the salt has {len(salt)} bytes; use at least {MIN_SALT_BYTES}")
    if not salt.strip() or len(set(salt)) < MIN_SALT_DISTINCT:
        raise InputError(
            f"{where}: the salt has {len(set(salt))} distinct bytes; use random text with at "
            f"least {MIN_SALT_DISTINCT} (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return salt
