"""The history tables, as SQLModel models.

Every table has a natural key taken from the venue (trade id, client order id, candle open
time, the book's update id...), so writing the same fact twice is a no-op: a replay, a
restart or a spill file read back never duplicates a row.

The hot tables are ``WITHOUT ROWID`` on SQLite: the natural key is the row's only B-tree,
so each insert updates one tree instead of two.

Money columns (orders, fills, balances) are exact: ``NUMERIC`` on PostgreSQL, text on
SQLite (see ``ExactDecimal``). Market-data columns are floats, as in the domain.

A table keyed by instrument keeps the instrument id in two columns, ``venue`` then
``symbol`` (``store.venue_columns``): the venue's name, ``""`` for the default venue (the
profile's first, and every row written before there were venues), and the venue's own
symbol. Its keys and indexes start with both.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` kept exactly: ``NUMERIC`` on PostgreSQL, its string form on SQLite.

    SQLite has no exact decimal type (its NUMERIC affinity turns values into floats), so
    the value is stored as text there. Accepts ``Decimal`` or a decimal string on write.
    """

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """NUMERIC without a fixed scale on PostgreSQL, text elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(asdecimal=True))
        return dialect.type_descriptor(sa.String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Normalise to ``Decimal`` (PostgreSQL) or its plain string (SQLite)."""
        if value is None:
            return None
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        return exact if dialect.name == "postgresql" else str(exact)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a ``Decimal`` back."""
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _exact(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(ExactDecimal(), nullable=nullable))


def _big(primary_key: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.BigInteger(), primary_key=primary_key, nullable=nullable))


def _venue(primary_key: bool = True) -> Any:
    """The venue of an instrument-keyed row: ``""`` is the default venue (a row written
    before venues existed has it through the server default of migration 0008)."""
    return Field(
        default="",
        primary_key=primary_key,
        max_length=32,
        sa_column_kwargs={"server_default": ""},
    )


def _row_id() -> Any:
    """An autoincrement key: INTEGER on SQLite, so it is the rowid alias (BIGINT would not
    be), BIGSERIAL on PostgreSQL."""
    return Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )


class TradeRow(SQLModel, table=True):
    """A public trade; unique per (venue, symbol, exchange trade id)."""

    __tablename__ = "trades"
    __table_args__ = {"sqlite_with_rowid": False}

    venue: str = _venue()
    symbol: str = Field(primary_key=True, max_length=32)
    trade_id: int = _big(primary_key=True)
    price: float
    qty: float
    time_ms: int = _big()
    buyer_is_maker: bool


class TradeGapRow(SQLModel, table=True):
    """Trade ids of an instrument the history lacks and the venue could not give back; unique
    per (venue, symbol, first missing id)."""

    __tablename__ = "trade_gaps"

    venue: str = _venue()
    symbol: str = Field(primary_key=True, max_length=32)
    first_id: int = _big(primary_key=True)
    last_id: int = _big()
    from_ms: int = _big()
    to_ms: int = _big()
    reason: str
    noted_ms: int = _big()


class AlertRuleRow(SQLModel, table=True):
    """An alert rule as the trader set it (the rule itself as JSON, read back whole)."""

    __tablename__ = "alert_rules"

    rule_id: str = Field(primary_key=True, max_length=32)
    body: str
    updated_ms: int = _big()


class AlertFiredRow(SQLModel, table=True):
    """One firing of an alert."""

    __tablename__ = "alert_fired"

    id: int | None = _row_id()
    time_ms: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, index=True))
    rule_id: str = Field(max_length=32)
    body: str


class QuoteRow(SQLModel, table=True):
    """Best bid and ask of the local book at a change; unique per (venue, symbol, update
    id)."""

    __tablename__ = "quotes"
    __table_args__ = {"sqlite_with_rowid": False}

    venue: str = _venue()
    symbol: str = Field(primary_key=True, max_length=32)
    update_id: int = _big(primary_key=True)
    bid_price: float | None = None
    bid_qty: float | None = None
    ask_price: float | None = None
    ask_qty: float | None = None
    event_ms: int = _big()


class CandleRow(SQLModel, table=True):
    """A closed candle; unique per (venue, symbol, interval, open time)."""

    __tablename__ = "candles"
    __table_args__ = {"sqlite_with_rowid": False}

    venue: str = _venue()
    symbol: str = Field(primary_key=True, max_length=32)
    interval: str = Field(primary_key=True, max_length=8)
    open_ms: int = _big(primary_key=True)
    close_ms: int = _big()
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int = _big()
    taker_buy_volume: float
    taker_buy_quote_volume: float


class OrderRow(SQLModel, table=True):
    """The latest known state of one of our orders; unique per client order id."""

    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_venue_symbol", "venue", "symbol"),)

    client_order_id: str = Field(primary_key=True, max_length=64)
    venue: str = _venue(primary_key=False)
    symbol: str = Field(max_length=32)
    order_id: int | None = _big(nullable=True)
    side: str = Field(max_length=8)
    type: str = Field(max_length=32)
    status: str = Field(max_length=32)
    time_in_force: str | None = Field(default=None, max_length=8)
    quantity: Decimal = _exact()
    price: Decimal | None = _exact(nullable=True)
    stop_price: Decimal | None = _exact(nullable=True)
    quote_order_qty: Decimal | None = _exact(nullable=True)
    filled_qty: Decimal = _exact()
    cum_quote_qty: Decimal = _exact()
    created_ms: int = _big()
    updated_ms: int = _big(nullable=False)
    reject_reason: str | None = None


class OrderEventRow(SQLModel, table=True):
    """One change of one order's status, in the order it was reported.

    ``event_key`` is derived from the report (order, execution type, status, filled
    quantity, venue time), so the same report written twice is one row.
    """

    __tablename__ = "order_events"

    event_key: str = Field(primary_key=True, max_length=200)
    client_order_id: str = Field(max_length=64, index=True)
    venue: str = _venue(primary_key=False)
    symbol: str = Field(max_length=32)
    execution_type: str = Field(max_length=32)
    status: str = Field(max_length=32)
    filled_qty: Decimal = _exact()
    time_ms: int = _big()
    reject_reason: str | None = None


class FillRow(SQLModel, table=True):
    """One execution of one of our orders; unique per (venue, symbol, venue trade id)."""

    __tablename__ = "fills"

    venue: str = _venue()
    symbol: str = Field(primary_key=True, max_length=32)
    trade_id: int = _big(primary_key=True)
    order_id: int = _big()
    client_order_id: str = Field(max_length=64, index=True)
    side: str = Field(max_length=8)
    price: Decimal = _exact()
    qty: Decimal = _exact()
    commission: Decimal = _exact()
    commission_asset: str = Field(max_length=16)
    is_maker: bool
    time_ms: int = _big()


class BalanceSnapshotRow(SQLModel, table=True):
    """Free and locked amount of one asset at a time; unique per (asset, time)."""

    __tablename__ = "balance_snapshots"

    asset: str = Field(primary_key=True, max_length=16)
    time_ms: int = _big(primary_key=True)
    free: Decimal = _exact()
    locked: Decimal = _exact()


class CommandJournalRow(SQLModel, table=True):
    """A command the user issued, as the bus carried it (msgspec JSON).

    ``journal_key`` is the recorder's wall-clock nanoseconds plus a sequence number,
    assigned once when the command is taken from the bus, so replays keep it unique.
    """

    __tablename__ = "command_journal"

    journal_key: str = Field(primary_key=True, max_length=48)
    name: str = Field(max_length=64)
    time_ms: int = _big()
    payload_json: str


class GatewayUserRow(SQLModel, table=True):
    """A person who may attach to the gateway: role and argon2id password hash."""

    __tablename__ = "gateway_users"

    username: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=512)
    created_ms: int = _big()
    updated_ms: int = _big()
    disabled: bool = False
    #: The venues the user may trade on (``first,kraken``; empty: every venue).
    venues: str = Field(default="", max_length=512, sa_column_kwargs={"server_default": ""})


class GatewayRefreshTokenRow(SQLModel, table=True):
    """One refresh token, stored only as its SHA-256; ``family`` links a login's rotations.

    ``used_ms`` is set when the token is exchanged (each token works once); ``revoked_ms``
    when its family is revoked (logout, reuse detected, user removed).
    """

    __tablename__ = "gateway_refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    family: str = Field(max_length=64, index=True)
    username: str = Field(max_length=64, index=True)
    issued_ms: int = _big()
    expires_ms: int = _big()
    used_ms: int | None = _big(nullable=True)
    revoked_ms: int | None = _big(nullable=True)


class GatewayAuditRow(SQLModel, table=True):
    """One entry of the gateway's audit log: who did what, from where, and how it ended."""

    __tablename__ = "gateway_audit"

    # An integer primary key is SQLite's rowid alias (autoincrement); BIGINT would not be.
    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    time_ms: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, index=True))
    username: str = Field(max_length=64)
    address: str = Field(max_length=128)
    action: str = Field(max_length=64)
    detail: str
    outcome: str = Field(max_length=16)


class GatewayChangeRow(SQLModel, table=True):
    """One counter, raised in the same transaction as every change to the gateway's users
    or sessions: a running gateway polls it to learn of changes made by another process."""

    __tablename__ = "gateway_changes"

    id: int = Field(primary_key=True)
    counter: int = _big()


METADATA = SQLModel.metadata
TRADES = METADATA.tables["trades"]
TRADE_GAPS = METADATA.tables["trade_gaps"]
QUOTES = METADATA.tables["quotes"]
CANDLES = METADATA.tables["candles"]
ORDERS = METADATA.tables["orders"]
ORDER_EVENTS = METADATA.tables["order_events"]
FILLS = METADATA.tables["fills"]
BALANCES = METADATA.tables["balance_snapshots"]
COMMANDS = METADATA.tables["command_journal"]
GATEWAY_USERS = METADATA.tables["gateway_users"]
GATEWAY_REFRESH_TOKENS = METADATA.tables["gateway_refresh_tokens"]
GATEWAY_AUDIT = METADATA.tables["gateway_audit"]
ALERT_RULES = METADATA.tables["alert_rules"]
ALERT_FIRED = METADATA.tables["alert_fired"]
GATEWAY_CHANGES = METADATA.tables["gateway_changes"]

#: The high-volume tables: written as plain tuples (executemany on SQLite, COPY on
#: PostgreSQL), never through the ORM.
HOT_TABLES = ("trades", "quotes", "candles")
