"""Argument parsing and dispatch for ``omnitrade``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from omnitrade_tui import __version__
from omnitrade_tui.cli import attach, config, gateway, history, keys, record, sim
from omnitrade_tui.cli.app import run_app
from omnitrade_tui.cli.error_map import to_cli_error
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import AppDirs
from omnitrade_tui.logs import configure_logging
from omnitrade_tui.redaction import redact

Handler = Callable[[argparse.Namespace], int]

_DESCRIPTION = """\
A keyboard-driven terminal trading client for Binance spot.

With no subcommand, starts the terminal app. Out of the box (profile "sim") it trades
against the built-in simulated venue: no keys and no network needed.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full ``omnitrade`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="omnitrade",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omnitrade {__version__}")
    parser.add_argument(
        "--profile",
        default=None,
        help="profile to run: sim (default), testnet, demo, live, or one from the config file",
    )
    parser.add_argument(
        "--config", default=None, help="config file to read instead of the platform default"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port (off unless given)",
    )
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        default=None,
        help="level of the JSON log in the state directory (default INFO)",
    )
    for flag, what in (
        ("--rest-url", "REST base, e.g. https://testnet.binance.vision"),
        ("--ws-api-url", "WebSocket API, e.g. wss://ws-api.testnet.binance.vision/ws-api/v3"),
        ("--stream-url", "market streams base, e.g. wss://stream.testnet.binance.vision"),
    ):
        parser.add_argument(
            flag, default=None, help=f"{what}; overrides the profile's (alone: profile custom)"
        )
    parser.set_defaults(handler=run_app)
    subparsers = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for module in (sim, record, keys, history, gateway, attach, config):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnitrade`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as exc:
        print(f"omnitrade: {redact(str(exc))}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        mapped = to_cli_error(exc)
        if mapped is not None:
            if logging.getLogger().handlers:  # else logging's last resort would print it twice
                logging.getLogger("omnitrade_tui.cli").warning(
                    "%s", mapped, extra={"exit": int(mapped.code)}
                )
            print(f"omnitrade: {redact(str(mapped))}", file=sys.stderr)
            return int(mapped.code)
        if os.environ.get("OMNITRADE_DEBUG"):
            raise
        # A bug: the traceback goes to the (redacting) log file, one line to the terminal.
        if not logging.getLogger().handlers:
            configure_logging(AppDirs.from_env().log_dir)
        logging.getLogger("omnitrade_tui.cli").exception("unexpected error")
        print(
            f"omnitrade: unexpected error (a bug, please report it): "
            f"{type(exc).__name__}: {redact(str(exc))}; the traceback is in the log file "
            "(OMNITRADE_DEBUG=1 shows it here)",
            file=sys.stderr,
        )
        return int(ExitCode.ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
