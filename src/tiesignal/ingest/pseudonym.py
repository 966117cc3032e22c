"""The study's secret salt: person ids are keyed hashes under it (`tiesignal.extract.keys`),
so nobody without it can test a guess ("is this Ana Silva?")."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from tiesignal.extract.keys import MIN_KEY_BYTES, checked_key
from tiesignal.schema import InputError

log = logging.getLogger(__name__)


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
        f"(at least {MIN_KEY_BYTES} random characters) to {salt_file}; never commit it. "
        f"Example: mkdir -p {Path(salt_file).parent} && (umask 077; python -c 'import secrets; "
        f"print(secrets.token_hex(32))' > {salt_file})"
    )


def _checked(salt: bytes, where: str) -> bytes:
    try:
        return checked_key(salt, where)
    except ValueError as err:  # bad input, as every other problem of the salt
        raise InputError(str(err).replace("the key", "the salt")) from err
