"""A running gateway deletes refresh tokens that expired over a day ago, so the token table
holds the sessions of the last day, not every login since the box was set up."""

from __future__ import annotations

import time
from pathlib import Path

from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.server import ServerLimits
from omnitrade_tui.gateway.service import Listen, run_gateway
from omnitrade_tui.store.gateway_repository import RefreshTokenRecord
from tests.gateway.conftest import auth_factory
from tests.test_runtime import sim_settings
from tests.waiting import until

DAY_MS = 86_400_000


async def test_expired_refresh_tokens_are_purged_while_the_gateway_runs(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    now_ms = int(time.time() * 1000)
    async with run_gateway(
        sim_settings(tmp_path),
        Listen("127.0.0.1", 0),
        auth_factory=auth_factory(fast_passwords),
        limits=ServerLimits(purge_every_s=0.05),
        record=False,
    ) as gw:
        repo = gw.auth.repo
        for name, expires_ms in (("stale", now_ms - 2 * DAY_MS), ("fresh", now_ms + DAY_MS)):
            await repo.add_refresh_token(
                RefreshTokenRecord(
                    token_hash=name,
                    family=name,
                    username="nobody",
                    issued_ms=now_ms - 3 * DAY_MS,
                    expires_ms=expires_ms,
                )
            )

        async def purged() -> bool:
            return await repo.get_refresh_token("stale") is None

        await until(purged, "the stale token's purge", 5.0, fail=False)
        assert await repo.get_refresh_token("stale") is None
        assert await repo.get_refresh_token("fresh") is not None
