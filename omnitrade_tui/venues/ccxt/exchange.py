"""Building a ccxt exchange client, what its answers mean to the engine, and what it cannot
promise.

ccxt's unified structures carry numbers as Python floats. ``dec`` turns one back into a
``Decimal`` through its shortest ``repr``, which gives back the venue's decimal string
exactly when that string has at most 15 significant digits (every price and quantity on
Binance spot does); past that the float has already rounded, so a ccxt venue reports
``exact_decimals=False``.

Errors: ccxt raises ``NetworkError`` for a timeout, a 5xx or a cut connection, but also for
a 429 (``RateLimitExceeded``/``DDoSProtection``). Only the first kind leaves an order's fate
unknown (``CcxtOutcomeUnknown``); a 429 means the venue did not act and is a refusal
(``CcxtRefused``), as are ccxt's ``InvalidNonce`` (a refused timestamp, also filed under
``NetworkError``) and its ``ExchangeError`` family. The venue's own code is read back
from ccxt's message where the venue put one in its JSON body (Binance's ``{"code":-2010}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro

from omnitrade_tui.domain.capabilities import VenueCapabilities
from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.domain.errors import OutcomeUnknownError

#: Options every ccxt Binance client gets here: spot only, and none of the wallet (sapi)
#: calls ``load_markets`` would otherwise make, which the simulated venue does not serve
#: and which a spot terminal does not need.
BINANCE_SPOT_OPTIONS: dict[str, Any] = {
    "defaultType": "spot",
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot"]},
    "warnOnFetchOpenOrdersWithoutSymbol": False,
}

_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_MSG = re.compile(r'"msg"\s*:\s*"((?:[^"\\]|\\.)*)"')


def dec(value: Any) -> Decimal:
    """A ccxt number (float, int, str or None) as a ``Decimal`` (None as zero)."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def open_exchange(
    exchange_id: str,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    password: str | None = None,
    options: Mapping[str, Any] | None = None,
    urls: Mapping[str, Any] | None = None,
) -> Any:
    """A ``ccxt.pro`` client of ``exchange_id`` (async REST and WebSocket in one object).

    ``password`` is the passphrase some venues (OKX, KuCoin) add to a key; ``urls``
    replaces entries of the client's ``urls['api']`` (a test venue, a regional host).
    ccxt's own rate limiter stays on.

    Raises:
        ValueError: ccxt does not know the exchange.
    """
    cls = getattr(ccxt.pro, exchange_id, None)
    if cls is None:
        raise ValueError(f"ccxt has no WebSocket client for exchange {exchange_id!r}")
    config: dict[str, Any] = {"enableRateLimit": True, "options": dict(options or {})}
    if exchange_id == "binance":
        config["options"] = {**BINANCE_SPOT_OPTIONS, **config["options"]}
    if api_key:
        config["apiKey"] = api_key
    if secret:
        config["secret"] = secret
    if password:
        config["password"] = password
    exchange = cls(config)
    if urls:
        _merge(exchange.urls["api"], urls)
    return exchange


def _merge(into: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def binance_urls(rest: str, ws_api: str, stream: str) -> dict[str, Any]:
    """``urls['api']`` entries that point ccxt's Binance spot client at another host that
    speaks Binance (the simulated venue, a testnet): ``rest`` is the ``.../api`` base,
    ``ws_api`` the WebSocket API, ``stream`` the stream base (``ws://host:port/``)."""
    v3 = rest.rstrip("/") + "/v3"
    return {
        "public": v3,
        "private": v3,
        "v3": v3,
        "ws": {"spot": stream.rstrip("/") + "/ws", "ws-api": {"spot": ws_api}},
    }


def point_binance_at(
    rest: str,
    ws_api: str,
    stream: str,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """ccxt's Binance client with every spot URL on the given host."""
    return open_exchange(
        "binance",
        api_key=api_key,
        secret=secret,
        options=options,
        urls=binance_urls(rest, ws_api, stream),
    )


def capabilities(exchange: Any, name: str = "") -> VenueCapabilities:
    """What a ccxt venue can promise: less than the native connector, and said so.

    ccxt keeps its own books and checks a sequence where the exchange has one (Binance's
    update ids; a checksum elsewhere); it does not check a silent stream against a
    snapshot, gives floats, and limits requests by its own leaky bucket.
    """
    has = exchange.has
    return VenueCapabilities(
        venue=f"ccxt:{exchange.id}",
        name=name,
        book_sequence_checked=True,
        book_silence_checked=False,
        exact_decimals=False,
        own_client_ids=True,
        user_data_before_reconcile=hasattr(
            exchange, "ensure_user_data_stream_ws_subscribe_signature"
        ),
        oco=False,
        replace=bool(has.get("editOrder")),
        venue_weights=False,
    )


class CcxtRefused(Exception):
    """The venue (or ccxt before sending) refused a request; ``code`` is the venue's own
    where its answer carried one, ``msg`` its words."""

    def __init__(self, msg: str, code: int | None = None) -> None:
        super().__init__(f"{code}: {msg}" if code is not None else msg)
        self.code = code
        self.msg = msg


class CcxtOutcomeUnknown(CcxtRefused, OutcomeUnknownError):
    """The answer was lost (timeout, 5xx, cut connection): ask the venue, never resend."""


def venue_error(exc: Exception) -> CcxtRefused:
    """What a ccxt exception means for a request: unknown outcome or a refusal."""
    text = str(exc)
    code_match = _CODE.search(text)
    msg_match = _MSG.search(text)
    code = int(code_match.group(1)) if code_match else None
    msg = text
    if msg_match:
        try:
            msg = json.loads(f'"{msg_match.group(1)}"')
        except ValueError:
            msg = msg_match.group(1)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return CcxtRefused(f"rate limited, not sent: {msg}", code if code is not None else -1003)
    if isinstance(exc, ccxt.InvalidNonce):
        # Filed under NetworkError by ccxt, but a refused timestamp or nonce (Binance's
        # -1021): the venue did not act.
        return CcxtRefused(msg, code)
    if isinstance(exc, ccxt.NetworkError):
        return CcxtOutcomeUnknown(f"answer lost: {msg}", code)
    return CcxtRefused(msg, code)
