"""Typed errors of the lower layers, mapped to one line and a distinct exit code.

The config and key-store modules know nothing of the CLI; this table is where their
failures become ``CliError`` s.
"""

from __future__ import annotations

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import (
    ConfigError,
    FlagError,
    LiveNotConfirmedError,
    UnknownProfileError,
)
from omnitrade_tui.secrets import KeyStoreError, VenueUnreachableError
from omnitrade_tui.store.errors import StoreError

#: First match wins: a subclass comes before its base.
_CODES: list[tuple[type[BaseException], ExitCode]] = [
    (UnknownProfileError, ExitCode.PROFILE),
    (FlagError, ExitCode.USAGE),
    (ConfigError, ExitCode.CONFIG),
    (LiveNotConfirmedError, ExitCode.LIVE_NOT_CONFIRMED),
    (KeyStoreError, ExitCode.KEYS),
    (VenueUnreachableError, ExitCode.VENUE_UNREACHABLE),
    (StoreError, ExitCode.DATABASE),
]


def to_cli_error(exc: BaseException) -> CliError | None:
    """The ``CliError`` for a known failure, or ``None`` for a bug."""
    for error, code in _CODES:
        if isinstance(exc, error):
            return CliError(str(exc), code)
    return None
