"""What a terminal may put into the engine: the shape of a frame, the values of a command.

The gateway is the engine's only door for people who are not on the box, and the engine
trusts what comes in on its bus: a symbol becomes part of the venue's stream URL, a client
order id part of a REST query. So every command from a terminal is checked here before it
reaches the bus:

* a frame's msgpack is walked (without building anything) for its nesting depth and its
  number of values before it is decoded, so neither a 100,000-deep array (which would raise
  ``RecursionError`` deep inside the decoder) nor a frame of a million tiny values costs
  more than a bounded walk;
* every ``symbol`` must be one the venue lists (``exchangeInfo``), every client order id
  must be what Binance accepts, every interval a known one, every ``limit`` in range,
  every decimal finite and every free text short.

Anything refused raises ``Refused``, whose message is written for the person who sent it and
is safe to send back (it never quotes more than a short, escaped head of their input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from omnitrade_tui.domain.candles import INTERVAL_MS
from omnitrade_tui.domain.commands import AnyCommand
from omnitrade_tui.escape import shown

#: What Binance accepts as ``newClientOrderId`` / ``listClientOrderId``.
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_CLIENT_ID_FIELDS = frozenset({"client_order_id", "new_client_order_id", "list_client_order_id"})
_MAX_TEXT = 256
_MAX_MAPPING = 64
_MAX_KEY = 32
_MAX_LIMIT = 1000


class Refused(ValueError):
    """Input the gateway does not pass on; the message says what and is safe to send."""


@dataclass(frozen=True)
class InputLimits:
    """Per-user and per-frame bounds on what a terminal may send.

    ``max_symbols_per_user`` counts the symbols a user added to what the gateway follows
    (the listed watchlist is free); ``max_symbols`` bounds them for the whole gateway, which
    keeps the engine's stream URL and its control messages far from the venue's limits.
    """

    max_frame_bytes: int = 16_384
    max_depth: int = 16
    max_values: int = 2_048
    max_patterns: int = 64
    max_pattern_len: int = 128
    max_tasks_per_user: int = 8
    max_symbols_per_user: int = 8
    max_symbols: int = 64


# Bytes that follow a msgpack type byte (after the byte itself), for the scalar types that
# are not "fix" types: 0xc4.. (bin, ext, float, int, str) as (length-prefix size, fixed size).
_SIZED: dict[int, tuple[int, int]] = {
    0xC4: (1, 0),
    0xC5: (2, 0),
    0xC6: (4, 0),
    0xC7: (1, 1),
    0xC8: (2, 1),
    0xC9: (4, 1),
    0xCA: (0, 4),
    0xCB: (0, 8),
    0xCC: (0, 1),
    0xCD: (0, 2),
    0xCE: (0, 4),
    0xCF: (0, 8),
    0xD0: (0, 1),
    0xD1: (0, 2),
    0xD2: (0, 4),
    0xD3: (0, 8),
    0xD4: (0, 2),
    0xD5: (0, 3),
    0xD6: (0, 5),
    0xD7: (0, 9),
    0xD8: (0, 17),
    0xD9: (1, 0),
    0xDA: (2, 0),
    0xDB: (4, 0),
}
# Containers with a length prefix: (prefix size, values per entry).
_CONTAINERS: dict[int, tuple[int, int]] = {
    0xDC: (2, 1),
    0xDD: (4, 1),
    0xDE: (2, 2),
    0xDF: (4, 2),
}


def check_shape(data: bytes, max_depth: int, max_values: int) -> None:
    """Raise ``Refused`` if the msgpack ``data`` nests deeper than ``max_depth`` or holds
    more than ``max_values`` values (or is cut short). Walks headers only: strings and
    binaries are skipped by their length, nothing is built."""
    pos = 0
    end = len(data)
    left = [1]  # values still to read at each open level
    values = 0
    try:
        while left:
            if left[-1] == 0:
                left.pop()
                continue
            left[-1] -= 1
            b = data[pos]
            pos += 1
            values += 1
            if values > max_values:
                raise Refused(f"the frame holds more than {max_values} values")
            count = -1
            if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
                continue
            if b <= 0x8F:
                count = 2 * (b & 0x0F)
            elif b <= 0x9F:
                count = b & 0x0F
            elif b <= 0xBF:
                pos += b & 0x1F
            elif b in _CONTAINERS:
                size, per = _CONTAINERS[b]
                count = per * int.from_bytes(data[pos : pos + size], "big")
                pos += size
            elif b in _SIZED:
                size, fixed = _SIZED[b]
                length = int.from_bytes(data[pos : pos + size], "big") if size else 0
                pos += size + fixed + length
            else:
                raise Refused("the frame is not msgpack")
            if count >= 0:
                if len(left) > max_depth:
                    raise Refused(f"the frame nests deeper than {max_depth} levels")
                left.append(count)
            if pos > end:
                raise IndexError(pos)
    except IndexError:
        raise Refused("the frame is cut short") from None


class CommandInput:
    """Checks a decoded command's values against what the venue lists (see the module
    docstring)."""

    def __init__(self, listed: frozenset[str]) -> None:
        self.listed = listed

    def check(self, command: AnyCommand) -> None:
        """Raise ``Refused`` for the first value the engine must not be given."""
        self._walk(command)

    def check_symbol(self, symbol: str) -> None:
        """Raise ``Refused`` unless ``symbol`` is one the venue lists."""
        if symbol not in self.listed:
            raise Refused(f"{shown(symbol[:40])} is not a symbol this venue lists")

    def _walk(self, value: msgspec.Struct) -> None:
        for field in msgspec.structs.fields(type(value)):
            self._value(field.name, getattr(value, field.name))

    def _value(self, name: str, value: Any) -> None:
        if value is None or (isinstance(value, bool | int) and name != "limit"):
            return
        if isinstance(value, msgspec.Struct):
            self._walk(value)
        elif name == "symbol":
            self.check_symbol(value)
        elif name in _CLIENT_ID_FIELDS:
            if not _CLIENT_ID.match(value):
                raise Refused(
                    f"{name} {shown(value[:40])} is not a valid client order id "
                    "(1 to 36 of A-Z a-z 0-9 . : / _ -)"
                )
        elif name == "interval":
            if value not in INTERVAL_MS:
                raise Refused(f"{shown(value[:20])} is not a candle interval")
        elif name == "limit":
            if not 1 <= value <= _MAX_LIMIT:
                raise Refused(f"limit must be 1 to {_MAX_LIMIT}")
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise Refused(f"{name} must be a finite number")
        elif isinstance(value, str):
            if len(value) > _MAX_TEXT:
                raise Refused(f"{name} is longer than {_MAX_TEXT} characters")
        elif isinstance(value, dict):
            if len(value) > _MAX_MAPPING:
                raise Refused(f"{name} has more than {_MAX_MAPPING} entries")
            for key, item in value.items():
                if isinstance(key, str) and len(key) > _MAX_KEY:
                    raise Refused(f"a key of {name} is longer than {_MAX_KEY} characters")
                self._value(f"{name}[]", item)
