"""The Binance spot connector: wire schemas, REST, streams, book sync, orders, user data."""
