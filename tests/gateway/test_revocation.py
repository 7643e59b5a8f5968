"""Revocation across processes: the upgrade asks the store, and a running gateway ends the
sessions of a user removed, demoted or given a new password by another process within a
second (the store's change counter, polled), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from omnitrade_tui.bus import Bus
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.client import GatewayClient
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.service import RunningGateway
from omnitrade_tui.gateway.users import UserAdmin
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.gateway.conftest import PASSWORD
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


async def test_the_change_counter_moves_with_every_change_to_users_and_sessions(
    repo: GatewayRepository,
) -> None:
    seen = [await repo.change_counter()]

    async def moved() -> None:
        now = await repo.change_counter()
        assert now > seen[-1]
        seen.append(now)

    await repo.add_user("zoe", "viewer", "hash", 1)
    await moved()
    await repo.set_role("zoe", "trader", 2)
    await moved()
    await repo.set_password_hash("zoe", "hash2", 3)
    await moved()
    await repo.set_disabled("zoe", True, 4)
    await moved()
    await repo.remove_user("zoe")
    await moved()


async def _attach(gw: RunningGateway, user: str) -> GatewayClient:
    client = GatewayClient(gw.url, user, Bus(), patterns=(), reconnect=False)
    await client.start(PASSWORD)
    return client


async def _ended_within(client: GatewayClient, seconds: float) -> float:
    start = time.monotonic()
    await until(
        lambda: client.goodbye is not None,
        f"the session of {client.username} to end",
        seconds,
        interval=0.02,
    )
    assert client.goodbye is not None
    assert client.goodbye.code == wire.CLOSE_REVOKED
    return time.monotonic() - start


async def _upgrade_status(gw: RunningGateway, token: str) -> int:
    """The HTTP status of a WebSocket upgrade with ``token`` (101 if it was accepted)."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(
                gw.url.replace("http", "ws") + "/ws", headers={"Authorization": f"Bearer {token}"}
            )
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


@pytest.fixture
def db_url(gateway: RunningGateway) -> str:
    """The gateway's database URL (the one ``omnitrade gateway users --db`` is given)."""
    return gateway.runtime.settings.db_url or ""


async def test_demoted_or_new_password_ends_the_session_within_a_second(
    gateway: RunningGateway, db_url: str, fast_passwords: Passwords
) -> None:
    tom = await _attach(gateway, "tom")
    vic = await _attach(gateway, "vic")
    other = GatewayRepository(await open_database(db_url))
    try:
        admin = UserAdmin(other, fast_passwords)  # as the command line does: no gateway
        await admin.set_role("tom", Role.VIEWER)
        assert await _ended_within(tom, 2.5) < 2.5
        await admin.set_password("vic", "an entirely new passphrase")
        await _ended_within(vic, 2.5)
        # The old token is refused at the upgrade too (the store says so, not a deny list).
        assert vic.tokens is not None
        assert await _upgrade_status(gateway, vic.tokens.access) == 401
        rows = await gateway.auth.audit.recent(50, username="vic")
        assert any(r.action == "attach" and r.outcome == "denied" for r in rows)
    finally:
        await other.close()
        await tom.aclose()
        await vic.aclose()


async def test_a_user_removed_on_the_command_line_is_disconnected_and_refused(
    gateway: RunningGateway, db_url: str, tmp_path: Path
) -> None:
    vic = await _attach(gateway, "vic")
    assert vic.tokens is not None
    token = vic.tokens.access
    env = {
        **os.environ,
        "OMNITRADE_CONFIG_DIR": str(tmp_path / "cli-config"),
        "OMNITRADE_STATE_DIR": str(tmp_path / "cli-state"),
        "OMNITRADE_DATA_DIR": str(tmp_path / "cli-data"),
    }
    try:
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from omnitrade_tui.cli import main; sys.exit(main())",
            "gateway",
            "users",
            "remove",
            "vic",
            "--db",
            db_url,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 0, err.decode()
        await _ended_within(vic, 2.5)  # counted from the command's exit
        assert await _upgrade_status(gateway, token) == 401
    finally:
        await vic.aclose()
