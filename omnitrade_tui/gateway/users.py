"""Managing gateway users: add, list, remove, change a password or a role, disable.

One implementation for the ``omnitrade gateway users`` command (on the box, no gateway
running) and for an admin doing the same through a running gateway. Every change that
takes rights away (password, role, disable, removal) also ends the user's sessions: their
refresh tokens are revoked in the store, and, inside a gateway, their access tokens too.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from omnitrade_tui.gateway.passwords import Passwords, check_policy
from omnitrade_tui.gateway.roles import Role, parse_venue_list, venue_list_text
from omnitrade_tui.store.gateway_repository import DuplicateUser, GatewayRepository, GatewayUser

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    """A user operation that cannot be done; the message says why."""


class UnknownUser(UserError):
    """No user of that name."""


class UserExists(UserError):
    """A user of that name exists already."""


def check_username(username: str) -> None:
    """Raise ``UserError`` unless ``username`` is 1-64 letters, digits, ``. _ @ -``."""
    if not _USERNAME.match(username):
        raise UserError(
            f"invalid user name {username!r}: use 1 to 64 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )


@dataclass(frozen=True)
class UserInfo:
    """A user as listed (never with the password hash)."""

    username: str
    role: Role
    created_ms: int
    updated_ms: int
    disabled: bool
    #: The venues the user may trade on (qualifiers, ``""`` the first); ``()``: every venue.
    venues: tuple[str, ...] = ()


class SessionRevoker(Protocol):
    """Whatever ends a user's sessions (the store alone, or a running gateway's auth)."""

    async def revoke_user(self, username: str) -> int:
        """End every session of ``username``; return how many refresh tokens it revoked."""
        ...


class _StoreRevoker:
    def __init__(self, repo: GatewayRepository, clock: Callable[[], float]) -> None:
        self._repo = repo
        self._clock = clock

    async def revoke_user(self, username: str) -> int:
        return await self._repo.revoke_user_tokens(username, int(self._clock() * 1000))


class UserAdmin:
    """User management over the gateway repository."""

    def __init__(
        self,
        repo: GatewayRepository,
        passwords: Passwords | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sessions: SessionRevoker | None = None,
    ) -> None:
        self.repo = repo
        self.passwords = passwords if passwords is not None else Passwords()
        self._clock = clock
        self._sessions = sessions if sessions is not None else _StoreRevoker(repo, clock)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def add(
        self, username: str, role: Role, password: str, venues: tuple[str, ...] = ()
    ) -> UserInfo:
        """Create a user (trading on ``venues`` only, when given); ``UserError`` and
        ``PasswordPolicyError`` say what is wrong."""
        check_username(username)
        check_policy(password, username)
        # argon2 takes a core for ~0.1 s: off the event loop.
        hashed = await asyncio.to_thread(self.passwords.hash, password)
        try:
            await self.repo.add_user(
                username, role.value, hashed, self._now_ms(), venue_list_text(venues)
            )
        except DuplicateUser:
            raise UserExists(f"user {username!r} exists already") from None
        return await self.get(username)

    async def get(self, username: str) -> UserInfo:
        """The user named ``username``; ``UnknownUser`` if there is none."""
        user = await self.repo.get_user(username)
        if user is None:
            raise UnknownUser(f"no user named {username!r}")
        return _info(user)

    async def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        return [_info(u) for u in await self.repo.list_users()]

    async def remove(self, username: str) -> None:
        """Delete a user after ending their sessions."""
        await self.get(username)
        await self._sessions.revoke_user(username)
        if not await self.repo.remove_user(username):
            raise UnknownUser(f"no user named {username!r}")

    async def set_password(self, username: str, password: str) -> None:
        """Replace a user's password and end their sessions (log in again with the new)."""
        await self.get(username)
        check_policy(password, username)
        hashed = await asyncio.to_thread(self.passwords.hash, password)
        if not await self.repo.set_password_hash(username, hashed, self._now_ms()):
            raise UnknownUser(f"no user named {username!r}")
        await self._sessions.revoke_user(username)

    async def set_role(self, username: str, role: Role) -> UserInfo:
        """Change a user's role and end their sessions (tokens carry the old role)."""
        if not await self.repo.set_role(username, role.value, self._now_ms()):
            raise UnknownUser(f"no user named {username!r}")
        await self._sessions.revoke_user(username)
        return await self.get(username)

    async def set_venues(self, username: str, venues: tuple[str, ...]) -> UserInfo:
        """Keep a user to ``venues`` (``()``: every venue) and end their sessions (a
        terminal holds the venues it attached with)."""
        if not await self.repo.set_venues(username, venue_list_text(venues), self._now_ms()):
            raise UnknownUser(f"no user named {username!r}")
        await self._sessions.revoke_user(username)
        return await self.get(username)

    async def set_disabled(self, username: str, disabled: bool) -> UserInfo:
        """Refuse (or allow again) a user's logins; disabling ends their sessions."""
        if not await self.repo.set_disabled(username, disabled, self._now_ms()):
            raise UnknownUser(f"no user named {username!r}")
        if disabled:
            await self._sessions.revoke_user(username)
        return await self.get(username)


def _info(user: GatewayUser) -> UserInfo:
    return UserInfo(
        username=user.username,
        role=Role(user.role),
        created_ms=user.created_ms,
        updated_ms=user.updated_ms,
        disabled=user.disabled,
        venues=parse_venue_list(user.venues),
    )
