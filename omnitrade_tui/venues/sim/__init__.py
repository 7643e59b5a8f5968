"""The simulated venue: matching engine, market generator, replay, Binance-compatible server."""
