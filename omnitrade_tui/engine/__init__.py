"""Services that live on the bus: the order book of record, order manager, risk checks and
kill switch, positions and the portfolio's value, alerts, the trading journal."""
