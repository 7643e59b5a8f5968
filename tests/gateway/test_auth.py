"""AuthService: logins, token expiry, refresh rotation, reuse detection, revocation,
brute-force blocking and the audit trail, on SQLite and PostgreSQL with a hand-moved clock."""

from __future__ import annotations

import time

import jwt
import pytest

from omnitrade_tui.domain.commands import CancelAll, PlaceOrder, SubscribeSymbol
from omnitrade_tui.gateway.auth import AddressBlocked, AuthService, LoginFailed
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Forbidden, Role
from omnitrade_tui.gateway.throttle import CommandLimiter, LoginGuard, RateLimited, RateLimiter
from omnitrade_tui.gateway.tokens import (
    AccessTokens,
    RefreshReused,
    TokenExpired,
    TokenInvalid,
    hash_refresh_token,
)
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.gateway.conftest import FakeClock

SECRET = b"s" * 32
ADDR = "192.0.2.7:40000"
PASSWORD = "tangerine orbit glassy walrus"


def _claims(token: str) -> dict[str, object]:
    """The token's claims, signature checked; times not (the test clock is not the system's)."""
    options: jwt.types.Options = {"verify_exp": False, "verify_iat": False}
    return dict(jwt.decode(token, SECRET, algorithms=["HS256"], options=options))


@pytest.fixture
async def auth(repo: GatewayRepository, clock: FakeClock, fast_passwords: Passwords) -> AuthService:
    """An auth service with alice (trader) and root (admin), 3 failures block for 600 s."""
    service = AuthService(
        repo,
        SECRET,
        clock=clock,
        passwords=fast_passwords,
        guard=LoginGuard(max_failures=3, window_s=60, block_s=600, clock=clock),
    )
    await service.users.add("alice", Role.TRADER, PASSWORD)
    await service.users.add("root", Role.ADMIN, "another long passphrase")
    return service


async def test_login_issues_a_verifiable_pair(auth: AuthService, clock: FakeClock) -> None:
    pair = await auth.login("alice", PASSWORD, ADDR)
    assert (pair.username, pair.role, pair.token_type) == ("alice", Role.TRADER, "Bearer")
    assert pair.access_expires_at == int(clock.now + 900)
    assert pair.refresh_expires_at == pytest.approx(clock.now + 7 * 86400)
    principal = auth.verify_access(pair.access_token)
    assert (principal.username, principal.role, principal.family) == (
        "alice",
        Role.TRADER,
        pair.family,
    )
    claims = _claims(pair.access_token)
    assert set(claims) == {"sub", "role", "fam", "exp", "iat", "jti"}
    assert (claims["sub"], claims["role"], claims["fam"]) == ("alice", "trader", pair.family)
    wire = pair.as_dict()
    assert wire["role"] == "trader"
    assert wire["access_token"] == pair.access_token
    assert wire["token_type"] == "Bearer"
    # Only the refresh token's hash is stored.
    stored = await auth.repo.get_refresh_token(hash_refresh_token(pair.refresh_token))
    assert stored is not None
    assert stored.family == pair.family
    assert pair.refresh_token not in stored.token_hash


async def test_wrong_password_unknown_user_and_disabled_user_fail_alike(
    auth: AuthService,
) -> None:
    messages = set()
    for user, password, address in (
        ("alice", "wrong password!!", "a:1"),
        ("mallory", PASSWORD, "b:1"),
        ("alice", PASSWORD.upper(), "c:1"),
        ("a" * 100_000, PASSWORD, "e:1"),
        ("", "", "f:1"),
    ):
        with pytest.raises(LoginFailed) as failed:
            await auth.login(user, password, address)
        messages.add(str(failed.value))
    await auth.users.set_disabled("alice", True)
    with pytest.raises(LoginFailed) as failed:
        await auth.login("alice", PASSWORD, "d:1")
    messages.add(str(failed.value))
    assert messages == {"wrong user name or password"}


async def test_access_token_expires(auth: AuthService, clock: FakeClock) -> None:
    pair = await auth.login("alice", PASSWORD, ADDR)
    clock.advance(899)
    auth.verify_access(pair.access_token)
    clock.advance(1)
    with pytest.raises(TokenExpired):
        auth.verify_access(pair.access_token)


async def test_forged_and_foreign_tokens_are_invalid(auth: AuthService, clock: FakeClock) -> None:
    pair = await auth.login("alice", PASSWORD, ADDR)
    other = AccessTokens(b"x" * 32).issue("alice", Role.ADMIN, pair.family, clock.now, 900)[0]
    with pytest.raises(TokenInvalid):
        auth.verify_access(other)
    claims = _claims(pair.access_token)
    claims["role"] = "admin"
    unsigned = jwt.encode(claims, key="", algorithm="none")  # "none" signs with no key
    with pytest.raises(TokenInvalid):
        auth.verify_access(unsigned)
    head, body, sig = pair.access_token.split(".")
    with pytest.raises(TokenInvalid):
        auth.verify_access(f"{head}.{body}.{sig[::-1]}")
    with pytest.raises(TokenInvalid):
        auth.verify_access("not a token")
    bad_role = jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256")
    with pytest.raises(TokenInvalid):
        auth.verify_access(bad_role)
    missing = {k: v for k, v in claims.items() if k != "fam"}
    with pytest.raises(TokenInvalid):
        auth.verify_access(jwt.encode(missing, SECRET, algorithm="HS256"))


async def test_refresh_rotates(auth: AuthService, clock: FakeClock) -> None:
    first = await auth.login("alice", PASSWORD, ADDR)
    clock.advance(1000)  # the access token has expired; the refresh token has not
    with pytest.raises(TokenExpired):
        auth.verify_access(first.access_token)
    second = await auth.refresh(first.refresh_token, ADDR)
    assert second.refresh_token != first.refresh_token
    assert second.family == first.family
    assert auth.verify_access(second.access_token).username == "alice"
    old = await auth.repo.get_refresh_token(hash_refresh_token(first.refresh_token))
    assert old is not None
    assert old.used_ms == int(clock.now * 1000)
    third = await auth.refresh(second.refresh_token, ADDR)
    assert auth.verify_access(third.access_token).family == first.family


async def test_reusing_an_old_refresh_token_revokes_the_family(
    auth: AuthService, clock: FakeClock
) -> None:
    first = await auth.login("alice", PASSWORD, ADDR)
    other_session = await auth.login("alice", PASSWORD, ADDR)
    second = await auth.refresh(first.refresh_token, ADDR)
    # A thief replays the first refresh token: refused, and the whole family is ended.
    with pytest.raises(RefreshReused):
        await auth.refresh(first.refresh_token, "198.51.100.9:1")
    with pytest.raises(TokenInvalid):
        await auth.refresh(second.refresh_token, ADDR)  # the legitimate newer one too
    with pytest.raises(TokenInvalid):
        auth.verify_access(second.access_token)  # and its access token, at once
    with pytest.raises(TokenInvalid):
        auth.verify_access(first.access_token)
    # Another login's session is untouched.
    assert auth.verify_access(other_session.access_token).family == other_session.family
    await auth.refresh(other_session.refresh_token, ADDR)
    entries = await auth.audit.recent(20)
    reuse = [e for e in entries if "reuse" in e.detail]
    assert len(reuse) == 1
    assert reuse[0].address == "198.51.100.9:1"
    assert reuse[0].outcome == "denied"


async def test_refresh_token_expires(auth: AuthService, clock: FakeClock) -> None:
    pair = await auth.login("alice", PASSWORD, ADDR)
    clock.advance(7 * 86400)
    with pytest.raises(TokenExpired):
        await auth.refresh(pair.refresh_token, ADDR)
    with pytest.raises(TokenInvalid):
        await auth.refresh("made-up-token", ADDR)


async def test_logout_and_revocations(auth: AuthService) -> None:
    a = await auth.login("alice", PASSWORD, ADDR)
    b = await auth.login("alice", PASSWORD, ADDR)
    r = await auth.login("root", "another long passphrase", ADDR)
    assert await auth.logout(a.refresh_token, ADDR)
    assert not await auth.logout("made-up-token", ADDR)
    with pytest.raises(TokenInvalid):
        auth.verify_access(a.access_token)
    with pytest.raises(TokenInvalid, match="ended"):
        await auth.refresh(a.refresh_token, ADDR)
    auth.verify_access(b.access_token)
    assert await auth.revoke_user("alice") == 1
    with pytest.raises(TokenInvalid):
        auth.verify_access(b.access_token)
    with pytest.raises(TokenInvalid):
        await auth.refresh(b.refresh_token, ADDR)
    auth.verify_access(r.access_token)  # other users are untouched
    assert await auth.revoke_family(r.family) == 1
    with pytest.raises(TokenInvalid):
        auth.verify_access(r.access_token)
    # Logging in again opens a new, working session.
    again = await auth.login("alice", PASSWORD, ADDR)
    auth.verify_access(again.access_token)


async def test_user_changes_end_sessions(auth: AuthService) -> None:
    pair = await auth.login("alice", PASSWORD, ADDR)
    principal = auth.verify_access(pair.access_token)
    assert await auth.session_alive(principal)
    await auth.users.set_role("alice", Role.VIEWER)
    with pytest.raises(TokenInvalid):
        auth.verify_access(pair.access_token)
    assert not await auth.session_alive(principal)
    viewer = await auth.login("alice", PASSWORD, ADDR)
    assert viewer.role is Role.VIEWER
    await auth.users.set_password("alice", "a brand new passphrase")
    with pytest.raises(TokenInvalid):
        await auth.refresh(viewer.refresh_token, ADDR)
    with pytest.raises(LoginFailed):
        await auth.login("alice", PASSWORD, ADDR)
    await auth.login("alice", "a brand new passphrase", ADDR)


async def test_changes_from_another_process_are_seen_by_session_alive(
    auth: AuthService, fast_passwords: Passwords, clock: FakeClock
) -> None:
    """The CLI on the box revokes in the store; the running gateway learns by asking it."""
    from omnitrade_tui.gateway.users import UserAdmin

    pair = await auth.login("alice", PASSWORD, ADDR)
    principal = auth.verify_access(pair.access_token)
    cli = UserAdmin(auth.repo, fast_passwords, clock=clock)
    await cli.set_disabled("alice", True)
    assert not await auth.session_alive(principal)
    with pytest.raises(TokenInvalid):
        await auth.refresh(pair.refresh_token, ADDR)


async def test_brute_force_blocks_the_address_until_it_expires(
    auth: AuthService, clock: FakeClock
) -> None:
    attacker = "203.0.113.5:5555"
    for port in range(3):  # a new connection (port) per guess changes nothing
        with pytest.raises(LoginFailed):
            await auth.login("alice", "guess guess guess", f"203.0.113.5:{6000 + port}")
    # Blocked now, even with the right password; another address is not.
    with pytest.raises(AddressBlocked) as blocked:
        await auth.login("alice", PASSWORD, attacker)
    assert blocked.value.retry_after == pytest.approx(600)
    assert "600 s" in str(blocked.value)
    await auth.login("alice", PASSWORD, ADDR)
    clock.advance(599)
    with pytest.raises(AddressBlocked):
        await auth.login("alice", PASSWORD, attacker)
    clock.advance(1)
    pair = await auth.login("alice", PASSWORD, attacker)
    auth.verify_access(pair.access_token)
    outcomes = [(e.action, e.outcome) for e in await auth.audit.recent(20, "alice")]
    assert outcomes.count(("login", "failed")) == 3
    assert outcomes.count(("login", "blocked")) == 2


async def test_command_and_subscription_checks(auth: AuthService, clock: FakeClock) -> None:
    limited = AuthService(
        auth.repo,
        SECRET,
        clock=clock,
        passwords=auth.passwords,
        limiter=CommandLimiter(
            per_user=RateLimiter(rate=1.0, burst=2.0, clock=clock),
            per_address=RateLimiter(rate=10.0, burst=10.0, clock=clock),
        ),
    )
    alice = limited.verify_access((await limited.login("alice", PASSWORD, ADDR)).access_token)
    with pytest.raises(Forbidden) as refused:
        limited.check_command(alice, CancelAll.name, ADDR)
    assert refused.value.needed is Role.ADMIN
    limited.check_command(alice, PlaceOrder.name, ADDR)
    # The refused command used up its token too: the rate limit comes before the role.
    with pytest.raises(RateLimited):
        limited.check_command(alice, SubscribeSymbol.name, ADDR)
    with pytest.raises(RateLimited):  # and a refused one is limited before it is judged
        limited.check_command(alice, CancelAll.name, ADDR)
    clock.advance(1)
    limited.check_command(alice, PlaceOrder.name, ADDR)
    limited.check_subscription(alice, "md.>")
    with pytest.raises(Forbidden):
        limited.check_subscription(alice, "cmd.>")


async def test_audit_record_cuts_long_values(auth: AuthService) -> None:
    await auth.audit.record("u" * 500, "a" * 500, "order.place", "d" * 10_000, "ok")
    entry = (await auth.audit.recent(1))[0]
    assert (len(entry.username), len(entry.address), len(entry.detail)) == (64, 128, 4000)


async def test_default_password_cost_login_takes_real_time(
    repo: GatewayRepository, clock: FakeClock
) -> None:
    """With the default (OWASP-grade) parameters a login costs tens of milliseconds."""
    service = AuthService(repo, SECRET, clock=clock)
    await service.users.add("slow", Role.VIEWER, PASSWORD)
    started = time.perf_counter()
    await service.login("slow", PASSWORD, ADDR)
    assert time.perf_counter() - started > 0.01
