"""The gateway's tables: users, refresh tokens and the audit log (SQLAlchemy Core, async).

Kept apart from the history repositories: the gateway reads and writes one row at a time
(a login, a refresh, an audit entry), never in batches, and nothing here is venue data.
Roles are plain strings at this layer (the store sits below ``gateway.roles``).

Refresh-token rotation is one conditional ``UPDATE`` (``... WHERE used_ms IS NULL AND
revoked_ms IS NULL``) in the same transaction as the new token's ``INSERT``: of two
concurrent exchanges of one token exactly one wins, on SQLite and PostgreSQL alike.

Every change to a user or a revocation raises the change counter (``gateway_changes``) in
its own transaction, so a gateway running in another process, which polls
``change_counter``, learns of it within its poll interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from omnitrade_tui.store import tables as t
from omnitrade_tui.store.database import Database


class DuplicateUser(Exception):
    """A user of that name exists already."""


@dataclass(frozen=True)
class GatewayUser:
    """A stored gateway user."""

    username: str
    role: str
    password_hash: str
    created_ms: int
    updated_ms: int
    disabled: bool
    #: The venues the user may trade on, as stored (``first,kraken``; ``""``: every venue).
    venues: str = ""


@dataclass(frozen=True)
class RefreshTokenRecord:
    """A stored refresh token (its hash only) and its state."""

    token_hash: str
    family: str
    username: str
    issued_ms: int
    expires_ms: int
    used_ms: int | None = None
    revoked_ms: int | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the audit log."""

    id: int
    time_ms: int
    username: str
    address: str
    action: str
    detail: str
    outcome: str


class GatewayRepository:
    """Users, refresh tokens and the audit log over one SQLite or PostgreSQL database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._engine = database.engine

    async def close(self) -> None:
        """Release the database's connections."""
        await self.db.dispose()

    # -- users -----------------------------------------------------------------------------

    async def add_user(
        self, username: str, role: str, password_hash: str, now_ms: int, venues: str = ""
    ) -> None:
        """Store a new user; ``DuplicateUser`` if the name is taken."""
        row = {
            "username": username,
            "role": role,
            "password_hash": password_hash,
            "created_ms": now_ms,
            "updated_ms": now_ms,
            "disabled": False,
            "venues": venues,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sa.insert(t.GATEWAY_USERS).values(**row))
                await _changed(conn)
        except sa.exc.IntegrityError as exc:
            raise DuplicateUser(f"user {username!r} exists already") from exc

    async def get_user(self, username: str) -> GatewayUser | None:
        """The user named ``username``, or ``None``."""
        query = sa.select(t.GATEWAY_USERS).where(t.GATEWAY_USERS.c.username == username)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _user(row)

    async def list_users(self) -> list[GatewayUser]:
        """Every user, by name."""
        query = sa.select(t.GATEWAY_USERS).order_by(t.GATEWAY_USERS.c.username)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_user(r) for r in rows]

    async def count_users(self, role: str | None = None) -> int:
        """How many users (of ``role``, if given) exist."""
        query = sa.select(sa.func.count()).select_from(t.GATEWAY_USERS)
        if role is not None:
            query = query.where(t.GATEWAY_USERS.c.role == role)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def set_password_hash(self, username: str, password_hash: str, now_ms: int) -> bool:
        """Replace a user's password hash; False if there is no such user."""
        return await self._update_user(username, now_ms, password_hash=password_hash)

    async def set_role(self, username: str, role: str, now_ms: int) -> bool:
        """Change a user's role; False if there is no such user."""
        return await self._update_user(username, now_ms, role=role)

    async def set_venues(self, username: str, venues: str, now_ms: int) -> bool:
        """Change the venues a user may trade on; False if there is no such user."""
        return await self._update_user(username, now_ms, venues=venues)

    async def set_disabled(self, username: str, disabled: bool, now_ms: int) -> bool:
        """Disable (or enable) a user's logins; False if there is no such user."""
        return await self._update_user(username, now_ms, disabled=disabled)

    async def _update_user(self, username: str, now_ms: int, **values: Any) -> bool:
        stmt = (
            sa.update(t.GATEWAY_USERS)
            .where(t.GATEWAY_USERS.c.username == username)
            .values(updated_ms=now_ms, **values)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
            await _changed(conn)
        return bool(result.rowcount)

    async def remove_user(self, username: str) -> bool:
        """Delete a user and every refresh token of theirs; False if there was no such user.

        The audit log keeps their entries: it is history, and names what they did.
        """
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(t.GATEWAY_REFRESH_TOKENS).where(
                    t.GATEWAY_REFRESH_TOKENS.c.username == username
                )
            )
            result = await conn.execute(
                sa.delete(t.GATEWAY_USERS).where(t.GATEWAY_USERS.c.username == username)
            )
            await _changed(conn)
        return bool(result.rowcount)

    # -- refresh tokens --------------------------------------------------------------------

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None:
        """Store a newly issued refresh token (by its hash)."""
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(t.GATEWAY_REFRESH_TOKENS).values(**_token_row(record)))

    async def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        """The refresh token with this hash, or ``None``."""
        rt = t.GATEWAY_REFRESH_TOKENS
        query = sa.select(rt).where(rt.c.token_hash == token_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _token(row)

    async def rotate_refresh_token(
        self, old_hash: str, new: RefreshTokenRecord, now_ms: int
    ) -> bool:
        """Mark ``old_hash`` used and store ``new``, atomically.

        Returns False (and stores nothing) when the old token was already used or revoked:
        another exchange of the same token won, which the caller treats as reuse.
        """
        rt = t.GATEWAY_REFRESH_TOKENS
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(rt)
                .where(
                    rt.c.token_hash == old_hash,
                    rt.c.used_ms.is_(None),
                    rt.c.revoked_ms.is_(None),
                )
                .values(used_ms=now_ms)
            )
            if result.rowcount != 1:
                return False
            await conn.execute(sa.insert(rt).values(**_token_row(new)))
        return True

    async def revoke_family(self, family: str, now_ms: int) -> int:
        """Revoke every not yet revoked token of a family; return how many."""
        rt = t.GATEWAY_REFRESH_TOKENS
        return await self._revoke(rt.c.family == family, now_ms)

    async def revoke_user_tokens(self, username: str, now_ms: int) -> int:
        """Revoke every not yet revoked token of a user; return how many."""
        rt = t.GATEWAY_REFRESH_TOKENS
        return await self._revoke(rt.c.username == username, now_ms)

    async def _revoke(self, where: Any, now_ms: int) -> int:
        rt = t.GATEWAY_REFRESH_TOKENS
        stmt = sa.update(rt).where(where, rt.c.revoked_ms.is_(None)).values(revoked_ms=now_ms)
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
            if result.rowcount:
                await _changed(conn)
        return int(result.rowcount)

    async def user_families(self, username: str) -> list[str]:
        """Families of a user that are not revoked (the sessions a revocation must end)."""
        rt = t.GATEWAY_REFRESH_TOKENS
        query = (
            sa.select(rt.c.family)
            .where(rt.c.username == username, rt.c.revoked_ms.is_(None))
            .distinct()
        )
        async with self._engine.connect() as conn:
            return [str(f) for f in (await conn.execute(query)).scalars().all()]

    async def family_revoked(self, family: str) -> bool:
        """Whether a family is revoked (or unknown: a family with no row is no session)."""
        rt = t.GATEWAY_REFRESH_TOKENS
        query = sa.select(sa.func.count()).where(rt.c.family == family, rt.c.revoked_ms.is_(None))
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one()) == 0

    async def purge_refresh_tokens(self, expired_before_ms: int) -> int:
        """Delete tokens that expired before ``expired_before_ms``; return how many.

        Used and revoked tokens must outlive their use (a reuse is only detected while the
        row exists), so only expiry removes rows.
        """
        rt = t.GATEWAY_REFRESH_TOKENS
        async with self._engine.begin() as conn:
            result = await conn.execute(sa.delete(rt).where(rt.c.expires_ms < expired_before_ms))
        return int(result.rowcount)

    # -- changes ---------------------------------------------------------------------------

    async def change_counter(self) -> int:
        """The change counter: it moves whenever a user or a session changed (any process)."""
        query = sa.select(t.GATEWAY_CHANGES.c.counter).where(t.GATEWAY_CHANGES.c.id == 1)
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return int(value or 0)

    # -- audit log -------------------------------------------------------------------------

    async def add_audit(
        self, time_ms: int, username: str, address: str, action: str, detail: str, outcome: str
    ) -> None:
        """Append one entry to the audit log."""
        row = {
            "time_ms": time_ms,
            "username": username,
            "address": address,
            "action": action,
            "detail": detail,
            "outcome": outcome,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(t.GATEWAY_AUDIT).values(**row))

    async def recent_audit(
        self, limit: int = 100, username: str | None = None
    ) -> list[AuditRecord]:
        """The newest ``limit`` entries (of ``username``, if given), newest first."""
        a = t.GATEWAY_AUDIT
        query = sa.select(a)
        if username is not None:
            query = query.where(a.c.username == username)
        query = query.order_by(a.c.time_ms.desc(), a.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [AuditRecord(**dict(r)) for r in rows]


async def _changed(conn: AsyncConnection) -> None:
    """Raise the change counter inside the caller's transaction (see the module docstring)."""
    changes = t.GATEWAY_CHANGES
    await conn.execute(
        sa.update(changes).where(changes.c.id == 1).values(counter=changes.c.counter + 1)
    )


def _user(row: RowMapping) -> GatewayUser:
    return GatewayUser(
        username=row["username"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_ms=int(row["created_ms"]),
        updated_ms=int(row["updated_ms"]),
        disabled=bool(row["disabled"]),
        venues=str(row.get("venues") or ""),
    )


def _token(row: RowMapping) -> RefreshTokenRecord:
    return RefreshTokenRecord(**dict(row))


def _token_row(record: RefreshTokenRecord) -> dict[str, Any]:
    return {
        "token_hash": record.token_hash,
        "family": record.family,
        "username": record.username,
        "issued_ms": record.issued_ms,
        "expires_ms": record.expires_ms,
        "used_ms": record.used_ms,
        "revoked_ms": record.revoked_ms,
    }
