"""Argument parsing and dispatch for ``omnitrade``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from omnitrade_tui import __version__
from omnitrade_tui.cli import history, keys, record, sim
from omnitrade_tui.cli.error_map import to_cli_error
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import prepare_run

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
    parser.set_defaults(handler=_run_app)
    subparsers = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for module in (sim, record, keys, history):
        module.register(subparsers)
    return parser


def _run_app(args: argparse.Namespace) -> int:
    prepare_run(args)
    raise CliError(
        "the terminal app is not built yet in this version (see the README's status); "
        "`omnitrade --help` lists what works",
        ExitCode.NOT_BUILT,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnitrade`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as exc:
        print(f"omnitrade: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        mapped = to_cli_error(exc)
        if mapped is None:
            raise
        print(f"omnitrade: {mapped}", file=sys.stderr)
        return int(mapped.code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
