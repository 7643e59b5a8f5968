"""Gateway users' passwords: argon2id hashes and the minimum password policy.

argon2id (via argon2-cffi, the maintained binding of the reference implementation) is the
memory-hard hash OWASP recommends first: guessing costs memory as well as time, which is what
blunts GPUs. The defaults are argon2-cffi's RFC 9106 "low memory" profile (64 MiB, 3
passes, 4 lanes), above OWASP's minimum of 19 MiB and 2 passes; about 0.1 s per hash here.
Tests pass a cheap ``PasswordHasher`` instead. A stored hash carries its own parameters, so
raising the cost later only needs ``needs_rehash`` at the next successful login.

Hashing blocks a core for that long: async callers run it in a thread (argon2-cffi releases
the GIL while it works).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

#: Shortest and longest password accepted. The upper bound keeps one login from costing
#: more than the hash itself (argon2 first digests the password, but reading it is work too).
MIN_LENGTH = 12
MAX_LENGTH = 1024


class PasswordPolicyError(ValueError):
    """A new password that the policy refuses; the message says what to change."""


def check_policy(password: str, username: str | None = None) -> None:
    """Raise ``PasswordPolicyError`` unless ``password`` is acceptable for a new password.

    The policy follows NIST SP 800-63B: length matters, composition rules do not. At least
    ``MIN_LENGTH`` characters, and as many without the user's name in it; at most
    ``MAX_LENGTH``; not one character repeated; no leading or trailing whitespace (a paste
    accident).
    """
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"the password is {len(password)} characters; it needs at least {MIN_LENGTH} "
            "(a few unrelated words make a long one that is easy to type)"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"the password is longer than {MAX_LENGTH} characters")
    if password != password.strip():
        raise PasswordPolicyError("the password starts or ends with whitespace (a paste error?)")
    if len(set(password)) == 1:
        raise PasswordPolicyError("the password is one character repeated")
    # The user name is the first guess: without it, enough of the password must remain.
    if username and len(password.lower().replace(username.lower(), "")) < MIN_LENGTH:
        raise PasswordPolicyError("the password is mostly the user name")


class Passwords:
    """Hashes and verifies passwords with one ``PasswordHasher`` (argon2id by default)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        if hasher is None:
            hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
        self.hasher = hasher
        # Verified against when the user does not exist, so a missing user takes as long
        # to refuse as a wrong password (no user enumeration by timing).
        self._dummy = self.hasher.hash("omnitrade-no-such-user")

    def hash(self, password: str) -> str:
        """The encoded argon2 hash of ``password`` (salt and parameters included)."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``; ``None`` (no such user) is False.

        A stored hash that is not a valid argon2 hash is a mismatch, never an exception:
        a damaged row must not open the door, nor crash the login.
        """
        if len(password) > MAX_LENGTH:
            return False
        if stored_hash is None:
            try:
                self.hasher.verify(self._dummy, password)
            except VerificationError:
                pass
            return False
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` was made with other parameters than this hasher's."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
