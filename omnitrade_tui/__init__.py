"""OmniTrade TUI: a keyboard-driven terminal trading client for Binance spot."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omnitrade-tui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
