"""Helpers for the order-path tests (issue 14): the app on the seeded feed, with test
handlers answering the engine's commands on the bus, as the engine would."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from omnitrade_tui.bus import Bus, each
from omnitrade_tui.tui.app import OmniTradeApp
from tests.tui.seeded_feed import seeded_session
from tests.tui.test_app_trading import until

__all__ = ["answer", "commands_seen", "notices", "recorder", "seeded_app", "until"]


def seeded_app(**changes: object) -> OmniTradeApp:
    """The app on a fresh bus with the seeded session (feed not yet published)."""
    session = seeded_session(Bus())
    app = OmniTradeApp(dataclasses.replace(session, **changes))  # type: ignore[arg-type]
    app.animation_level = "none"
    return app


def commands_seen(app: OmniTradeApp) -> list[Any]:
    """Every command sent on the bus from now on."""
    seen: list[Any] = []
    app.bus.subscribe("cmd.>", each(lambda topic, event: seen.append(event)))
    return seen


def answer(app: OmniTradeApp, kind: type[Any], reply: Callable[[Any], Awaitable[Any]]) -> None:
    """Answer commands of ``kind`` with ``reply`` (the engine's part, in a test)."""
    app.bus.handle(kind, reply)


def recorder(app: OmniTradeApp, kind: type[Any], reply: Any = "done") -> list[Any]:
    """Answer commands of ``kind`` with ``reply``; the list of those received."""
    received: list[Any] = []

    async def handle(cmd: Any) -> Any:
        received.append(cmd)
        return reply

    app.bus.handle(kind, handle)
    return received


def notices(app: OmniTradeApp) -> list[str]:
    """The text of every notification shown so far."""
    return [str(n.message) for n in app._notifications]
