"""The gateway repository on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from omnitrade_tui.store.gateway_repository import (
    DuplicateUser,
    GatewayRepository,
    RefreshTokenRecord,
)


def _token(hash_: str, family: str = "fam1", user: str = "alice") -> RefreshTokenRecord:
    return RefreshTokenRecord(
        token_hash=hash_, family=family, username=user, issued_ms=1_000, expires_ms=9_000
    )


async def test_users_add_get_list_update_remove(repo: GatewayRepository) -> None:
    await repo.add_user("bob", "viewer", "$argon2id$bob", 1_000)
    await repo.add_user("alice", "admin", "$argon2id$alice", 2_000)
    with pytest.raises(DuplicateUser):
        await repo.add_user("alice", "viewer", "x", 3_000)
    alice = await repo.get_user("alice")
    assert alice is not None
    assert (alice.role, alice.password_hash, alice.created_ms, alice.disabled) == (
        "admin",
        "$argon2id$alice",
        2_000,
        False,
    )
    assert await repo.get_user("carol") is None
    assert [u.username for u in await repo.list_users()] == ["alice", "bob"]
    assert await repo.count_users() == 2
    assert await repo.count_users("admin") == 1

    assert await repo.set_role("bob", "trader", 4_000)
    assert await repo.set_password_hash("bob", "$argon2id$new", 5_000)
    assert await repo.set_disabled("bob", True, 6_000)
    bob = await repo.get_user("bob")
    assert bob is not None
    assert (bob.role, bob.password_hash, bob.disabled, bob.created_ms, bob.updated_ms) == (
        "trader",
        "$argon2id$new",
        True,
        1_000,
        6_000,
    )
    assert not await repo.set_role("nobody", "admin", 7_000)

    await repo.add_refresh_token(_token("h-bob", user="bob"))
    assert await repo.remove_user("bob")
    assert await repo.get_user("bob") is None
    assert await repo.get_refresh_token("h-bob") is None  # the tokens went with the user
    assert not await repo.remove_user("bob")


async def test_refresh_rotation_is_once_only(repo: GatewayRepository) -> None:
    await repo.add_refresh_token(_token("h1"))
    stored = await repo.get_refresh_token("h1")
    assert stored == _token("h1")
    assert await repo.rotate_refresh_token("h1", _token("h2"), 2_000)
    old = await repo.get_refresh_token("h1")
    assert old is not None
    assert old.used_ms == 2_000
    assert await repo.get_refresh_token("h2") == _token("h2")
    # The same old token a second time: refused, and nothing is stored.
    assert not await repo.rotate_refresh_token("h1", _token("h3"), 3_000)
    assert await repo.get_refresh_token("h3") is None


async def test_concurrent_rotations_have_one_winner(repo: GatewayRepository) -> None:
    await repo.add_refresh_token(_token("h1"))
    results = await asyncio.gather(
        *(repo.rotate_refresh_token("h1", _token(f"new{i}"), 2_000) for i in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]


async def test_revoke_family_and_user(repo: GatewayRepository) -> None:
    await repo.add_refresh_token(_token("a1", "famA"))
    await repo.add_refresh_token(_token("a2", "famA"))
    await repo.add_refresh_token(_token("b1", "famB"))
    await repo.add_refresh_token(_token("c1", "famC", user="carol"))
    assert sorted(await repo.user_families("alice")) == ["famA", "famB"]
    assert await repo.revoke_family("famA", 5_000) == 2
    assert await repo.revoke_family("famA", 6_000) == 0  # already revoked: first time kept
    a1 = await repo.get_refresh_token("a1")
    assert a1 is not None
    assert a1.revoked_ms == 5_000
    assert await repo.family_revoked("famA")
    assert not await repo.family_revoked("famB")
    assert await repo.family_revoked("no-such-family")
    assert await repo.user_families("alice") == ["famB"]
    assert await repo.revoke_user_tokens("alice", 7_000) == 1
    assert await repo.user_families("alice") == []
    assert await repo.user_families("carol") == ["famC"]
    # A revoked token cannot be rotated.
    assert not await repo.rotate_refresh_token("b1", _token("b2", "famB"), 8_000)


async def test_purge_removes_only_expired_tokens(repo: GatewayRepository) -> None:
    await repo.add_refresh_token(_token("old"))
    await repo.add_refresh_token(
        RefreshTokenRecord(
            token_hash="new", family="f", username="alice", issued_ms=1, expires_ms=20_000
        )
    )
    assert await repo.purge_refresh_tokens(10_000) == 1
    assert await repo.get_refresh_token("old") is None
    assert await repo.get_refresh_token("new") is not None


async def test_audit_log_newest_first(repo: GatewayRepository) -> None:
    await repo.add_audit(1_000, "alice", "10.0.0.1:5000", "login", "session f", "ok")
    await repo.add_audit(2_000, "bob", "10.0.0.2:5000", "order.place", "{...}", "denied")
    await repo.add_audit(2_000, "alice", "10.0.0.1:5000", "order.cancel", "X1", "ok")
    entries = await repo.recent_audit(10)
    assert [(e.time_ms, e.username, e.action) for e in entries] == [
        (2_000, "alice", "order.cancel"),
        (2_000, "bob", "order.place"),
        (1_000, "alice", "login"),
    ]
    assert entries[1].outcome == "denied"
    assert entries[1].address == "10.0.0.2:5000"
    assert [e.action for e in await repo.recent_audit(10, "alice")] == ["order.cancel", "login"]
    assert len(await repo.recent_audit(1)) == 1
