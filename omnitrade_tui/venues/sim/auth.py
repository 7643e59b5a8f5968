"""API keys of the simulated venue and Binance's request-signature rules.

REST signs the raw, still percent-encoded query string followed by the raw body, with the
``signature`` pair removed (reference §5.2). The WebSocket API signs its params sorted by
name as ``k=v&...`` without percent-encoding (§5.3). HMAC-SHA256 signatures are hex and
compared case-insensitively; Ed25519 signatures are base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from omnitrade_tui.venues.sim.errors import SimError
from omnitrade_tui.venues.sim.params import recv_window

_KEY_RE = re.compile(r"^[A-Za-z0-9]{16,128}$")
_SIGNATURE_PAIR = re.compile(r"(^|&)signature=[^&]*")
_TIMESTAMP = re.compile(r"[0-9]{1,17}")  # milliseconds or microseconds, ASCII digits


@dataclass(frozen=True)
class ApiKey:
    """A registered key: HMAC (``secret``) or Ed25519 (``public_key``), and its account."""

    api_key: str
    account_id: int
    secret: str | None = None
    public_key: Ed25519PublicKey | None = None
    public_pem: str | None = None  # kept to save the key with --state

    def verify(self, payload: str, signature: str) -> bool:
        """Whether ``signature`` signs ``payload`` with this key (False for any signature
        that is not ASCII: ``compare_digest`` raises on those)."""
        if not signature.isascii():
            return False
        # A payload can hold lone surrogates (undecodable percent-escapes); no valid
        # signature covers them, and they must not raise.
        data = payload.encode("utf-8", "surrogatepass")
        if self.secret is not None:
            expected = hmac.new(self.secret.encode(), data, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        if self.public_key is not None:
            try:
                raw = base64.b64decode(signature, validate=True)
                self.public_key.verify(raw, data)
            except (InvalidSignature, binascii.Error, ValueError):
                return False
            return True
        return False


def generate_key_pair() -> tuple[str, str]:
    """A fresh demo API key and HMAC secret (64 alphanumerics each, as Binance issues)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return (
        "".join(secrets.choice(alphabet) for _ in range(64)),
        "".join(secrets.choice(alphabet) for _ in range(64)),
    )


def load_ed25519_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """Parse an Ed25519 public key in PEM form; ``ValueError`` for anything else."""
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


class KeyRing:
    """The venue's registered API keys."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    def add(self, key: ApiKey) -> None:
        """Register a key (replacing one with the same name)."""
        if not _KEY_RE.match(key.api_key):
            raise ValueError("an API key is 16 to 128 letters and digits")
        self._keys[key.api_key] = key

    def revoke(self, api_key: str) -> None:
        """Forget a key: requests with it get -2015 from now on."""
        self._keys.pop(api_key, None)

    def all(self) -> list[ApiKey]:
        """Every registered key."""
        return list(self._keys.values())

    def lookup(self, api_key: str | None) -> ApiKey:
        """The key named by the ``X-MBX-APIKEY`` header or ``apiKey`` param.

        Raises:
            SimError: -2014 (malformed) or -2015 (unknown), both HTTP 401.
        """
        if not api_key or not _KEY_RE.match(api_key):
            raise SimError(-2014, "API-key format invalid.", 401)
        key = self._keys.get(api_key)
        if key is None:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key


def rest_payload(query_string: str, body: str) -> str:
    """The REST signature payload: raw query then raw body, the signature pair removed."""
    query = _SIGNATURE_PAIR.sub("", query_string).lstrip("&")
    body = _SIGNATURE_PAIR.sub("", body).lstrip("&")
    return query + body


def ws_payload(params: dict[str, Any]) -> str:
    """The WebSocket-API signature payload: params but ``signature``, sorted, ``k=v&...``."""
    return "&".join(f"{k}={_ws_value(v)}" for k, v in sorted(params.items()) if k != "signature")


def _ws_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_timestamp(params: dict[str, str], server_ms: int) -> None:
    """Binance's timing rule: ``timestamp < server + 1000`` and ``server - timestamp <=
    recvWindow`` (default 5000, in (0, 60000]).

    Raises:
        SimError: -1102 without a timestamp (or a malformed one), -1100 or -1131 for a
            recvWindow that is not a number in range, -1021 outside the window.
    """
    raw = params.get("timestamp", "")
    if not _TIMESTAMP.fullmatch(raw):
        raise SimError(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    timestamp = int(raw)
    window = recv_window(params)
    if timestamp > 10**14:  # microseconds
        timestamp //= 1000
    if timestamp >= server_ms + 1000:
        raise SimError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - timestamp > window:
        raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.")
