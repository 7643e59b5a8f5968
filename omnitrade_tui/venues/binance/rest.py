"""Binance spot REST on httpx with our own signing.

Why not python-binance's AsyncClient: we need to own what happens around a request that
matters for money. A 5xx or a timeout must surface as "outcome unknown" (never a blind
retry), a -1021 must resync the clock once and retry once, the used weight must be read
from every response's ``X-MBX-USED-WEIGHT-1M`` to slow down *before* the limit, and 429/418
``Retry-After`` must park every caller until the ban ends instead of spinning. The
payload is signed exactly as sent (percent-encoded), with HMAC-SHA256 or Ed25519.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnitrade_tui.bus import Bus, topics
from omnitrade_tui.domain.errors import OutcomeUnknownError
from omnitrade_tui.domain.events import CircuitChanged, OrderHeld, RateLimitUsage
from omnitrade_tui.domain.models import Candle
from omnitrade_tui.venues.binance.schemas import klines_decoder

# How close to the weight limit we start pacing requests, as a share of the limit.
_SLOW_DOWN_AT = 0.8
_RETRY_MARGIN_S = 0.05
# A request that would take the minute's weight past this share of the limit waits.
_HOLD_AT = 0.97
# A pacing pause at least this long is announced for an order action (shorter ones are
# the ordinary spacing of requests near the limit, not a hold a trader needs to see).
_ANNOUNCE_PACING_S = 0.5
#: How long after its timestamp a signed request may reach the venue (Binance: <= 5,000).
RECV_WINDOW_MS = 5_000
# An order answered 429 is sent again when the venue allows, this many times at most, and
# only while the venue asks for at most this long (longer is a ban the trader must see).
_ORDER_RESENDS_ON_429 = 5
_ORDER_HOLD_MAX_S = 60.0


@dataclass(frozen=True)
class OrderAction:
    """The order action a request carries: named in ``OrderHeld`` events on ``exec.held``
    while the rate-limit governor holds it, so no order waits silently."""

    action: str  # "place", "cancel", "replace", "cancel_all"
    symbol: str
    client_order_id: str


def _weight_of(method: str, path: str, params: dict[str, Any]) -> int:
    """The request weight Binance charges for the calls we make (1 when not listed)."""
    if method != "GET":
        return 1
    if path == "openOrders":
        return 6 if "symbol" in params else 80
    return _GET_WEIGHTS.get(path, 1)


_GET_WEIGHTS = {
    "exchangeInfo": 20,
    "order": 4,
    "account": 20,
    "myTrades": 20,
    "klines": 2,
    "trades": 25,
    "historicalTrades": 25,
}


def _depth_weight(limit: int) -> int:
    """``GET /api/v3/depth``'s request weight by ``limit`` (Binance's table)."""
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


class CircuitBreaker:
    """Fails fast after ``threshold`` consecutive failures, for ``cooldown_s``, then lets one
    trial request through; its state changes are published on ``sys.circuit``.

    Failures are what says the venue is unwell (no answer, a 5xx, a broken connection),
    never a refusal of a bad request.
    """

    def __init__(self, bus: Bus | None, threshold: int = 5, cooldown_s: float = 10.0) -> None:
        self.bus = bus
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.state = "closed"
        self._open_until = 0.0

    def before(self) -> None:
        """Raise ``CircuitOpen`` while open; move to half-open when the cooldown is over."""
        if self.state == "open":
            left = self._open_until - time.monotonic()
            if left > 0:
                raise CircuitOpen(
                    0,
                    None,
                    f"venue requests paused for {left:.1f}s after "
                    f"{self.failures} failures in a row",
                )
            self._set("half_open", "trying one request")

    def success(self) -> None:
        """A request got an answer."""
        if self.state != "closed" or self.failures:
            self.failures = 0
            if self.state != "closed":
                self._set("closed", "the venue answers again")

    def failure(self, detail: str) -> None:
        """A request got no usable answer."""
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self._open_until = time.monotonic() + self.cooldown_s
            self._set("open", detail)

    def _set(self, state: str, detail: str) -> None:
        self.state = state
        if self.bus is not None:
            self.bus.publish(
                topics.CIRCUIT,
                CircuitChanged(
                    venue="binance",
                    state=state,
                    failures=self.failures,
                    retry_in_s=max(0.0, self._open_until - time.monotonic()),
                    detail=detail,
                ),
            )


class BinanceError(Exception):
    """The venue refused a request: Binance's code and message, and a sentence for traders."""

    def __init__(
        self, status: int, code: int | None, msg: str, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        # What some refusals carry beside code and msg (a cancel-replace's two halves).
        self.data = data

    @property
    def explanation(self) -> str:
        """What the refusal means for the person who sent the order."""
        return _EXPLAIN.get(self.code or 0, self.msg)


class OutcomeUnknown(BinanceError, OutcomeUnknownError):
    """A timeout or a 5xx: the request may or may not have been executed. Ask, never resend."""


class CircuitOpen(BinanceError):
    """Requests are paused: the venue failed too often in a row (nothing was sent)."""


class _HeldBack(Exception):
    """A request reached the wire while a ``Retry-After`` that began after it left the
    governor was running (it was queued for a connection); it was not sent."""


class RateLimited(BinanceError):
    """429 or 418: every request waits until ``retry_at`` (monotonic seconds)."""

    def __init__(self, status: int, code: int | None, msg: str, retry_after_s: float) -> None:
        super().__init__(status, code, msg)
        self.retry_after_s = retry_after_s


_EXPLAIN = {
    -1013: "the order breaks one of the symbol's filters (price tick, lot size or value)",
    -1021: "our clock and the venue's disagree; the request was refused, nothing was sent",
    -1022: "the request's signature is wrong: check the API secret",
    -2010: "the venue refused the order (balance, a maker order that would take, or a stop "
    "that would trigger at once)",
    -2011: "the order to cancel is not open any more (filled, cancelled or unknown)",
    -2013: "the venue knows no such order",
    -2014: "the API key is malformed",
    -2015: "the API key is wrong, revoked, or lacks the permission for this",
    -1003: "too many requests: the venue asks us to wait",
    -1015: "too many new orders in a short time: the venue asks us to wait",
}


@dataclass(frozen=True)
class Credentials:
    """An API key with its HMAC secret or Ed25519 private key."""

    api_key: str
    secret: str | None = None
    private_key: Ed25519PrivateKey | None = None

    def sign(self, payload: str) -> str:
        """The ``signature`` of a payload: hex HMAC-SHA256 or base64 Ed25519."""
        if self.private_key is not None:
            return base64.b64encode(self.private_key.sign(payload.encode())).decode()
        if self.secret is None:
            raise ValueError("credentials without a secret or a private key cannot sign")
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key[:6]}..., secret=***)"


class BinanceRest:
    """Signed and unsigned REST calls with clock sync and a rate-limit governor.

    Args:
        base_url: the REST base, e.g. ``https://api.binance.com/api`` (``/v3/...`` appended).
        credentials: needed for signed endpoints only.
        bus: where rate-limit use is published (``sys.ratelimit``), when given.
        timeout_s: the request timeout; its expiry is an ``OutcomeUnknown``.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        bus: Bus | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.bus = bus
        self.clock = clock
        self.offset_ms = 0
        self.weight_used = 0
        self.weight_limit = 6000
        self._blocked_until = 0.0
        self.rate_limited = 0
        self.held = 0
        self.held_back = 0
        self._weight_minute = 0
        # After a Retry-After the venue's window has reset: the first caller through
        # forgets the count the 429 reported (the next answer's header gives the new one).
        self._forget_weight_after_block = False
        self._probe: asyncio.Future[None] | None = None
        self.circuit = CircuitBreaker(bus)
        # The 429/418 check runs as a response hook, on the headers: the body is read after
        # it, and that read yields to the loop, where another caller would otherwise pass
        # the governor and send before this one had parked everybody.
        self._http = httpx.AsyncClient(
            timeout=timeout_s, event_hooks={"response": [self._on_response]}
        )

    async def aclose(self) -> None:
        """Close the connection pool (and stop a weight probe waiting for a ban to end)."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self._http.aclose()

    def now_ms(self) -> int:
        """Our estimate of the venue's clock."""
        return int(self.clock() * 1000) + self.offset_ms

    async def sync_time(self) -> int:
        """Measure the venue's clock offset (half the round trip assumed each way)."""
        before = self.clock()
        data = await self.request("GET", "time")
        after = self.clock()
        self.offset_ms = int(data["serverTime"] - (before + after) / 2 * 1000)
        return self.offset_ms

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        signed: bool = False,
        *,
        action: OrderAction | None = None,
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Any:
        """Call ``/v3/<path>``; the decoded JSON answer. ``action`` names the order action
        the request carries, announced on ``exec.held`` if the governor holds it;
        ``decoder`` (a typed schema) decodes a successful answer straight from its bytes.

        An order ``action`` answered 429 is sent again once the venue's ``Retry-After`` is
        over (the governor holds it meanwhile and says so on ``exec.held``): a 429 means the
        venue did not take the request, and the order keeps its client id, so the trader's
        order goes as soon as the venue allows instead of coming back refused. A 418 (a ban)
        or a wait past ``_ORDER_HOLD_MAX_S`` is the trader's to decide: it is raised.

        Raises:
            BinanceError: the venue refused (with its code).
            RateLimited: 429/418 (later callers wait for ``Retry-After`` by themselves).
            OutcomeUnknown: a timeout or a 5xx; the request may have been executed.
        """
        resynced = False
        throttled = 0
        while True:
            try:
                return await self._once(method, path, dict(params or {}), signed, action, decoder)
            except RateLimited as exc:
                if (
                    action is None
                    or exc.status != 429
                    or exc.retry_after_s > _ORDER_HOLD_MAX_S
                    or throttled >= _ORDER_RESENDS_ON_429
                ):
                    raise
                throttled += 1
            except BinanceError as exc:
                if exc.code == -1021 and signed and not resynced:
                    resynced = True
                    await self.sync_time()  # one resync, one retry
                    continue
                raise

    async def _once(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        signed: bool,
        action: OrderAction | None,
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Any:
        self.circuit.before()
        try:
            result = await self._send(method, path, params, signed, action, decoder)
        except OutcomeUnknown as exc:
            self.circuit.failure(str(exc))
            raise
        except BinanceError as exc:
            if exc.status == 0:  # the venue could not be reached at all
                self.circuit.failure(str(exc))
            else:
                self.circuit.success()  # it answered, even if to refuse
            raise
        self.circuit.success()
        return result

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        signed: bool,
        action: OrderAction | None,
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Any:
        if signed and self.credentials is None:
            raise BinanceError(0, -2014, "no API key configured for a signed request")
        weight = _weight_of(method, path, params)
        while True:
            await self._governor(weight, action)
            headers = {}
            if signed and self.credentials is not None:
                params["timestamp"] = self.now_ms()  # signed as late as possible, every try
                # Binance advises 5,000 ms or less: a request delayed longer is refused (-1021,
                # nothing done) rather than executed late on a market that has moved.
                params.setdefault("recvWindow", RECV_WINDOW_MS)
                query = urlencode(params)
                query += "&signature=" + urlencode({"s": self.credentials.sign(query)})[2:]
                headers["X-MBX-APIKEY"] = self.credentials.api_key
            else:
                query = urlencode(params)
            url = f"{self.base_url}/v3/{path}" + (f"?{query}" if query else "")
            response = await self._wire(method, url, headers, weight)
            if response is not None:
                break
        status = response.status_code
        if status == 200 and decoder is not None:
            return decoder.decode(response.content)
        body: Any = None
        try:
            body = msgspec.json.decode(response.content) if response.content else None
        except msgspec.DecodeError:
            body = None
        if status == 200:
            return body
        code = body.get("code") if isinstance(body, dict) else None
        msg = (
            body.get("msg", response.text[:200]) if isinstance(body, dict) else response.text[:200]
        )
        if status in (429, 418):
            raise self._rate_limited(response, code, msg)
        if status >= 500:
            raise OutcomeUnknown(status, code, msg)
        data = body.get("data") if isinstance(body, dict) else None
        raise BinanceError(status, code, msg, data if isinstance(data, dict) else None)

    async def _wire(
        self, method: str, url: str, headers: dict[str, str], weight: int
    ) -> httpx.Response | None:
        """Send one request; None when it was held back unsent (go round the governor
        again), else the answer with its weight noted.

        Raises:
            OutcomeUnknown: a timeout, or a connection lost mid-request for a non-GET.
            BinanceError: a GET that could not reach the venue (status 0).
        """
        try:
            response = await self._http.request(
                method, url, headers=headers, extensions={"trace": self._on_trace}
            )
        except _HeldBack:
            self.held_back += 1
            self.weight_used = max(0, self.weight_used - weight)  # not spent after all
            return None
        except httpx.TimeoutException as exc:
            raise OutcomeUnknown(0, None, f"no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            if method == "GET":
                raise BinanceError(0, None, f"venue unreachable: {exc}") from exc
            raise OutcomeUnknown(0, None, f"connection failed mid-request: {exc}") from exc
        self._track_weight(response)
        return response

    async def _on_trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook, run just before a request's first byte is written: a
        request that left the governor, then waited for a connection while a 429 came in,
        is held back here rather than sent inside the ``Retry-After``."""
        if event.endswith(".send_request_headers.started") and (
            self._blocked_until > time.monotonic()
        ):
            raise _HeldBack

    async def _on_response(self, response: httpx.Response) -> None:
        """Park every caller the moment a 429/418's headers arrive (see ``__init__``)."""
        if response.status_code in (429, 418):
            self._block(response)

    def _block(self, response: httpx.Response) -> float:
        """Hold every request until ``Retry-After`` has passed (a little more: a request that
        lands a hair early counts as one more strike, and strikes lead to a 418 ban); the
        ``Retry-After`` in seconds."""
        retry = float(response.headers.get("Retry-After", "60"))
        self._blocked_until = max(self._blocked_until, time.monotonic() + retry + _RETRY_MARGIN_S)
        self._forget_weight_after_block = True
        if self.bus is not None and (self._probe is None or self._probe.done()):
            self._probe = asyncio.ensure_future(self._probe_after_block())
        return retry

    async def _probe_after_block(self) -> None:
        """Once a ``Retry-After`` is over, ask the venue for its count (a ping, weight 1),
        so the weight shown drops when the venue's does even if nothing else is sent (the
        governor holds the ping until then, like any request)."""
        with contextlib.suppress(BinanceError):
            await self.request("GET", "ping")

    def _rate_limited(self, response: httpx.Response, code: int | None, msg: str) -> RateLimited:
        """The error for a 429/418 (every caller already parked by ``_on_response``)."""
        retry = self._block(response)
        self.rate_limited += 1
        return RateLimited(response.status_code, code, msg, retry)

    async def _governor(self, weight: int = 1, action: OrderAction | None = None) -> None:
        """Wait out a ban; hold a request that would cross the weight limit until the
        venue's window turns; pace requests once the weight nears the limit. Returns only
        when no ``Retry-After`` is running: the caller then sends without awaiting anything
        else. An order ``action`` held is announced on ``exec.held`` (and its release)."""
        reserved = False
        announced = False
        released = False
        # Loop: a caller woken from any wait checks everything again (a 429 may have come
        # while it waited for the minute to turn or paced itself, and the other way round).
        # Every pass sleeps, so it never spins; it never gives up and sends inside a ban.
        try:
            while True:
                wait = self._blocked_until - time.monotonic()
                if wait > 0:
                    announced |= self._announce(action, wait, "rate limit: the venue's Retry-After")
                    await asyncio.sleep(wait)
                    continue
                if self._forget_weight_after_block:
                    # The venue said when to come back: its window has reset by then. Waiting
                    # on for the count the 429 reported would hold orders to the next minute.
                    self._forget_weight_after_block = False
                    self.weight_used = 0
                if reserved:
                    released = True
                    return
                minute = self.now_ms() // 60_000
                if minute != self._weight_minute:
                    self._weight_minute, self.weight_used = minute, 0
                if self.weight_used + weight > self.weight_limit * _HOLD_AT:
                    # Sending would earn a 429 (and repeated 429s a ban): wait for the
                    # venue's minute to turn; the next answer's header says what it counts.
                    seconds_left = 60 - (self.now_ms() / 1000) % 60 + _RETRY_MARGIN_S
                    self.held += 1
                    announced |= self._announce(action, seconds_left, "rate limit: weight")
                    await asyncio.sleep(seconds_left)
                    continue
                # Reserve the weight now: callers in flight together must not all see room
                # for themselves. Answers' headers raise the count to the venue's, never
                # lower it within the minute (an answer may predate requests in flight).
                self.weight_used += weight
                reserved = True
                if self.weight_used < self.weight_limit * _SLOW_DOWN_AT:
                    released = True
                    return
                # Spread what is left of the minute over the rest of it, instead of hitting
                # 429; then round the loop again: a Retry-After may have begun meanwhile.
                seconds_left = 60 - (self.now_ms() / 1000) % 60
                left = max(1, self.weight_limit - self.weight_used)
                pause = min(seconds_left, seconds_left / left * 4)
                if pause >= _ANNOUNCE_PACING_S:
                    announced |= self._announce(action, pause, "rate limit: pacing")
                await asyncio.sleep(pause)
        finally:
            if announced and action is not None:
                # Said either way: a hold announced is never left standing.
                outcome = "sent" if released else "not sent (given up while held)"
                self._publish_held(action, 0.0, outcome, held=False)

    def _announce(self, action: OrderAction | None, wait_s: float, reason: str) -> bool:
        """Say on ``exec.held`` that ``action`` waits ``wait_s``; whether anything was said."""
        if action is None or self.bus is None:
            return False
        self._publish_held(action, wait_s, reason, held=True)
        return True

    def _publish_held(self, action: OrderAction, wait_s: float, reason: str, held: bool) -> None:
        assert self.bus is not None
        self.bus.publish(
            topics.HELD,
            OrderHeld(
                client_order_id=action.client_order_id,
                symbol=action.symbol,
                action=action.action,
                reason=reason,
                retry_in_s=round(wait_s, 2),
                held=held,
                time_ms=int(self.clock() * 1000),
            ),
        )

    def _track_weight(self, response: httpx.Response) -> None:
        used = response.headers.get("X-MBX-USED-WEIGHT-1M") or response.headers.get(
            "x-mbx-used-weight-1m"
        )
        if used is None:
            return
        minute = self.now_ms() // 60_000
        if minute == self._weight_minute:
            self.weight_used = max(self.weight_used, int(used))
        else:
            self._weight_minute, self.weight_used = minute, int(used)
        if self.bus is not None:
            # What is shown is the venue's latest count, not our reservation: it drops as
            # soon as the venue's does.
            self.bus.publish(
                topics.RATE_LIMIT,
                RateLimitUsage(
                    venue="binance",
                    kind="REQUEST_WEIGHT",
                    interval="1m",
                    used=int(used),
                    limit=self.weight_limit,
                ),
            )

    async def exchange_info(self) -> dict[str, Any]:
        """``GET /api/v3/exchangeInfo``; also learns the request-weight limit."""
        info: dict[str, Any] = await self.request("GET", "exchangeInfo")
        for limit in info.get("rateLimits", []):
            if limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval") == "MINUTE":
                self.weight_limit = int(limit["limit"])
        return info

    async def klines(
        self, symbol: str, interval: str, limit: int = 500, end_ms: int | None = None
    ) -> list[Candle]:
        """``GET /api/v3/klines``: candles oldest first, the still-open one last (not closed)."""
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": min(limit, 1000)}
        if end_ms is not None:
            params["endTime"] = end_ms
        rows = await self.request("GET", "klines", params, decoder=klines_decoder)
        now = self.now_ms()
        return [row.to_candle(symbol, interval, now) for row in rows]

    async def depth(self, symbol: str, limit: int = 1000) -> bytes:
        """``GET /api/v3/depth`` as raw JSON bytes (decoded by the caller's typed decoder)."""
        url = f"{self.base_url}/v3/depth?{urlencode({'symbol': symbol, 'limit': limit})}"
        weight = _depth_weight(limit)
        while True:
            await self._governor(weight)
            try:
                response = await self._wire("GET", url, {}, weight)
            except BinanceError as exc:
                raise BinanceError(0, None, f"depth snapshot failed: {exc.msg}") from exc
            if response is not None:
                break
        if response.status_code in (429, 418):
            raise self._rate_limited(response, None, response.text[:200])
        if response.status_code != 200:
            raise BinanceError(response.status_code, None, response.text[:200])
        return response.content
