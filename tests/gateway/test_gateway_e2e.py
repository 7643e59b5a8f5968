"""The gateway end to end: the engine on the simulated venue served over a real socket,
terminals attached with ``GatewayClient`` as ``omnitrade attach`` does."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from omnitrade_tui.bus import Bus
from omnitrade_tui.bus.policy import each
from omnitrade_tui.domain.commands import (
    CancelAll,
    CancelOrder,
    FillHistory,
    PlaceOrder,
    SetRiskLimits,
    SubscribeSymbol,
)
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import (
    BookHealth,
    BookState,
    BookTop,
    ConnectionChanged,
    LinkState,
    OrderBookUpdate,
)
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.gateway import protocol as wire
from omnitrade_tui.gateway.client import GatewayClient, GatewayError, RemoteRefusal
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.service import Listen, RunningGateway, plan_tls, run_gateway
from omnitrade_tui.gateway.tls import fetch_fingerprint, fingerprint_digest
from tests.gateway.conftest import PASSWORD, USERS, auth_factory, with_users
from tests.test_runtime import sim_settings
from tests.waiting import until


async def _attach(gw: RunningGateway, user: str, **kw: Any) -> GatewayClient:
    client = GatewayClient(gw.url, user, Bus(), **kw)
    await client.start(PASSWORD)
    return client


#: The engine behind a gateway on a loaded box: a little longer than the default wait.
_until = partial(until, timeout=15.0)


def _limit_buy(price: Decimal, coid: str) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.001"),
        price=price,
        time_in_force=TimeInForce.GTC,
        client_order_id=coid,
    )


async def _far_bid(client: GatewayClient) -> Decimal:
    """A bid price well below the market (rests, never fills), from the streamed book."""
    tops: list[BookTop] = []
    client.bus.subscribe("md.book.BTCUSDT", each(lambda t, e: tops.append(e)))
    await _until(lambda: bool(tops) and bool(tops[-1].bids))
    return (Decimal(str(tops[-1].bids[0].price)) * Decimal("0.97")).quantize(Decimal("0.01"))


async def test_orders_from_one_terminal_reach_every_terminal_and_roles_are_enforced(
    gateway: RunningGateway,
) -> None:
    trader = await _attach(gateway, "tom")
    viewer = await _attach(gateway, "vic")
    admin = await _attach(gateway, "ann")
    try:
        assert trader.welcome is not None and trader.welcome.role == "trader"
        assert viewer.welcome is not None and viewer.welcome.profile == "SIM"
        # The viewer's Welcome names every command it may not send, with the role needed.
        assert "trader role" in viewer.welcome.refused[PlaceOrder.name]
        assert "admin role" in trader.welcome.refused[CancelAll.name]
        assert PlaceOrder.name not in trader.welcome.refused

        seen: dict[str, list[Order]] = {"tom": [], "vic": [], "ann": []}
        for name, client in (("tom", trader), ("vic", viewer), ("ann", admin)):
            # What a terminal is told of orders: the engine's order book of record.

            def keep(t: str, e: object, n: str = name) -> None:
                if isinstance(e, OrderBookUpdate):
                    seen[n].append(e.report.order)

            client.bus.subscribe("exec.book", each(keep))
        price = await _far_bid(trader)

        # The trader's order goes through the app's own path: a request on its local bus.
        placed = await trader.bus.request(PlaceOrder(request=_limit_buy(price, "gw-e2e-1")))
        assert isinstance(placed, Order) and placed.status is OrderStatus.NEW
        for name in seen:

            def arrived(n: str = name) -> bool:
                return any(o.client_order_id == "gw-e2e-1" for o in seen[n])

            await _until(arrived)

        # The viewer may not place, and is told which role it would need.
        with pytest.raises(RemoteRefusal) as refused:
            await viewer.bus.request(PlaceOrder(request=_limit_buy(price, "gw-e2e-2")))
        assert refused.value.needed == "trader"
        assert "placing orders needs the trader role; you are a viewer" in refused.value.reason
        # Nor read the command journal; market data is fine.
        assert "cmd.>" not in viewer.refused_patterns
        with pytest.raises(RemoteRefusal) as journal:
            await viewer._call(wire.Subscribe(id=9_999, pattern="cmd.>"))
        assert journal.value.needed == "admin"

        # A trader may not cancel everything; an admin may.
        with pytest.raises(RemoteRefusal) as cancel_all:
            await trader.bus.request(CancelAll(symbol="BTCUSDT"))
        assert cancel_all.value.needed == "admin"
        cancelled = await admin.bus.request(CancelAll(symbol="BTCUSDT"))
        assert [o.client_order_id for o in cancelled] == ["gw-e2e-1"]
        await _until(
            lambda: any(
                o.client_order_id == "gw-e2e-1" and o.status is OrderStatus.CANCELED
                for o in seen["vic"]
            )
        )

        # A venue refusal comes back with the venue's code.
        with pytest.raises(RemoteRefusal) as unknown:
            await trader.bus.request(CancelOrder(symbol="BTCUSDT", client_order_id="nope"))
        assert unknown.value.code == -2011

        # Everything is in the audit log, with who sent it and how it ended.
        audit = await gateway.auth.audit.recent(100)
        rows = {(r.username, r.action, r.outcome) for r in audit}
        assert ("tom", PlaceOrder.name, "ok") in rows
        assert ("vic", PlaceOrder.name, "denied") in rows
        assert ("tom", CancelAll.name, "denied") in rows
        assert ("ann", CancelAll.name, "ok") in rows
        assert ("tom", CancelOrder.name, "failed") in rows
        assert ("vic", "login", "ok") in rows
    finally:
        for c in (trader, viewer, admin):
            await c.aclose()


async def test_role_is_judged_on_the_decoded_command_not_on_the_frames_label(
    gateway: RunningGateway,
) -> None:
    viewer = await _attach(gateway, "vic")
    try:
        order = PlaceOrder(request=_limit_buy(Decimal("1000"), "gw-forged"))
        forged = wire.RequestOut(
            id=77, name=SubscribeSymbol.name, kind="PlaceOrder", body=order
        )  # labelled as a viewer's command, carrying an order
        with pytest.raises(RemoteRefusal) as refused:
            await viewer._call(forged)
        assert refused.value.needed == "trader"
    finally:
        await viewer.aclose()


async def test_wrong_passwords_block_the_address_then_the_block_expires(
    gateway: RunningGateway,
) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(
                gateway.url + "/auth/login", json={"username": "tom", "password": "wrong wrong"}
            ) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"] == "wrong user name or password"
        async with http.post(
            gateway.url + "/auth/login", json={"username": "tom", "password": PASSWORD}
        ) as resp:
            assert resp.status == 429  # even the right password, while blocked
            assert int(resp.headers["Retry-After"]) >= 1
    await asyncio.sleep(1.6)
    client = await _attach(gateway, "tom")
    await client.aclose()


async def test_a_removed_user_is_disconnected_and_not_reconnected(
    gateway: RunningGateway,
) -> None:
    viewer = await _attach(gateway, "vic")
    admin = await _attach(gateway, "ann")
    links: list[ConnectionChanged] = []
    viewer.bus.subscribe("sys.connection", each(lambda t, e: links.append(e)))
    try:
        users = await admin.operation("gateway.users.list")
        assert {u["username"]: u["role"] for u in users} == {k: str(v) for k, v in USERS.items()}
        assert await admin.operation("gateway.users.remove", username="vic") is True
        await _until(lambda: any(e.state is LinkState.FAILED for e in links))
        assert viewer.goodbye is not None and viewer.goodbye.code == wire.CLOSE_REVOKED
        with pytest.raises(GatewayError):
            await _attach(gateway, "vic")
    finally:
        await viewer.aclose()
        await admin.aclose()


async def test_bad_frames_and_a_missing_token_are_refused(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as no_token:
            await http.ws_connect(gateway.url.replace("http", "ws") + "/ws")
        assert no_token.value.status == 401
        async with http.post(
            gateway.url + "/auth/login", json={"username": "vic", "password": PASSWORD}
        ) as resp:
            token = (await resp.json())["access_token"]
        ws = await http.ws_connect(
            gateway.url.replace("http", "ws") + "/ws",
            headers={"Authorization": f"Bearer {token}"},
        )
        welcome = wire.decode_gateway_frame((await ws.receive()).data)
        assert isinstance(welcome, wire.Welcome) and welcome.user == "vic"
        await ws.send_bytes(b"\x93\xa3bad")  # not a frame
        bye = wire.decode_gateway_frame((await ws.receive()).data)
        assert isinstance(bye, wire.Goodbye) and bye.code == wire.CLOSE_BAD_FRAME
        assert "malformed frame" in bye.reason
        await ws.close()
        # A login with a body that is not JSON is a clear 400, not a crash.
        async with http.post(gateway.url + "/auth/login", data=b"{nope") as resp:
            assert resp.status == 400
            assert "JSON" in await resp.text()


async def test_the_session_outlives_its_access_tokens(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    where = Listen("127.0.0.1", 0)
    async with run_gateway(
        sim_settings(tmp_path),
        where,
        auth_factory=auth_factory(fast_passwords, access_ttl_s=6.0),
        record=False,
    ) as gw:
        await with_users(gw)
        client = await _attach(gw, "vic")
        try:
            assert client.tokens is not None
            first_refresh = client.tokens.refresh
            tops: list[Any] = []
            client.bus.subscribe("md.book.*", each(lambda t, e: tops.append(e)))
            await asyncio.sleep(8.0)  # past the first token's expiry
            assert client.tokens.refresh != first_refresh  # rotated
            assert client.goodbye is None  # the socket was re-authenticated, not closed
            n = len(tops)
            await _until(lambda: len(tops) > n)  # still streaming
        finally:
            await client.aclose()


async def test_tls_with_first_use_pinning(tmp_path: Path, fast_passwords: Passwords) -> None:
    where = plan_tls("127.0.0.1:0", None, None, True, tmp_path / "state")
    assert where.cert is not None
    async with run_gateway(
        sim_settings(tmp_path), where, auth_factory=auth_factory(fast_passwords), record=False
    ) as gw:
        await with_users(gw)
        assert gw.url.startswith("https://") and gw.fingerprint is not None
        port = int(gw.url.rsplit(":", 1)[1])
        seen = await fetch_fingerprint("127.0.0.1", port)
        assert seen == gw.fingerprint
        client = await _attach(gw, "vic", pin=fingerprint_digest(seen))
        await client.aclose()
        wrong = bytes(32)
        with pytest.raises(GatewayError, match="does not match the trusted fingerprint"):
            await _attach(gw, "vic", pin=wrong)


def test_tls_is_required_off_loopback(tmp_path: Path) -> None:
    from omnitrade_tui.gateway.service import GatewaySetupError

    with pytest.raises(GatewaySetupError, match="only over TLS"):
        plan_tls("10.1.2.3:8765", None, None, False, tmp_path)
    assert plan_tls("127.0.0.1:8765", None, None, False, tmp_path).cert is None
    with pytest.raises(GatewaySetupError, match="HOST:PORT"):
        plan_tls("8765", None, None, False, tmp_path)


def test_every_frame_round_trips() -> None:
    order = PlaceOrder(request=_limit_buy(Decimal("100.5"), "rt"))
    raw = wire.encode(wire.RequestOut(id=1, name=order.name, kind="PlaceOrder", body=order))
    back = wire.decode_terminal_frame(raw)
    assert isinstance(back, wire.RequestIn)
    assert msgspec.msgpack.decode(back.body, type=PlaceOrder) == order


async def test_a_terminal_survives_a_gateway_restart_and_shows_unknown_meanwhile(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    settings = sim_settings(tmp_path)
    async with run_gateway(
        settings, Listen("127.0.0.1", 0), auth_factory=auth_factory(fast_passwords), record=False
    ) as first:
        await with_users(first)
        port = int(first.url.rsplit(":", 1)[1])
        # Subscribed before it attaches: the book's LIVE may arrive while it attaches (it was
        # missed under load when the subscription came after).
        client = GatewayClient(first.url, "vic", Bus())
        links: list[ConnectionChanged] = []
        healths: list[BookHealth] = []
        client.bus.subscribe("sys.connection", each(lambda t, e: links.append(e)))
        client.bus.subscribe("md.health.BTCUSDT", each(lambda t, e: healths.append(e)))
        await client.start(PASSWORD)
        await _until(lambda: bool(healths) and healths[-1].state is BookState.LIVE)
    try:
        # The gateway is gone: its link reconnects, and what it reported is now unknown.
        await _until(
            lambda: any(e.link == "gateway" and e.state is LinkState.RECONNECTING for e in links)
        )
        assert healths[-1].state is BookState.STALE
        assert "gateway link is down" in healths[-1].detail
        market = [e for e in links if e.link == "market"]
        assert market and market[-1].state is LinkState.DISCONNECTED
        # The same gateway (same store, same secret) comes back on the same port.
        async with run_gateway(
            settings,
            Listen("127.0.0.1", port),
            auth_factory=auth_factory(fast_passwords),
            record=False,
        ):
            await _until(
                lambda: (
                    links[-1].link in ("gateway", "market", "user")
                    and any(
                        e.link == "gateway" and e.state is LinkState.CONNECTED for e in links[-6:]
                    )
                ),
                timeout=30,
            )
            # mypy keeps healths[-1].state narrowed to STALE from the assert above.
            await _until(lambda: healths[-1].state is BookState.LIVE, timeout=30)  # type: ignore[comparison-overlap]
    finally:
        await client.aclose()


async def test_only_an_admin_changes_risk_limits_and_they_apply_at_once(
    gateway: RunningGateway,
) -> None:
    trader = await _attach(gateway, "tom")
    admin = await _attach(gateway, "ann")
    try:
        tight = SetRiskLimits(limits=RiskLimits(max_order_notional=Decimal("50")))
        with pytest.raises(RemoteRefusal) as refused:
            await trader.bus.request(tight)
        assert refused.value.needed == "admin"
        now = await admin.bus.request(tight)
        assert isinstance(now, RiskLimits) and now.max_order_notional == Decimal("50")
        price = await _far_bid(trader)
        with pytest.raises(RemoteRefusal) as risk:
            await trader.bus.request(PlaceOrder(request=_limit_buy(price, "gw-risk-1")))
        assert "notional" in risk.value.reason
        audit = await gateway.auth.audit.recent(50)
        assert any(r.username == "ann" and r.action == "risk.limits.set" for r in audit)
    finally:
        await trader.aclose()
        await admin.aclose()


async def test_a_burst_of_commands_is_rate_limited_per_user(gateway: RunningGateway) -> None:
    viewer = await _attach(gateway, "vic")
    try:
        answers = await asyncio.gather(
            *(viewer.bus.request(FillHistory(since_ms=0)) for _ in range(80)),
            return_exceptions=True,
        )
        limited = [a for a in answers if isinstance(a, RemoteRefusal) and "too many" in a.reason]
        assert 20 <= len(limited) < 80  # the burst allowance passes, the rest is refused
        audit = await gateway.auth.audit.recent(200, username="vic")
        assert any(r.outcome == "denied" and "too many" in r.detail for r in audit)
    finally:
        await viewer.aclose()


async def test_only_an_admin_may_unsubscribe_the_gateways_market_data(
    gateway: RunningGateway,
) -> None:
    viewer = await _attach(gateway, "vic")
    admin = await _attach(gateway, "ann")
    try:
        assert await viewer.bus.request(SubscribeSymbol(symbol="ETHUSDT")) is True
        with pytest.raises(RemoteRefusal) as refused:
            await viewer.bus.request(SubscribeSymbol(symbol="ETHUSDT", active=False))
        assert refused.value.needed == "admin"
        assert "ETHUSDT" in gateway.runtime.market_stream.books
        assert await admin.bus.request(SubscribeSymbol(symbol="ETHUSDT", active=False)) is True
    finally:
        await viewer.aclose()
        await admin.aclose()


async def test_attach_trusts_on_first_use_and_refuses_a_changed_certificate(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    from omnitrade_tui.cli.attach import trusted_pin
    from omnitrade_tui.cli.errors import CliError
    from omnitrade_tui.cli.exit_codes import ExitCode

    settings = sim_settings(tmp_path)
    where = plan_tls("127.0.0.1:0", None, None, True, tmp_path / "state")
    async with run_gateway(
        settings, where, auth_factory=auth_factory(fast_passwords), record=False
    ) as gw:
        port = int(gw.url.rsplit(":", 1)[1])
        # Not known, nobody to ask: refused, saying what to compare and pass.
        with pytest.raises(CliError) as unknown:
            await trusted_pin(settings, "127.0.0.1", port, None, None)
        assert unknown.value.code == ExitCode.KEYS and "--trust" in str(unknown.value)
        # The user answers no: nothing remembered.
        with pytest.raises(CliError, match="not trusted"):
            await trusted_pin(settings, "127.0.0.1", port, None, lambda prompt: "no")
        # Yes: remembered; the next time nobody is asked.
        asked: list[str] = []

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return "yes"

        _, fp = await trusted_pin(settings, "127.0.0.1", port, None, ask)
        assert fp == gw.fingerprint and fp in asked[0]
        _, again = await trusted_pin(settings, "127.0.0.1", port, None, None)
        assert again == fp
        # Another certificate at the same address: refused loudly, both shown.
        known = settings.dirs.config / "known_gateways"
        known.write_text(f"127.0.0.1:{port} SHA256:{'A' * 43}\n")
        with pytest.raises(CliError) as changed:
            await trusted_pin(settings, "127.0.0.1", port, None, lambda p: "yes")
        assert "DIFFERENT certificate" in str(changed.value) and fp in str(changed.value)
        assert changed.value.code == ExitCode.KEYS


async def test_an_outage_longer_than_the_access_token_renews_the_session_on_return(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    settings = sim_settings(tmp_path)
    factory = auth_factory(fast_passwords, access_ttl_s=3.0)
    async with run_gateway(
        settings, Listen("127.0.0.1", 0), auth_factory=factory, record=False
    ) as gw:
        await with_users(gw)
        port = int(gw.url.rsplit(":", 1)[1])
        client = await _attach(gw, "vic")
        links: list[ConnectionChanged] = []
        client.bus.subscribe("sys.connection", each(lambda t, e: links.append(e)))
    try:
        await asyncio.sleep(4.5)  # the access token expired while the gateway was away
        assert client.tokens is not None and client.tokens.expires_at < time.time()
        async with run_gateway(
            settings, Listen("127.0.0.1", port), auth_factory=factory, record=False
        ) as again:
            await _until(
                lambda: any(e.link == "gateway" and e.state is LinkState.CONNECTED for e in links),
                timeout=30,
            )
            assert not any(e.state is LinkState.FAILED for e in links)
            # Still one session: renewed, not revoked for reuse.
            audit = await again.auth.audit.recent(50, username="vic")
            assert not any("reuse" in r.detail for r in audit)
    finally:
        await client.aclose()
