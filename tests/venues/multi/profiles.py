"""The config of a run of two venues: the simulated venue (native connector) and a second
simulated venue ``alt`` reached through ccxt, with other seeds."""

from __future__ import annotations

from pathlib import Path

from omnitrade_tui.config import Overrides, Settings, load_settings

TWO_VENUES = """
[ui]
watchlist = ["BTCUSDT", "ETHUSDT", "BTCUSDT@alt", "ETHUSDT@alt"]

[profiles.sim.venues.alt]
kind = "ccxt"
exchange = "binance"
simulated = true
seed = 11
"""


def two_venue_settings(tmp_path: Path, text: str = TWO_VENUES) -> Settings:
    """Profile ``sim`` with a second simulated venue ``alt`` reached through ccxt."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(text)
    return load_settings(
        Overrides(),
        env={
            "OMNITRADE_CONFIG_DIR": str(config),
            "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
            "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
            "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}",
        },
    )


#: A profile whose own venue is reached through ccxt (no native connector at all), with a
#: second ccxt venue beside it.
CCXT_ONLY = """
profile = "ccxtsim"

[ui]
watchlist = ["BTCUSDT", "ETHUSDT", "BTCUSDT@alt"]

[profiles.ccxtsim]
venue = "ccxt"
exchange = "binance"
simulated = true
seed = 4

[profiles.ccxtsim.venues.alt]
exchange = "binance"
simulated = true
seed = 11
"""
