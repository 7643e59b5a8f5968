"""The gateway's authentication and authorization service, its audit log and its secret.

``AuthService`` is what the gateway's server calls: ``login`` (password to a token pair),
``refresh`` (rotating refresh tokens with reuse detection), ``verify_access`` (a bearer
token to a ``Principal``, synchronous and without I/O so it can run on every message),
``check_command``/``check_subscription`` (role and rate limit), and the revocations.

Access tokens are self-contained, so revoking one needs memory: a revocation made through
this service (logout, reuse detected, a user changed or removed through the gateway) puts the
families in an in-process deny list kept for one access lifetime. A change made from another
process (``omnitrade gateway users`` on the box) revokes the refresh tokens in the store at
once and raises the store's change counter; the server checks ``session_alive`` (one query)
at every WebSocket upgrade and for every attached terminal when the counter moves, so the
access tokens already out stop working within a second, not at their expiry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from omnitrade_tui.config import AppDirs
from omnitrade_tui.gateway.audit import AuditLog, Outcome
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Role, authorize_command, authorize_subscription
from omnitrade_tui.gateway.throttle import CommandLimiter, LoginGuard, address_key
from omnitrade_tui.gateway.tokens import (
    AccessTokens,
    AuthError,
    Principal,
    RefreshReused,
    TokenExpired,
    TokenInvalid,
    TokenPair,
    hash_refresh_token,
    new_family_id,
    new_refresh_token,
)
from omnitrade_tui.gateway.users import UserAdmin
from omnitrade_tui.store.gateway_repository import GatewayRepository, RefreshTokenRecord

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class LoginFailed(AuthError):
    """Wrong user name or password (one generic message: never says which)."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class AddressBlocked(AuthError):
    """Too many failed logins from this address (or for this user from it); ``retry_after``
    seconds left."""

    def __init__(
        self, retry_after: float, why: str = "too many failed logins from this address"
    ) -> None:
        super().__init__(f"{why}: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class LoginsInProgress(AddressBlocked):
    """As many logins of this user from this address are being checked as the block allows
    failures: this one must wait for their outcome (``retry_after`` seconds)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            retry_after, "other logins of this user from this address are being checked"
        )


class GatewaySecretError(Exception):
    """The gateway's signing secret cannot be read, is too short or is not private."""


class AuthService:
    """Logins, token refresh and verification, revocation and authorization checks."""

    def __init__(
        self,
        repo: GatewayRepository,
        secret: bytes,
        *,
        access_ttl_s: float = 900.0,
        refresh_ttl_s: float = 7 * 86400.0,
        clock: Clock = time.time,
        guard: LoginGuard | None = None,
        address_guard: LoginGuard | None = None,
        limiter: CommandLimiter | None = None,
        passwords: Passwords | None = None,
        audit: AuditLog | None = None,
        max_concurrent_hashes: int = 2,
    ) -> None:
        if access_ttl_s <= 0 or refresh_ttl_s <= access_ttl_s:
            raise ValueError("need 0 < access_ttl_s < refresh_ttl_s")
        self.repo = repo
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self._clock = clock
        self._tokens = AccessTokens(secret)
        # Failures are counted per (user name, address), and per address with a higher
        # ceiling: terminals that come through SSH tunnels all arrive from 127.0.0.1, and
        # one user's typos must not lock the others out; a guesser trying many names from
        # one address still meets the address's ceiling. Only the first counts logins in
        # progress (one person does not log in five times at once; many people at one
        # address may, after a restart).
        self.guard = guard if guard is not None else LoginGuard(clock=clock)
        self.address_guard = (
            address_guard
            if address_guard is not None
            else LoginGuard(
                max_failures=max(20, 4 * self.guard.max_failures),
                window_s=self.guard.window_s,
                block_s=self.guard.block_s,
                clock=self.guard.clock,
            )
        )
        self.limiter = limiter if limiter is not None else CommandLimiter(clock=clock)
        self.passwords = passwords if passwords is not None else Passwords()
        self.audit = audit if audit is not None else AuditLog(repo, clock=clock)
        self.users = UserAdmin(repo, self.passwords, clock=clock, sessions=self)
        # Each argon2 verification holds 64 MiB and a core: a burst of logins waits its
        # turn instead of taking the box's memory.
        self._hashing = asyncio.Semaphore(max_concurrent_hashes)
        # family -> until when to refuse its access tokens (one access lifetime).
        self._revoked: dict[str, float] = {}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- login and refresh -----------------------------------------------------------------

    async def login(self, username: str, password: str, address: str) -> TokenPair:
        """Check a password and open a session (a new token family).

        ``address`` is the client's address as the server saw it (``ip:port`` is fine): it
        goes to the audit log whole, and failures are counted by its IP (``address_key``).

        Raises:
            AddressBlocked: too many recent failures from ``address``.
            LoginFailed: unknown user, wrong password or disabled user (one message).
        """
        client = address_key(address)
        at = (username[:64], client)
        if await self._address_blocked(username, address, client):
            raise AddressBlocked(self.address_guard.blocked_for(client))
        # Admitted (and counted) before waiting for a hashing slot: see LoginGuard.admit.
        wait = self.guard.admit(at)
        if wait > 0:
            blocked = self.guard.blocked_for(at) > 0
            why = "user blocked at this address" if blocked else "logins in progress"
            await self.audit.refusal(
                username, address, "login", why, Outcome.BLOCKED, per_user=False
            )
            if blocked:
                raise AddressBlocked(wait, "too many failed logins for this user from this address")
            raise LoginsInProgress(wait)
        ok: bool | None = None
        try:
            # No user name is longer than 64 (users.check_username): skip the lookup, not
            # the hash, so an absurd name is refused in the same time as any other.
            user = await self.repo.get_user(username) if len(username) <= 64 else None
            async with self._hashing:
                # Asked again once a slot is ours: a burst across many names from one
                # address is hashed only until the address's ceiling is reached.
                if await self._address_blocked(username, address, client):
                    raise AddressBlocked(self.address_guard.blocked_for(client))
                matches = await asyncio.to_thread(
                    self.passwords.verify, user.password_hash if user else None, password
                )
            ok = user is not None and not user.disabled and matches
        finally:
            # ``None`` (cancelled, refused, store down) releases the slot without counting.
            block = self.guard.settle(at, ok)
        if user is None or user.disabled or not ok:
            # A success does not clear the address's failures: one account that works must
            # not reset the count of guesses at the others.
            block = max(block, self.address_guard.record_failure(client))
            detail = "wrong user name or password" if user is None or not matches else "disabled"
            if block:
                detail += f"; blocked for {block:.0f} s"
            await self.audit.record(username, address, "login", detail, Outcome.FAILED)
            raise LoginFailed()
        if self.passwords.needs_rehash(user.password_hash):
            # Parameters were raised since this hash was made: upgrade it while we know
            # the password.
            async with self._hashing:
                rehashed = await asyncio.to_thread(self.passwords.hash, password)
            await self.repo.set_password_hash(username, rehashed, self._now_ms())
        pair = await self._open_family(username, Role(user.role))
        await self.audit.record(username, address, "login", f"session {pair.family}", Outcome.OK)
        return pair

    async def _address_blocked(self, username: str, address: str, client: str) -> bool:
        """Whether the address is blocked (audited, within the address's refusal budget)."""
        if self.address_guard.blocked_for(client) <= 0:
            return False
        await self.audit.refusal(
            username, address, "login", "address blocked", Outcome.BLOCKED, per_user=False
        )
        return True

    async def _open_family(self, username: str, role: Role) -> TokenPair:
        family = new_family_id()
        refresh, record = self._new_refresh(username, family)
        await self.repo.add_refresh_token(record)
        return self._pair(username, role, family, refresh, record)

    def _new_refresh(self, username: str, family: str) -> tuple[str, RefreshTokenRecord]:
        now = self._clock()
        token = new_refresh_token()
        record = RefreshTokenRecord(
            token_hash=hash_refresh_token(token),
            family=family,
            username=username,
            issued_ms=int(now * 1000),
            expires_ms=int((now + self.refresh_ttl_s) * 1000),
        )
        return token, record

    def _pair(
        self, username: str, role: Role, family: str, refresh: str, record: RefreshTokenRecord
    ) -> TokenPair:
        access, access_exp = self._tokens.issue(
            username, role, family, self._clock(), self.access_ttl_s
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            access_expires_at=access_exp,
            refresh_expires_at=record.expires_ms / 1000,
            username=username,
            role=role,
            family=family,
        )

    async def refresh(self, refresh_token: str, address: str) -> TokenPair:
        """Exchange a refresh token for a new pair; the old one is used up.

        The new access token carries the user's current role from the store.

        Raises:
            RefreshReused: the token was already exchanged; its whole family (the session,
                including whoever holds the newer token) is revoked.
            TokenExpired: the refresh token expired (log in again).
            TokenInvalid: unknown or revoked token, or the user is gone or disabled.
        """
        token_hash = hash_refresh_token(refresh_token)
        record = await self.repo.get_refresh_token(token_hash)
        if record is None:
            await self.audit.record("", address, "refresh", "unknown token", Outcome.DENIED)
            raise TokenInvalid("unknown refresh token: log in again")
        name = record.username
        if record.revoked_ms is not None:
            await self.audit.record(name, address, "refresh", "revoked token", Outcome.DENIED)
            raise TokenInvalid("the session was ended: log in again")
        if record.used_ms is not None:
            await self._reuse_detected(record, address)
        if self._now_ms() >= record.expires_ms:
            await self.audit.record(name, address, "refresh", "expired token", Outcome.DENIED)
            raise TokenExpired("the refresh token has expired: log in again")
        user = await self.repo.get_user(name)
        if user is None or user.disabled:
            await self.revoke_family(record.family)
            await self.audit.record(
                name, address, "refresh", "user removed or disabled", Outcome.DENIED
            )
            raise TokenInvalid("the user no longer may log in")
        new_token, new_record = self._new_refresh(name, record.family)
        if not await self.repo.rotate_refresh_token(token_hash, new_record, self._now_ms()):
            # Someone exchanged (or revoked) it between our read and our write.
            await self._reuse_detected(record, address)
        pair = self._pair(name, Role(user.role), record.family, new_token, new_record)
        await self.audit.record(name, address, "refresh", f"session {record.family}", Outcome.OK)
        return pair

    async def _reuse_detected(self, record: RefreshTokenRecord, address: str) -> NoReturn:
        await self.revoke_family(record.family)
        log.warning(
            "refresh token reuse for user %s from %s: session %s revoked",
            record.username,
            address,
            record.family,
        )
        await self.audit.record(
            record.username,
            address,
            "refresh",
            f"reuse of a used refresh token: session {record.family} revoked",
            Outcome.DENIED,
        )
        raise RefreshReused(
            "this refresh token was already used: the session has been ended everywhere "
            "(log in again)"
        )

    # -- verification ----------------------------------------------------------------------

    def verify_access(self, token: str) -> Principal:
        """The principal of a valid, unrevoked access token. No I/O.

        Raises:
            TokenExpired: past its expiry (refresh it).
            TokenInvalid: forged, malformed, or of a revoked session.
        """
        now = self._clock()
        principal = self._tokens.verify(token, now)
        until = self._revoked.get(principal.family)
        if until is not None:
            if now < until:
                raise TokenInvalid("the session was ended: log in again")
            del self._revoked[principal.family]
        return principal

    async def session_alive(self, principal: Principal) -> bool:
        """Whether the store still backs this session: family unrevoked, user enabled with
        the same role. Catches changes made by another process before the token expires."""
        if await self.repo.family_revoked(principal.family):
            return False
        user = await self.repo.get_user(principal.username)
        return user is not None and not user.disabled and user.role == principal.role.value

    def admit(self, principal: Principal, address: str, cost: float = 1.0) -> None:
        """Take one frame's tokens (``cost``) from the user's and the address's buckets, or
        raise ``RateLimited``. Every frame pays, refused ones included: the limit is what
        bounds the refusals (and their audit rows) a client can cause."""
        self.limiter.check(principal.username, address_key(address), cost)

    def check_command(self, principal: Principal, command_name: str, address: str) -> None:
        """Raise ``RateLimited`` if too many, ``Forbidden`` if the role may not send it.

        The rate limit comes first, so a refused command uses up the budget too.
        """
        self.admit(principal, address)
        authorize_command(principal.role, command_name)

    def check_subscription(self, principal: Principal, pattern: str) -> None:
        """Raise ``Forbidden`` if the role may not subscribe to ``pattern``
        (``ValueError`` if the pattern is malformed)."""
        authorize_subscription(principal.role, pattern)

    # -- revocation ------------------------------------------------------------------------

    def _deny(self, families: list[str]) -> None:
        now = self._clock()
        until = now + self.access_ttl_s
        for family in families:
            self._revoked[family] = until
        if len(self._revoked) > 10_000:
            for family in [f for f, u in self._revoked.items() if u <= now]:
                del self._revoked[family]

    async def revoke_family(self, family: str) -> int:
        """End one session: its refresh tokens and its access tokens. Returns tokens revoked."""
        self._deny([family])
        return await self.repo.revoke_family(family, self._now_ms())

    async def revoke_user(self, username: str) -> int:
        """End every session of a user. Returns refresh tokens revoked."""
        self._deny(await self.repo.user_families(username))
        return await self.repo.revoke_user_tokens(username, self._now_ms())

    async def logout(self, refresh_token: str, address: str) -> bool:
        """End the session of this refresh token; False if the token is unknown."""
        record = await self.repo.get_refresh_token(hash_refresh_token(refresh_token))
        if record is None:
            return False
        await self.revoke_family(record.family)
        await self.audit.record(
            record.username, address, "logout", f"session {record.family}", Outcome.OK
        )
        return True

    async def purge_expired(self) -> int:
        """Delete refresh tokens that expired over a day ago; return how many."""
        return await self.repo.purge_refresh_tokens(self._now_ms() - 86_400_000)


def default_secret_path(dirs: AppDirs) -> Path:
    """Where the gateway keeps its token-signing secret: in the state directory."""
    return dirs.state / "gateway.secret"


def load_or_create_secret(path: Path) -> bytes:
    """The gateway's token-signing secret, created (32 random bytes, mode 0600) if missing.

    Raises:
        GatewaySecretError: the file is readable by other users, too short, or unreadable.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_bytes(32).hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            # A hard link appears whole or not at all, and never replaces a secret that
            # another process created meanwhile (then both use that one).
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    info = path.stat()
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise GatewaySecretError(
            f"the gateway secret {path} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}): run chmod 600 {path}"
        )
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise GatewaySecretError(
            f"cannot read the gateway secret {path}: {exc}; delete it to make a new one "
            "(everyone will have to log in again)"
        ) from None
    if len(secret) < 32:
        raise GatewaySecretError(
            f"the gateway secret {path} is shorter than 32 bytes; delete it to make a new one"
        )
    return secret
