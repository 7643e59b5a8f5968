"""The audit trail under hostile input, over a real gateway: every kind of refusal is a row,
and no user name or detail can forge a line of ``omnitrade gateway audit``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from omnitrade_tui.escape import shown
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.audit import AuditLog
from omnitrade_tui.gateway.service import RunningGateway
from omnitrade_tui.gateway.throttle import RateLimiter
from omnitrade_tui.store.gateway_repository import GatewayRepository
from tests.gateway.conftest import FakeClock
from tests.gateway.test_hostile_input import raw_socket

ROOT = Path(__file__).resolve().parents[2]
FORGED = "x\n2026-12-05 12:00:00Z  ok  ann  login\x1b[2J\u202e"


def test_shown_makes_every_control_character_visible() -> None:
    assert shown("plain ü 東京") == "plain ü 東京"
    assert shown("a\nb\r\tc\x1b[31m\x00\u202e\\n") == "a\\nb\\r\\tc\\x1b[31m\\x00\\u202e\\\\n"
    assert shown(FORGED).isprintable()


def _audit_lines(db_url: str, tmp_path: Path) -> list[str]:
    env = {
        **os.environ,
        "OMNITRADE_CONFIG_DIR": str(tmp_path / "cli-config"),
        "OMNITRADE_STATE_DIR": str(tmp_path / "cli-state"),
        "OMNITRADE_DATA_DIR": str(tmp_path / "cli-data"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from omnitrade_tui.cli import main; sys.exit(main())",
            "gateway",
            "audit",
            "--limit",
            "500",
            "--db",
            db_url,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


async def test_no_user_name_can_forge_a_line_of_the_audit_output(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            gateway.url + "/auth/login", json={"username": FORGED, "password": "wrong password"}
        ) as resp,
    ):
        assert resp.status == 401
    rows = await gateway.auth.audit.recent(500)
    lines = _audit_lines(gateway.runtime.settings.db_url or "", tmp_path)
    assert len(lines) == len(rows)  # one line per entry, whatever the entries hold
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  ", line) for line in lines)
    assert not any("\x1b" in line or "\u202e" in line for line in lines)
    forged = [line for line in lines if "\\n2026-12-05" in line]
    assert len(forged) == 1 and "\\x1b[2J\\u202e" in forged[0]


async def test_every_kind_of_refusal_is_one_row(gateway: RunningGateway) -> None:
    ws_url = gateway.url.replace("http", "ws") + "/ws"
    async with aiohttp.ClientSession() as http:
        for token in ("not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbm4ifQ.", ""):
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(ws_url, headers={"Authorization": f"Bearer {token}"})
        ws = await raw_socket(gateway, http, "vic")
        await ws.send_bytes(wire.encode(wire.Subscribe(id=1, pattern="cmd.>")))
        await ws.send_bytes(wire.encode(wire.Reauth(id=2, token="forged")))
        for _ in range(2):
            reply = wire.decode_gateway_frame((await ws.receive()).data)
            assert isinstance(reply, wire.ReplyIn) and not reply.ok
        await ws.send_str("not msgpack")
        bye = wire.decode_gateway_frame((await ws.receive()).data)
        assert isinstance(bye, wire.Goodbye) and bye.code == wire.CLOSE_BAD_FRAME
        await ws.close()
    rows = await gateway.auth.audit.recent(100)
    denied = [(r.username, r.action) for r in rows if r.outcome == "denied"]
    assert denied.count(("", "attach")) == 3
    for action in ("subscribe", "reauth", "frame"):
        assert denied.count(("vic", action)) == 1, action


async def test_refusal_rows_are_bounded_per_client_and_the_rest_are_counted(
    repo: GatewayRepository, clock: FakeClock
) -> None:
    audit = AuditLog(repo, clock=clock, refusals=RateLimiter(2.0, 20.0, clock=clock))
    written = [await audit.refusal("vic", "127.0.0.1:1", "x", "no", "denied") for _ in range(2000)]
    assert written.count(True) == 20
    await audit.refusal("tom", "127.0.0.1:2", "x", "no", "denied")  # another client: its own
    clock.advance(1.0)
    await audit.refusal("vic", "127.0.0.1:3", "x", "no", "denied")
    await audit.flush("vic", "127.0.0.1:4")
    rows = await audit.recent(100, "vic")
    assert len(rows) == 21
    assert "+1980 refusals of this client not recorded" in rows[0].detail
