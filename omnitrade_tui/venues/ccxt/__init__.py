"""A venue reached through ccxt: any exchange ccxt supports, on its async REST and its
WebSocket ``watch_*`` methods (``ccxt.pro``).

Data and execution are apart, as in the native Binance connector: ``instruments`` maps
``load_markets`` onto the domain's filters, ``market_data`` publishes books, trades and
candles, ``execution`` is the order manager's ``ExecutionPort`` and ``user_data`` turns
``watch_orders``/``watch_my_trades``/``watch_balance`` into the same bus events as the
native user-data stream. ``exchange`` builds the ccxt client and says what ccxt cannot
promise (``VenueCapabilities``).

Tested offline against ``omnitrade sim`` through ccxt's Binance class with its URLs pointed
at the sim (``exchange.point_binance_at``).
"""
