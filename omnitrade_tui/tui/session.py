"""What the terminal app is given to run: the bus and the facts of the run.

The app never builds an engine; the runtime (or the gateway client of ``omnitrade attach``)
hands it this, which is what lets the same app attach to a remote engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from omnitrade_tui.bus import Bus
from omnitrade_tui.config import UISettings
from omnitrade_tui.domain.instrument import Instrument
from omnitrade_tui.logs import RingHandler


@dataclass(frozen=True)
class TerminalSession:
    """The bus, the instruments, and how this run wants to look and behave."""

    bus: Bus
    instruments: Mapping[str, Instrument]
    watchlist: tuple[str, ...]
    profile_label: str = "SIM"
    live: bool = False
    ui: UISettings = field(default_factory=UISettings)
    user_theme_dir: Path | None = None
    fee_rate: Decimal = Decimal("0.001")
    #: Ask the store for recent fills at start (venue profiles; a fresh sim has none).
    load_history: bool = False
    log_ring: RingHandler | None = None
    #: Called once the screen follows the bus (the runtime then opens its streams).
    on_ready: Callable[[], None] | None = None
    #: Commands this user may not send (attached to a gateway), by ``Command.name``, with
    #: the sentence that says which role they need: their keys are shown disabled.
    refused: Mapping[str, str] = field(default_factory=dict)
    #: Attached to a gateway as a user kept to some venues: those (qualifiers, ``""`` the
    #: first); empty: every venue. The ticket offers only these.
    trade_venues: tuple[str, ...] = ()
    #: Attached to a gateway: who is logged in where, and the certificate's fingerprint.
    gateway: str | None = None
    #: The name of the profile's first venue (``sim``, ``binance``), whose instrument ids
    #: carry no ``@venue``: what a venue column calls it.
    first_venue: str = ""
    #: Where the screen writes what it exports (the order history's CSV): the data folder.
    export_dir: Path | None = None

    @property
    def confirm_orders(self) -> bool:
        """Confirmation is always on for LIVE, and optional elsewhere."""
        return self.live or self.ui.confirm_orders
