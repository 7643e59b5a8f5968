"""Alert rules and what fired, in the history database: the engine's ``AlertStore``.

Rules are few and read whole, so each is kept as its JSON (the domain's ``AlertRule``
decoded back exactly); firings are appended with their time for the history, and the oldest
beyond ``keep_fired`` are let go so the table stays bounded.
"""

from __future__ import annotations

import time

import msgspec
import sqlalchemy as sa

from omnitrade_tui.domain.alerts import AlertFired, AlertRule
from omnitrade_tui.store import tables as t
from omnitrade_tui.store.database import Database

_rule = msgspec.json.Decoder(AlertRule)
_fired = msgspec.json.Decoder(AlertFired)
_encode = msgspec.json.Encoder()


class SqlAlertStore:
    """Keeps alert rules and firings in the database."""

    def __init__(self, database: Database, keep_fired: int = 100_000) -> None:
        self._engine = database.engine
        self.keep_fired = keep_fired
        self._added = 0

    async def load_rules(self) -> list[AlertRule]:
        """Every rule, oldest first."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(t.ALERT_RULES.c.body))).scalars().all()
        rules = [_rule.decode(body) for body in rows]
        return sorted(rules, key=lambda r: (r.created_ms, r.rule_id))

    async def save_rule(self, rule: AlertRule) -> None:
        """Insert or replace a rule by its id."""
        now = int(time.time() * 1000)
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(t.ALERT_RULES).where(t.ALERT_RULES.c.rule_id == rule.rule_id)
            )
            await conn.execute(
                sa.insert(t.ALERT_RULES).values(
                    rule_id=rule.rule_id, body=_encode.encode(rule).decode(), updated_ms=now
                )
            )

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; whether there was one."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.delete(t.ALERT_RULES).where(t.ALERT_RULES.c.rule_id == rule_id)
            )
        return bool(result.rowcount)

    async def record_fired(self, fired: AlertFired) -> None:
        """Append one firing; now and then let the oldest beyond ``keep_fired`` go."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(t.ALERT_FIRED).values(
                    time_ms=fired.time_ms,
                    rule_id=fired.rule_id,
                    body=_encode.encode(fired).decode(),
                )
            )
            self._added += 1
            if self._added % 1_000 == 0:
                newest = sa.select(t.ALERT_FIRED.c.id).order_by(t.ALERT_FIRED.c.id.desc())
                cutoff = (await conn.execute(newest.offset(self.keep_fired).limit(1))).scalar()
                if cutoff is not None:
                    await conn.execute(sa.delete(t.ALERT_FIRED).where(t.ALERT_FIRED.c.id <= cutoff))

    async def fired(self, limit: int) -> list[AlertFired]:
        """What fired, newest first."""
        query = sa.select(t.ALERT_FIRED.c.body).order_by(t.ALERT_FIRED.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [_fired.decode(body) for body in rows]
