"""The aiohttp application key under which the venue object is reachable from handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from omnitrade_tui.venues.sim.venue import SimVenue

VENUE_KEY: web.AppKey[SimVenue] = web.AppKey("venue")
