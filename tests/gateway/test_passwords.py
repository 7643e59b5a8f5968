"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from omnitrade_tui.gateway.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicyError,
    Passwords,
    check_policy,
)


def test_hash_is_argon2id_and_verifies(fast_passwords: Passwords) -> None:
    stored = fast_passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert fast_passwords.verify(stored, "correct horse battery")
    assert not fast_passwords.verify(stored, "correct horse batterY")
    # Salted: the same password hashes differently each time.
    assert fast_passwords.hash("correct horse battery") != stored


def test_missing_user_and_damaged_hash_are_mismatches(fast_passwords: Passwords) -> None:
    assert not fast_passwords.verify(None, "correct horse battery")
    assert not fast_passwords.verify("not-a-hash", "correct horse battery")
    assert not fast_passwords.verify("$argon2id$v=19$m=8,t=1,p=1$broken", "x" * 12)
    assert not fast_passwords.verify(fast_passwords.hash("a"), "a" * (MAX_LENGTH + 1))


def test_defaults_are_owasp_grade() -> None:
    hasher = Passwords().hasher
    # OWASP's minimum for argon2id is 19 MiB and 2 passes; RFC 9106's profile is above it.
    assert hasher.memory_cost >= 19 * 1024
    assert hasher.time_cost >= 2
    assert Passwords().hash("x" * 12).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_needs_rehash_when_parameters_rise(fast_passwords: Passwords) -> None:
    cheap = fast_passwords.hash("correct horse battery")
    assert not fast_passwords.needs_rehash(cheap)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(cheap)
    assert stronger.verify(cheap, "correct horse battery")  # old hashes still verify
    assert stronger.needs_rehash("garbage")


@pytest.mark.parametrize(
    ("password", "username", "says"),
    [
        ("short", None, f"at least {MIN_LENGTH}"),
        ("a" * (MIN_LENGTH - 1), None, "11 characters"),
        ("x" * (MAX_LENGTH + 1), None, "longer than"),
        (" padded password ", None, "whitespace"),
        ("z" * 20, None, "repeated"),
        ("Alice-alice-2026", "alice", "user name"),
        ("alice", "alice", "at least"),
    ],
)
def test_policy_refuses_with_a_reason(password: str, username: str | None, says: str) -> None:
    with pytest.raises(PasswordPolicyError, match=says):
        check_policy(password, username)


def test_policy_accepts_a_long_passphrase() -> None:
    check_policy("tangerine orbit glassy walrus", "alice")
    check_policy("tangerine orbit glassy walrus", "erin")  # tang-erin-e: still long enough
    check_policy("x" * (MIN_LENGTH - 1) + "y")
