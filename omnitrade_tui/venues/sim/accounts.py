"""Accounts of the simulated venue: free and locked balances per asset, exact.

Every movement of money goes through ``lock``, ``unlock``, ``credit`` and ``debit_locked``
or ``debit_free``, which refuse to go below zero, so the conservation property (the sum
over all accounts plus the fees collected never changes) holds by construction and is
checked by the property tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from omnitrade_tui.domain.decimals import ZERO
from omnitrade_tui.venues.sim.errors import insufficient_balance

# What a registered key's account starts with unless told otherwise.
DEFAULT_BALANCES = {"USDT": "100000", "BTC": "1", "ETH": "10", "SOL": "100", "BNB": "50"}


@dataclass
class Account:
    """One trading account with its fee rates (fractions, e.g. ``0.001`` for 0.1 %)."""

    account_id: int
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    can_trade: bool = True
    can_withdraw: bool = False
    keep_history: bool = True  # False for the market generator's own accounts

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """Free and locked amounts of ``asset``."""
        return self.free.get(asset, ZERO), self.locked.get(asset, ZERO)

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Add funds from outside the venue (starting balances, the demo faucet)."""
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked, or raise -2010 if it is not there."""
        if amount <= 0:
            return
        free = self.free.get(asset, ZERO)
        if free < amount:
            raise insufficient_balance()
        self.free[asset] = free - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free."""
        if amount <= 0:
            return
        locked = self.locked.get(asset, ZERO)
        assert amount <= locked, f"unlock {amount} {asset} > locked {locked}"
        self.locked[asset] = locked - amount
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def debit_locked(self, asset: str, amount: Decimal) -> None:
        """Spend locked funds (a resting order that traded)."""
        locked = self.locked.get(asset, ZERO)
        assert amount <= locked, f"debit {amount} {asset} > locked {locked}"
        self.locked[asset] = locked - amount

    def debit_free(self, asset: str, amount: Decimal) -> None:
        """Spend free funds (a taker order that was not resting)."""
        free = self.free.get(asset, ZERO)
        if amount > free:
            raise insufficient_balance()
        self.free[asset] = free - amount

    def credit(self, asset: str, amount: Decimal) -> None:
        """Receive funds (the proceeds of a trade)."""
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def assets(self) -> list[str]:
        """Every asset this account has ever held, sorted."""
        return sorted(set(self.free) | set(self.locked))
