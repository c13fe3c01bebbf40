"""Dashboard passwords, hashed with Argon2id."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommendation
# A hash of a random password, verified when the email is unknown so that the response
# time does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash("vocable-timing-equaliser")

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_STRENGTH = 3
"""zxcvbn's score (0-4) a password needs: 3 is "safely unguessable" (about 10^8 guesses or
more). zxcvbn's packaged lists hold the 30,000 commonest leaked passwords, English words,
names and keyboard patterns; it also catches repeats, sequences and dates."""


def password_problem(password: str, related: Sequence[str] = ()) -> str | None:
    """Why ``password`` may not be used, or ``None``. ``related`` are words an attacker
    would try first (the e-mail, the organisation's name)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password must have at most {MAX_PASSWORD_LENGTH} characters"
    words = [part for value in related for part in value.lower().replace("@", " ").split()]
    # zxcvbn's matching grows with length; past 64 characters a password is long enough
    result = zxcvbn(password[:64], user_inputs=words)
    if result["score"] >= MIN_STRENGTH:
        return None
    warning = str(result["feedback"].get("warning") or "").rstrip(".")
    reason = f" ({warning.lower()})" if warning else ""
    return f"password is too easy to guess{reason}; use a longer passphrase of unrelated words"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same time when there is no hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
