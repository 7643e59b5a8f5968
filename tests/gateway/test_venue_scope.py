"""A gateway user kept to some venues: on a run of two venues (the simulated venue and a
second one through ccxt), a trader kept to ``alt`` places there, is refused on the first
venue with what they may trade (audited), and a change of their venues ends their session.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.bus import Bus
from omnitrade_tui.domain.commands import PlaceOrder, VenueCandles
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import Order, OrderRequest
from omnitrade_tui.gateway.client import GatewayClient, RemoteRefusal
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Role, authorize_venue, parse_venue_list
from omnitrade_tui.gateway.service import Listen, run_gateway
from omnitrade_tui.tui.screens.ticket import OrderTicket
from tests.gateway.conftest import PASSWORD, auth_factory
from tests.gateway.test_attached_terminals import attached_app
from tests.venues.multi.profiles import two_venue_settings
from tests.waiting import until


def _buy(symbol: str, price: Decimal, coid: str) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.01"),
        price=price,
        time_in_force=TimeInForce.GTC,
        client_order_id=coid,
    )


def test_venue_lists_parse_and_authorize() -> None:
    assert parse_venue_list("") == () and parse_venue_list("all") == ()
    assert parse_venue_list(" First , alt,alt") == ("", "alt")
    with pytest.raises(ValueError, match="not a venue name"):
        parse_venue_list("first,Bad.Venue")
    # A list past what the store keeps is refused whole, not cut (hostile or mistaken).
    with pytest.raises(ValueError, match="at most 12 venues"):
        parse_venue_list(",".join(f"v{n}" for n in range(13)))
    with pytest.raises(ValueError, match="at most 12 venues"):
        parse_venue_list("a" * 100_000)
    mine = parse_venue_list("alt")
    authorize_venue(mine, PlaceOrder(request=_buy("BTCUSDT@alt", Decimal(1), "a")))
    authorize_venue((), PlaceOrder(request=_buy("BTCUSDT", Decimal(1), "b")))
    with pytest.raises(Exception, match="trading on the first venue is not yours"):
        authorize_venue(mine, PlaceOrder(request=_buy("BTCUSDT", Decimal(1), "c")))
    # Market data is for every venue: only order commands are kept to the user's venues.
    authorize_venue(mine, VenueCandles(symbol="BTCUSDT", interval="1m"))


async def test_a_trader_kept_to_one_venue_trades_there_only(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    where = Listen("127.0.0.1", 0)
    async with run_gateway(
        two_venue_settings(tmp_path),
        where,
        auth_factory=auth_factory(fast_passwords),
        record=False,
    ) as gw:
        await gw.auth.users.add("ann", Role.ADMIN, PASSWORD)
        await gw.auth.users.add("tina", Role.TRADER, PASSWORD, parse_venue_list("alt"))
        gw.runtime.connect()
        gate = gw.runtime.gate
        await until(lambda: {"BTCUSDT", "BTCUSDT@alt"} <= set(gate.mids), "both mids", 20)
        tina = GatewayClient(gw.url, "tina", Bus(), patterns=())
        await tina.start(PASSWORD)
        try:
            price = (gate.mids["BTCUSDT@alt"] * Decimal("0.97")).quantize(Decimal("0.01"))
            placed = await tina.request(PlaceOrder(request=_buy("BTCUSDT@alt", price, "tina-1")))
            assert isinstance(placed, Order) and placed.status is OrderStatus.NEW
            first = (gate.mids["BTCUSDT"] * Decimal("0.97")).quantize(Decimal("0.01"))
            with pytest.raises(RemoteRefusal) as refused:
                await tina.request(PlaceOrder(request=_buy("BTCUSDT", first, "tina-2")))
            assert "trading on the first venue is not yours: you may trade on alt" in str(
                refused.value
            )
            # Refused before the engine: nothing reached the first venue.
            assert await gw.runtime.manager.port.open_orders() == []
            audit = await gw.server.audit.recent(5, "tina")
            assert audit[0].outcome == "denied" and "not yours" in audit[0].detail
        finally:
            await tina.aclose()

        # A change of venues ends the session: the terminal must log in again.
        tina = GatewayClient(gw.url, "tina", Bus(), patterns=())
        await tina.start(PASSWORD)
        try:
            await gw.auth.users.set_venues("tina", parse_venue_list("first,alt"))
            # The gateway sees the change in the store (within its one-second poll) and ends
            # the terminal that attached with the old venues.
            await until(
                lambda: not any(t.user == "tina" for t in gw.server.terminals),
                "the session with the old venues to end",
                5,
            )
            assert (await gw.auth.users.get("tina")).venues == ("", "alt")
        finally:
            await tina.aclose()


@pytest.mark.slow  # a gateway on two venues and an attached app
async def test_an_attached_terminal_offers_only_the_users_venues(
    tmp_path: Path, fast_passwords: Passwords
) -> None:
    """The Welcome says the user's venues: the ticket opens on one of them whichever symbol
    is active, offers no other, and a ladder row of another venue is refused on screen."""
    async with run_gateway(
        two_venue_settings(tmp_path),
        Listen("127.0.0.1", 0),
        auth_factory=auth_factory(fast_passwords),
        record=False,
    ) as gw:
        await gw.auth.users.add("tina", Role.TRADER, PASSWORD, parse_venue_list("alt"))
        gw.runtime.connect()
        async with attached_app(gw, "tina", tmp_path) as (app, pilot, _client):
            assert app.session.trade_venues == ("alt",)
            assert app.state.active == "BTCUSDT"
            await pilot.press("b")
            await until(lambda: isinstance(app.screen, OrderTicket), "the ticket", 10)
            ticket = app.screen
            assert isinstance(ticket, OrderTicket)
            assert ticket.instrument.symbol == "BTCUSDT@alt"
            assert ticket.venue_ids == ["BTCUSDT@alt"]
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, OrderTicket), "the ticket closed", 5)
            # A ladder row of the first venue: refused where the trader looks, no ticket.
            await pilot.press("l", "down", "enter")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, OrderTicket)
            notices = [str(n.message) for n in app._notifications]
            assert any("Trading on the first venue is not yours" in n for n in notices)
