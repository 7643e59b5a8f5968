"""``--state``: accounts, keys, balances and open orders survive a restart of the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.domain import OrderRequest, OrderType, Side, TimeInForce
from omnitrade_tui.venues.sim.state import StateError, load_state
from omnitrade_tui.venues.sim.symbols import default_instruments
from omnitrade_tui.venues.sim.venue import SimVenue


def venue(path: Path) -> SimVenue:
    return SimVenue(default_instruments(["ETHUSDT"]), seed=4, state_path=path)


async def test_accounts_and_open_orders_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sim-state.json"
    first = venue(path)
    account = first.add_account("K" * 64, secret="S" * 64, balances={"USDT": "5000"})
    bid = first.engine.books["ETHUSDT"].bids.best()
    assert bid is not None
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    first.engine.place(
        account,
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            price=price,
            quantity=Decimal(1),
            time_in_force=TimeInForce.GTC,
            client_order_id="keep-me",
        ),
    )
    first.engine.place(
        account,
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            price=price,
            quantity=Decimal(1),
            iceberg_qty=Decimal("0.4"),
            time_in_force=TimeInForce.GTC,
            client_order_id="keep-me-hidden",
        ),
    )
    await first.close()
    assert path.stat().st_mode & 0o777 == 0o600

    second = venue(path)
    assert second.demo_key == first.demo_key
    key = second.keys.lookup("K" * 64)
    restored = second.engine.accounts[key.account_id]
    order, iceberg = second.engine.open_orders(restored)
    assert order.client_order_id == "keep-me" and order.price == price
    # The iceberg is still one: only its part shows at its price.
    assert iceberg.iceberg_qty == Decimal("0.4") and iceberg.visible == Decimal("0.4")
    assert restored.balance("USDT") == (Decimal(5000) - 2 * price, 2 * price)
    await second.close()


def test_a_corrupt_state_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="cannot read the venue state"):
        load_state(venue(tmp_path / "other.json"), path)
    assert main(["sim", "--state", str(path), "--port", "0"]) == ExitCode.CONFIG
