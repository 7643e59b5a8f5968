"""Binance-style errors raised by the simulated venue: a code, a message, an HTTP status."""

from __future__ import annotations


class SimError(Exception):
    """A request the venue refuses, with Binance's error code and message."""

    def __init__(
        self, code: int, msg: str, status: int = 400, data: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data
        self.retry_after_s: int | None = None  # sent as Retry-After (-1015's wait)

    def body(self) -> dict[str, object]:
        """The JSON error body Binance sends: ``{"code": ..., "msg": ...}``, with the
        ``data`` a cancel-replace's failure carries."""
        out: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def insufficient_balance() -> SimError:
    """-2010 for an order the account cannot pay for."""
    return SimError(-2010, "Account has insufficient balance for requested action.")


def unknown_order() -> SimError:
    """-2011 for a cancel of an order that is not open."""
    return SimError(-2011, "Unknown order sent.")


def no_such_order() -> SimError:
    """-2013 for a query of an order that never existed."""
    return SimError(-2013, "Order does not exist.")


def bad_symbol() -> SimError:
    """-1121 for a symbol the venue does not list."""
    return SimError(-1121, "Invalid symbol.")
