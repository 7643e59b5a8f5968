"""Pre-trade risk limits: a domain value the config builds, the risk gate reads and an
admin's ``SetRiskLimits`` command carries (across the gateway too).

Every limit is optional: ``None`` (or an empty mapping) means "not checked".
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The pre-trade limits one profile trades under.

    ``max_order_notional`` is in the quote asset of the order's symbol; ``max_position`` maps
    a base asset (``"BTC"``) to the largest absolute holding an order may lead to;
    ``price_band_pct`` is how far (in percent) a limit price may sit from the mid.
    """

    max_order_notional: Decimal | None = None
    max_position: dict[str, Decimal] = msgspec.field(default_factory=dict)
    price_band_pct: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None

    def merged(self, override: RiskLimits) -> RiskLimits:
        """These limits with every limit ``override`` sets replacing ours."""
        return RiskLimits(
            max_order_notional=override.max_order_notional
            if override.max_order_notional is not None
            else self.max_order_notional,
            max_position={**self.max_position, **override.max_position},
            price_band_pct=override.price_band_pct
            if override.price_band_pct is not None
            else self.price_band_pct,
            max_open_orders=override.max_open_orders
            if override.max_open_orders is not None
            else self.max_open_orders,
            max_orders_per_second=override.max_orders_per_second
            if override.max_orders_per_second is not None
            else self.max_orders_per_second,
        )
