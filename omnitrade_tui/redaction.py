"""The ``Secret`` type and the registry of values that must never be written anywhere.

A ``Secret`` shows ``***`` in ``repr``/``str``/f-strings, refuses pickling and is not
encodable by msgspec or json, so it cannot reach a log line, a database row, the config file
or a crash report by accident. Every secret is also registered here, so the logging filter
(``logs.py``) can scrub its value from text that was built by hand.
"""

from __future__ import annotations

import hmac
import re
import threading
from typing import NoReturn

MASK = "***"
# Shorter strings would redact innocent text ("BTC"); real secrets are far longer.
_MIN_LEN = 8

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Remember ``value`` (and each long line of it, for PEM keys) for redaction."""
    global _pattern
    parts = {value, *(line.strip() for line in value.splitlines())}
    fresh = {p for p in parts if len(p) >= _MIN_LEN} - _values
    if not fresh:
        return
    with _lock:
        _values.update(fresh)
        # Longest first, so a value containing another is masked whole.
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None:
        return text
    return pattern.sub(MASK, text)


def registered_count() -> int:
    """How many values are registered (for tests and diagnostics)."""
    return len(_values)


class Secret:
    """A string that never shows itself: call ``reveal()`` where it is really needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The value itself: for signing and for the key store, nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
