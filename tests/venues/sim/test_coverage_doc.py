"""``docs/sim-coverage.md`` stays true: every REST route and WebSocket-API method the venue
serves is in its table, nothing it lists as covered or refused is missing, nothing listed
absent is served, each refusal answers with the code and message the table gives, and the
streams it lists are (or are not) served."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from omnitrade_tui.venues.sim import ws_api
from omnitrade_tui.venues.sim.names import is_stream_name
from omnitrade_tui.venues.sim.symbols import default_instruments
from omnitrade_tui.venues.sim.venue import SimVenue
from tests.venues.sim.test_wire import signed
from tests.venues.sim.test_ws_api import call, hmac_signed

DOC = Path(__file__).parents[3] / "docs" / "sim-coverage.md"
ROUTE = re.compile(r"(GET|POST|PUT|DELETE) (/api/v3/\S+)")
REFUSAL = re.compile(r"(-\d+) (.+)")


def rows() -> list[tuple[str, str, str, str]]:
    """(Binance name, kind, sim, notes) of each row of the table."""
    out = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2] in ("covered", "refused", "absent"):
            out.append((cells[0], cells[1], cells[2], cells[3]))
    return out


def served_routes() -> set[str]:
    app = SimVenue(default_instruments(["BTCUSDT"]), generate=False).app()
    return {
        f"{r.method} {r.resource.canonical}"
        for r in app.router.routes()
        if r.method != "HEAD"
        and r.resource is not None
        and r.resource.canonical.startswith("/api/v3/")
    }


def test_the_table_lists_exactly_what_the_venue_serves() -> None:
    table = rows()
    assert len(table) > 100
    listed_routes = {name: sim for name, kind, sim, _ in table if ROUTE.fullmatch(name)}
    served = served_routes()
    assert served - set(listed_routes) == set(), "routes the table does not list"
    for name, sim in listed_routes.items():
        assert (name in served) == (sim != "absent"), name
    listed_methods = {name: sim for name, kind, sim, _ in table if kind == "WS"}
    assert ws_api.METHODS - set(listed_methods) == set(), "methods the table does not list"
    for name, sim in listed_methods.items():
        assert (name in ws_api.METHODS) == (sim != "absent"), name
    for name, kind, sim, _ in table:
        if kind == "stream" and " " not in name and "=" not in name:
            assert is_stream_name(name) == (sim == "covered"), name


@pytest.mark.parametrize(
    ("name", "notes"),
    [(name, notes) for name, kind, sim, notes in rows() if sim == "refused"],
)
async def test_each_refusal_answers_as_the_table_says(
    sim: SimVenue, http: aiohttp.ClientSession, name: str, notes: str
) -> None:
    match = REFUSAL.fullmatch(notes)
    assert match is not None, notes
    expected = {"code": int(match.group(1)), "msg": match.group(2)}
    route = ROUTE.fullmatch(name)
    if route is not None:
        method, path = route.groups()
        status, body, _ = await signed(
            http, sim, method, path.removeprefix("/api/v3/"), {"symbol": "ETHUSDT"}
        )
        assert (status, body) == (400, expected)
    else:
        async with http.ws_connect(sim.ws_api_url) as ws:
            answer = await call(ws, name, hmac_signed(sim, {"symbol": "ETHUSDT"}))
        assert (answer["status"], answer["error"]) == (400, expected)
