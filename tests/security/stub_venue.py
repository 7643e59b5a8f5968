"""A tiny Binance-shaped REST server for key tests: checks signatures the way Binance does.

It serves ``GET /api/v3/account`` and ``GET /api/v3/time``. The signature is verified over
the raw query string with the ``signature=`` pair removed (HMAC-SHA256 hex, or Ed25519
base64), and refusals use Binance's codes: -2015 for an unknown key (HTTP 401), -1022 for a
bad signature (HTTP 400), -1021 for a timestamp outside ``recvWindow`` of the venue's clock
(``clock_offset_ms`` ahead of ours). ``account_text``, when set, is answered instead of the
account (HTTP 200), as a server that is not Binance's would.
It runs on its own thread and loop, so synchronous CLI code (``asyncio.run``) can call it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass
class StubVenue:
    """Registered keys: API key -> HMAC secret (str) or Ed25519 public key."""

    hmac_keys: dict[str, str] = field(default_factory=dict)
    ed25519_keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    can_withdraw: bool = False
    can_trade: bool = True
    requests: int = 0
    clock_offset_ms: int = 0
    time_requests: int = 0
    account_text: str | None = None
    url: str = ""

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    async def time(self, request: web.Request) -> web.Response:
        self.time_requests += 1
        return web.json_response({"serverTime": self.now_ms()})

    def _verify(self, api_key: str, payload: str, signature: str) -> bool:
        if api_key in self.hmac_keys:
            want = hmac.new(
                self.hmac_keys[api_key].encode(), payload.encode(), hashlib.sha256
            ).hexdigest()
            return hmac.compare_digest(want, signature.lower())
        try:
            self.ed25519_keys[api_key].verify(base64.b64decode(signature), payload.encode())
        except (InvalidSignature, ValueError):
            return False
        return True

    async def account(self, request: web.Request) -> web.Response:
        self.requests += 1
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if api_key not in self.hmac_keys and api_key not in self.ed25519_keys:
            return web.json_response(
                {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
                status=401,
            )
        raw = request.raw_path.partition("?")[2]
        pairs = raw.split("&")
        sig = [p for p in pairs if p.startswith("signature=")]
        payload = "&".join(p for p in pairs if not p.startswith("signature="))
        if len(sig) != 1 or not self._verify(api_key, payload, unquote(sig[0][10:])):
            return web.json_response(
                {"code": -1022, "msg": "Signature for this request is not valid."}, status=400
            )
        query = parse_qs(payload)
        window = int(query.get("recvWindow", ["5000"])[0])
        if abs(self.now_ms() - int(query.get("timestamp", ["0"])[0])) > window:
            return web.json_response(
                {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
                status=400,
            )
        if self.account_text is not None:
            return web.Response(text=self.account_text, content_type="text/html")
        return web.json_response(
            {
                "canTrade": self.can_trade,
                "canWithdraw": self.can_withdraw,
                "canDeposit": True,
                "accountType": "SPOT",
                "balances": [],
                "permissions": ["SPOT"],
            }
        )


@contextmanager
def run_stub(venue: StubVenue) -> Iterator[StubVenue]:
    """Serve ``venue`` on a loopback port on a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_get("/api/v3/account", venue.account)
        app.router.add_get("/api/v3/time", venue.time)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        venue.url = f"http://127.0.0.1:{port}"
        runner_box.append(runner)
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert started.wait(10), "stub venue did not start"
    try:
        yield venue
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
