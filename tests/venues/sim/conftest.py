"""Fixtures of the simulated venue's wire tests: a running venue and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from omnitrade_tui.venues.sim.venue import SimVenue


@pytest.fixture
async def sim() -> AsyncIterator[SimVenue]:
    """A one-symbol venue (ETHUSDT) with its generated market, on a free loopback port."""
    async with SimVenue.start(symbols=["ETHUSDT"], seed=9) as venue:
        yield venue


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
