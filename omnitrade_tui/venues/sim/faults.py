"""Fault injection switches of the simulated venue, shared by its flag (``--faults``),
its control endpoint (``POST /sim/faults``) and tests; no server code, so the command line
can list and check them without loading the venue."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

MAX_FAULT = 1_000_000  # seconds, milliseconds or counts: more is a typo, not a drill


@dataclass
class Faults:
    """Fault injection switches, set by flags or through ``POST /sim/faults``.

    ``gap_every_s``: skip one depth frame every N seconds (a sequence gap);
    ``close_every_s``: close every stream connection every N seconds;
    ``delay_ms``: hold every stream frame back this long;
    ``fail_orders``: answer the next N accepted orders with HTTP 503 (outcome unknown);
    ``throttle``: answer the next N REST requests with 429 and ``Retry-After``;
    ``max_connection_s``: close stream connections older than this (a short "24 h");
    ``retry_after_s``: the ``Retry-After`` of a throttled answer (0: until the minute ends);
    ``stall_s``: every stream goes silent for this long, once (by flag: from the start;
    at run time: from then), without closing.
    """

    gap_every_s: float = 0.0
    close_every_s: float = 0.0
    delay_ms: int = 0
    fail_orders: int = 0
    throttle: int = 0
    max_connection_s: float = 0.0
    retry_after_s: int = 0
    stall_s: float = 0.0
    _last_gap: float = field(default=0.0, repr=False)
    _last_close: float = field(default=0.0, repr=False)

    @classmethod
    def names(cls) -> list[str]:
        """Every fault switch's name."""
        return [f.name for f in fields(cls) if not f.name.startswith("_")]

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``gap_every_s=30,close_every_s=60`` into faults; ``ValueError`` when malformed."""
        faults = cls()
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault {part!r}: expected NAME=VALUE, e.g. gap_every_s=30")
            faults.set(name.strip(), value.strip())
        return faults

    def set(self, name: str, value: object) -> None:
        """Set one switch from text or a JSON number.

        Raises:
            ValueError: for an unknown name (the message lists the valid ones), or a value
                that is not a finite number from 0 to ``MAX_FAULT`` (a whole one for counts).
        """
        if name not in self.names():
            raise ValueError(f"unknown fault {name!r}; the faults are {', '.join(self.names())}")
        kind = type(getattr(self, name))
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"fault {name}: expected a number, got {value!r:.40}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"fault {name}: {value!r:.40} is not a number") from None
        if not math.isfinite(number) or not 0 <= number <= MAX_FAULT:
            raise ValueError(f"fault {name}: {value!r:.40} is not a number from 0 to {MAX_FAULT}")
        if kind is int and not number.is_integer():
            raise ValueError(f"fault {name}: {value!r:.40} is not a whole number")
        setattr(self, name, kind(number))

    def active(self) -> dict[str, float | int]:
        """The switches and their values (the answer of ``POST /sim/faults``)."""
        return {name: getattr(self, name) for name in self.names()}
