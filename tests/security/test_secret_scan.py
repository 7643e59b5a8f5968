"""A whole session with known secrets, then every file it wrote is searched for them: none.

The session adds a key through the encrypted-file fallback (no OS keyring, as over SSH),
checks it against a Binance-shaped venue with a signed request, provokes a refused key,
places orders through the risk gate (one refused, then the kill switch), logs carelessly on
purpose (the secret as a log argument, in an extra field, in an exception), scrapes metrics,
and writes JSON logs at DEBUG. Then the config, state and data folders are scanned.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
from decimal import Decimal
from urllib.parse import quote, urlencode

import httpx
import pytest

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import prepare_run
from omnitrade_tui.config import AppDirs
from omnitrade_tui.domain.commands import CancelAll, EngageKillSwitch, PlaceOrder
from omnitrade_tui.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookTop
from omnitrade_tui.domain.models import BookLevel, Order, OrderRequest
from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.engine.risk import RiskGate, RiskRejected
from omnitrade_tui.logs import shutdown_logging
from omnitrade_tui.metrics import MetricsExporter
from omnitrade_tui.secrets import open_key_store
from omnitrade_tui.venues.binance.key_check import credentials_of

from .helpers import write_config
from .stub_venue import StubVenue, run_stub

API_KEY = "SCANapiKEY7f3c9a1e5b2d8f4a6c0e7b9d1f3a5c7e"
SECRET = "SCANsecret2b4d6f8a0c1e3a5b7d9f0e2c4a6b8d0f1"
PASSPHRASE = "scan passphrase: correct horse battery staple"
LIMITS = RiskLimits(price_band_pct=Decimal(5), max_order_notional=Decimal(100))


def forms(value: str) -> list[bytes]:
    """The ways a leaked value could appear in a file."""
    raw = value.encode()
    return [raw, quote(value, safe="").encode(), base64.b64encode(raw), raw.hex().encode()]


async def trading_session(dirs: AppDirs, venue_url: str) -> None:
    """Orders through the gate, signed with the stored key, with careless logging on purpose."""
    log = logging.getLogger("omnitrade_tui.session")
    store = open_key_store(dirs, "file", env={"OMNITRADE_KEYFILE_PASSPHRASE": PASSPHRASE})
    key = store.get("main")
    bus = Bus()
    exporter = MetricsExporter(bus, sample_every=1)
    exporter.start()
    port = await exporter.serve(0)
    gate = RiskGate(bus, LIMITS, base_assets={"BTCUSDT": "BTC"})
    gate.start()

    async def place(command: PlaceOrder) -> Order:
        r = command.request
        payload = urlencode(
            [("symbol", r.symbol), ("side", r.side.value), ("timestamp", "1700000000000")]
        )
        query = f"{payload}&signature={quote(credentials_of(key).sign(payload), safe='')}"
        log.debug("signed order", extra={"query": query, "client_order_id": r.client_order_id})
        # The careless lines a secret filter exists for:
        log.debug("signing with %s and %s", key.secret.reveal(), key.api_key.reveal())
        log.info("headers", extra={"headers": {"X-MBX-APIKEY": key.api_key.reveal()}})
        async with httpx.AsyncClient() as client:
            await client.get(
                f"{venue_url}/api/v3/account?{query}",
                headers={"X-MBX-APIKEY": key.api_key.reveal()},
            )
        return r.as_order(OrderStatus.NEW)

    async def cancel_all(command: CancelAll) -> int:
        return 0

    bus.handle(PlaceOrder, gate.guard(place))
    bus.handle(CancelAll, cancel_all)
    bus.publish(
        topics.book("BTCUSDT"),
        BookTop(
            symbol="BTCUSDT", update_id=1, bids=[BookLevel(99.0, 1)], asks=[BookLevel(101.0, 1)]
        ),
    )

    def order(price: str) -> OrderRequest:
        return OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.1"),
            price=Decimal(price),
            time_in_force=TimeInForce.GTC,
        )

    await bus.request(PlaceOrder(request=order("100")))
    with pytest.raises(RiskRejected):
        await bus.request(PlaceOrder(request=order("150")))  # fat finger
    try:
        raise ConnectionError(f"venue dropped us while sending key {key.secret.reveal()}")
    except ConnectionError:
        log.exception("order path failed")
    await bus.request(EngageKillSwitch(reason="scan test"))
    async with httpx.AsyncClient() as client:
        scrape = await client.get(f"http://127.0.0.1:{port}/metrics")
    (dirs.state / "metrics.txt").write_text(scrape.text)
    gate.stop()
    await exporter.aclose()
    await bus.aclose()


def test_no_secret_in_any_file_the_session_wrote(
    app_dirs: AppDirs,
    no_keyring: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
    monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)
    monkeypatch.setenv("OMNITRADE_KEYFILE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("OMNITRADE_LOG_LEVEL", "DEBUG")
    venue = StubVenue(hmac_keys={API_KEY: SECRET}, can_withdraw=True)
    try:
        with run_stub(venue):
            write_config(
                app_dirs,
                f'profile = "stub"\n[profiles.stub]\nrest_url = "{venue.url}"\n'
                'ws_api_url = "ws://127.0.0.1:1/ws-api/v3"\nstream_url = "ws://127.0.0.1:1"\n'
                'key = "main"\n',
            )
            assert main(["keys", "add", "main", "--from-env", "--for-profile", "stub"]) == 0
            monkeypatch.delenv("OMNITRADE_API_KEY")  # from here on the key comes from the file
            monkeypatch.delenv("OMNITRADE_API_SECRET")
            assert main(["keys", "list"]) == 0
            assert main(["keys", "test", "main"]) == 0
            venue.hmac_keys[API_KEY] = "rotated-on-the-venue-0000000000"  # provoke a refusal
            assert main(["keys", "test", "main"]) == ExitCode.KEYS
            venue.hmac_keys[API_KEY] = SECRET

            prepare_run(argparse.Namespace(profile=None, config=None), ask=lambda _: "")
            asyncio.run(trading_session(app_dirs, venue.url))
            assert venue.requests >= 3
    finally:
        shutdown_logging()
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert API_KEY not in out.out + out.err

    written = [p for d in (app_dirs.config, app_dirs.state, app_dirs.data) for p in d.rglob("*")]
    files = [p for p in written if p.is_file()]
    names = {p.relative_to(app_dirs.config.parent).as_posix() for p in files}
    leaks = [
        f"{p}: {value[:8]}…"
        for p in files
        for value in (SECRET, API_KEY, PASSPHRASE)
        for form in forms(value)
        if form in p.read_bytes()
    ]
    assert leaks == []

    # The session really wrote what it should have: otherwise the scan proves nothing.
    for expected in (
        "config/config.toml",
        "config/keys.toml",
        "data/keys.enc",
        "state/logs/omnitrade.jsonl",
    ):
        assert expected in names, names
    log_lines = [
        json.loads(line) for line in (app_dirs.log_dir / "omnitrade.jsonl").read_text().splitlines()
    ]
    messages = [str(line["msg"]) for line in log_lines]
    assert "key added" in messages
    assert "key checked" in messages
    assert any("-1022" in m for m in messages)  # the provoked refusal
    assert any(m.startswith("order refused by risk") for m in messages)
    assert "signing with *** and ***" in messages
    assert any("***" in str(line.get("exc", "")) for line in log_lines)
