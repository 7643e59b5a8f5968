"""The gateway's WebSocket protocol: msgpack frames, one tagged array per message.

A terminal attached to a gateway sees the same bus it would see in-process; this is the
bus carried over a socket. After the HTTP login (``POST /auth/login`` answers an access
token and a refresh token), the terminal opens ``GET /ws`` with ``Authorization: Bearer
<access token>``. Then:

* gateway -> terminal: ``Welcome`` once (who you are, what you may do, the run's facts);
  ``Events`` (a batch of ``[topic, kind, value]``); ``Reply`` to each ``Request``;
  ``Goodbye`` before the gateway closes the socket on purpose (token expired, too slow).
* terminal -> gateway: ``Subscribe``/``Unsubscribe`` (bus topic patterns), ``Request`` (a
  bus command, or a gateway operation such as ``gateway.users.list``), ``Reauth`` (a fresh
  access token before the current one expires).

msgpack rather than JSON: the values are the bus's own msgspec structs, and an event is
encoded once by the gateway and the same bytes are copied into every attached terminal's
batch (``msgspec.Raw``). Structs are ``array_like`` with a string tag, so a frame is a
small array whose first item says what it is. Each message has a sending and a receiving
twin where a field carries a bus value: the sender holds the value, the receiver keeps its
bytes (``Raw``) until it knows which type to decode them into (see ``bus.wire``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from omnitrade_tui.bus.wire import enc_hook
from omnitrade_tui.domain.instrument import Instrument

#: The protocol's version, in the Welcome; a terminal refuses a gateway it does not speak.
PROTOCOL_VERSION = 1

#: WebSocket close codes (4000-4999 are the application's).
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_TOO_SLOW = 4002
CLOSE_BAD_FRAME = 4003
CLOSE_SHUTDOWN = 4004
CLOSE_REVOKED = 4005


class _Frame(msgspec.Struct, array_like=True, tag_field="t", frozen=True):
    """Base of every frame."""


# -- terminal -> gateway ---------------------------------------------------------------------


class Subscribe(_Frame, tag="sub", frozen=True):
    """Deliver the topics matching ``pattern`` (``md.book.*``, ``exec.order``...)."""

    id: int
    pattern: str


class Unsubscribe(_Frame, tag="unsub", frozen=True):
    """Stop delivering ``pattern``."""

    id: int
    pattern: str


class RequestOut(_Frame, tag="req", frozen=True):
    """Run a command (``name`` as in ``Command.name``) or a gateway operation; the sender's
    twin, ``body`` being the command struct itself (or a plain mapping)."""

    id: int
    name: str
    kind: str
    body: Any


class RequestIn(_Frame, tag="req", frozen=True):
    """``RequestOut`` as the gateway reads it: ``body`` kept as bytes until typed."""

    id: int
    name: str
    kind: str
    body: msgspec.Raw


class Reauth(_Frame, tag="reauth", frozen=True):
    """A fresh access token for this connection (same user), before the old one expires."""

    id: int
    token: str


# -- gateway -> terminal ---------------------------------------------------------------------


class Welcome(_Frame, tag="welcome", frozen=True):
    """Who the terminal is logged in as and what the run is.

    ``refused`` maps each command name the role may not send to the sentence that says
    which role it needs; the terminal shows those keys disabled with that reason. ``venues``
    keeps the ticket to the venues the user may trade on.
    """

    protocol: int
    user: str
    role: str
    gateway: str
    profile: str
    live: bool
    watchlist: list[str]
    instruments: list[Instrument]
    fee_rate: str
    refused: dict[str, str]
    access_expires_ms: int
    server_ms: int
    #: The venues the user may trade on (qualifiers, ``""`` the first); empty: every venue.
    venues: list[str] = msgspec.field(default_factory=list)


class EventsOut(_Frame, tag="ev", frozen=True):
    """A batch of bus events, each a pre-encoded ``[topic, kind, value]`` (``Raw``)."""

    items: list[msgspec.Raw]
    dropped: int = 0


class EventsIn(_Frame, tag="ev", frozen=True):
    """``EventsOut`` as the terminal reads it."""

    items: list[tuple[str, str, msgspec.Raw]]
    dropped: int = 0


class ReplyOut(_Frame, tag="rep", frozen=True):
    """The answer to a ``Request``: ``ok`` and a value of wire kind ``kind``, or an error
    with the venue's ``code`` (if any) and, for a refusal by role, the role ``needed``."""

    id: int
    ok: bool
    kind: str = "plain"
    value: Any = None
    error: str = ""
    code: int | None = None
    needed: str | None = None


class ReplyIn(_Frame, tag="rep", frozen=True):
    """``ReplyOut`` as the terminal reads it."""

    id: int
    ok: bool
    kind: str = "plain"
    value: msgspec.Raw = msgspec.Raw(b"\xc0")  # msgpack nil
    error: str = ""
    code: int | None = None
    needed: str | None = None


class Goodbye(_Frame, tag="bye", frozen=True):
    """The gateway is about to close this connection, and why."""

    code: int
    reason: str


TerminalFrame = Subscribe | Unsubscribe | RequestIn | Reauth
GatewayFrame = Welcome | EventsIn | ReplyIn | Goodbye

encode = msgspec.msgpack.Encoder(enc_hook=enc_hook).encode
decode_terminal_frame = msgspec.msgpack.Decoder(TerminalFrame).decode
decode_gateway_frame = msgspec.msgpack.Decoder(GatewayFrame).decode


def encode_event(topic: str, kind: str, value: Any) -> msgspec.Raw:
    """One event's ``[topic, kind, value]``, encoded once for every terminal's batch."""
    return msgspec.Raw(encode((topic, kind, value)))
