"""``--state FILE``: the simulated venue's accounts, keys, balances and open orders kept
across restarts.

Saved as JSON (written to a temporary file, then renamed, so a crash never leaves half a
file; mode 0600, because it holds the sim's own API secrets). On load, each account gets
its keys and its total balances back, then its open orders are placed again with their
client order ids and remaining quantities: they re-lock their funds and rest in the new
market (venue order ids are new). The generated market itself is not saved; it starts
fresh from its seed.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.venues.sim.errors import SimError

if TYPE_CHECKING:
    from omnitrade_tui.venues.sim.venue import SimVenue

VERSION = 1


class StateError(Exception):
    """The state file cannot be read: says which file and why."""


def save_state(venue: SimVenue, path: Path) -> None:
    """Write accounts, keys, balances and open orders of every user account."""
    accounts = []
    for key in venue.keys.all():
        account = venue.engine.accounts[key.account_id]
        orders = [
            {
                "symbol": o.symbol,
                "side": str(o.side),
                "type": str(o.type),
                "price": str(o.price) if o.price is not None else None,
                "stop_price": str(o.stop_price) if o.stop_price is not None else None,
                "time_in_force": str(o.time_in_force) if o.time_in_force else None,
                "quantity": str(o.remaining),
                "iceberg_qty": str(o.iceberg_qty) if o.iceberg_qty is not None else None,
                "client_order_id": o.client_order_id,
            }
            for o in venue.engine.open_orders(account)
            if o.order_list_id == -1  # OCO lists are not restored (said in the docs)
        ]
        accounts.append(
            {
                "api_key": key.api_key,
                "secret": key.secret,
                "ed25519_public_key_pem": key.public_pem,
                "demo": key.api_key == venue.demo_key[0],
                "balances": {
                    asset: str(sum(account.balance(asset), Decimal(0)))
                    for asset in account.assets()
                },
                "open_orders": orders,
            }
        )
    data = {"version": VERSION, "accounts": accounts}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode of os.open applies only to a file it creates: a temporary file left by a
    # crash (or made by someone else) keeps its own, so set it either way.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def load_state(venue: SimVenue, path: Path) -> int:
    """Recreate the saved accounts and their open orders; how many orders were restored.

    Raises:
        StateError: the file is not a state file of this version.
    """
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("version") != VERSION:
            raise StateError(f"{path}: not a simulated-venue state file of version {VERSION}")
        accounts = list(data["accounts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path}: cannot read the venue state ({exc})") from None
    restored = 0
    for saved in accounts:
        account = venue.add_account(
            saved["api_key"],
            secret=saved.get("secret"),
            ed25519_public_key_pem=saved.get("ed25519_public_key_pem"),
            balances=dict(saved["balances"]),
        )
        if saved.get("demo") and saved.get("secret"):
            venue.demo_key = (saved["api_key"], saved["secret"])
        for o in saved.get("open_orders", []):
            quantity = Decimal(o["quantity"])
            # An iceberg stays one, unless what is left is no more than one part.
            part = Decimal(o["iceberg_qty"]) if o.get("iceberg_qty") else None
            request = OrderRequest(
                symbol=o["symbol"],
                side=Side(o["side"]),
                type=OrderType(o["type"]),
                price=Decimal(o["price"]) if o["price"] else None,
                stop_price=Decimal(o["stop_price"]) if o["stop_price"] else None,
                time_in_force=TimeInForce(o["time_in_force"]) if o["time_in_force"] else None,
                quantity=quantity,
                iceberg_qty=part if part is not None and part < quantity else None,
                client_order_id=o["client_order_id"],
            )
            try:
                venue.engine.place(account, request, validate=False)
                restored += 1
            except SimError:
                continue  # e.g. a stop that would now trigger at once: its funds stay free
    return restored
