"""What a venue connection can promise, so the screen can say where a guarantee is missing.

The native Binance connector gives every guarantee below; a venue reached through a
general library (ccxt) may not, and the screen marks that venue instead of implying it.
"""

from __future__ import annotations

import msgspec


class VenueCapabilities(msgspec.Struct, frozen=True, kw_only=True):
    """One venue connection's guarantees (each ``True`` where the native connector has it).

    ``book_sequence_checked``: every depth diff is checked against the previous update id
    and a gap is seen (the book goes ``STALE`` and resyncs), not silently applied.
    ``book_silence_checked``: a silent depth stream is checked against a REST snapshot.
    ``exact_decimals``: prices and quantities reach the engine as the venue's decimal
    strings, not through binary floats.
    ``own_client_ids``: orders carry our client order ids, so a lost answer is settled by
    asking about that id.
    ``user_data_before_reconcile``: the user-data subscription is confirmed before each
    reconciliation starts, so nothing falls between them.
    ``oco``, ``replace``: OCO lists and atomic cancel-replace are available.
    ``venue_weights``: the rate limit shown is the venue's own counter (from its
    responses), not a client-side estimate.
    ``venue`` names the connection (``binance``, ``ccxt:kraken``).
    """

    venue: str
    #: The venue's qualifier in the run (its ids end in ``@name``; ``""``: the first).
    name: str = ""
    book_sequence_checked: bool = True
    book_silence_checked: bool = True
    exact_decimals: bool = True
    own_client_ids: bool = True
    user_data_before_reconcile: bool = True
    oco: bool = True
    replace: bool = True
    venue_weights: bool = True

    def missing(self) -> list[str]:
        """The guarantees this venue lacks, as short phrases for the screen."""
        phrases = {
            "book_sequence_checked": "book gaps unchecked",
            "book_silence_checked": "silent book unchecked",
            "exact_decimals": "prices via floats",
            "own_client_ids": "no client order ids",
            "user_data_before_reconcile": "reconcile may race the user stream",
            "oco": "no OCO",
            "replace": "no cancel-replace",
            "venue_weights": "rate limit estimated by the client",
        }
        return [text for name, text in phrases.items() if not getattr(self, name)]

    def notice(self) -> str:
        """One line for the screen: the venue and what it lacks (empty when nothing)."""
        missing = self.missing()
        if not missing:
            return ""
        where = f"@{self.name}" if self.name else "the first venue"
        return f"{where} via {self.venue}: {', '.join(missing)}"
