"""Venues: one package per venue. ``binance`` is the connector, ``sim`` the simulated venue."""
