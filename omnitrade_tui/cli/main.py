"""Argument parsing and dispatch for ``omnitrade``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from omnitrade_tui import __version__
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.redaction import redact

Handler = Callable[[argparse.Namespace], int]

#: Every subcommand: its name, the module whose ``register(subparsers)`` adds its parser, and
#: its line in ``omnitrade --help``. The module is imported only when its subcommand is on
#: the command line, so ``--version``, ``--help`` and each subcommand pay only for what they
#: use (the store's SQLAlchemy and Alembic, aiohttp, Redis, the sim, Textual). The line must
#: match the module's own ``help=`` (a test holds them together).
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "sim",
        "omnitrade_tui.cli.sim",
        "run the simulated venue (speaks the Binance spot API) until interrupted",
    ),
    (
        "record",
        "omnitrade_tui.cli.record",
        "record market data and account history to the database, with no screen",
    ),
    (
        "keys",
        "omnitrade_tui.cli.keys",
        "add, list, remove or test API keys (kept in the OS keyring)",
    ),
    (
        "history",
        "omnitrade_tui.cli.history",
        "export recorded trades, fills, orders, candles or trade gaps",
    ),
    (
        "gateway",
        "omnitrade_tui.cli.gateway",
        "run the engine for attached terminals, and manage the gateway's users",
    ),
    (
        "attach",
        "omnitrade_tui.cli.attach",
        "run the terminal on a gateway's engine (omnitrade gateway --listen ...)",
    ),
    (
        "serve",
        "omnitrade_tui.cli.serve",
        "serve the terminal to a browser, attached to a gateway with its login",
    ),
    (
        "service",
        "omnitrade_tui.cli.service",
        "install, remove or check the systemd units of the gateway and the recorder",
    ),
    (
        "config",
        "omnitrade_tui.cli.config",
        "show the config file's path, the resolved settings, or write a starter file",
    ),
)


if TYPE_CHECKING:  # generic in typeshed only
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class LazySubcommands(_SubParsers):
    """Subparsers whose modules load when chosen: listed by name and help line until then.

    A placeholder parser stands in the name map (argparse checks choices against it); when
    the subcommand is parsed, its module's ``register`` replaces the placeholder with the
    real parser, and parsing goes on as if it had always been there.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._modules: dict[str, str] = {}

    def add_lazy(self, name: str, module: str, help_line: str) -> None:
        """List ``name`` with its ``help_line``; import ``module`` only if it is chosen."""
        self.add_parser(name, help=help_line, add_help=False)
        self._modules[name] = module

    def load(self, name: str) -> None:
        """Import the subcommand's module and let it add its real parser."""
        module = self._modules.pop(name, None)
        if module is None:
            return
        del self._name_parser_map[name]
        listing = list(self._choices_actions)
        importlib.import_module(module).register(self)
        self._choices_actions[:] = listing  # the module's own help line is already listed

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Load the chosen subcommand, then parse its arguments as argparse does."""
        self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def lazy_handler(module: str, name: str) -> Handler:
    """A handler that imports ``module`` and calls its ``name`` only when it runs."""

    def run(args: argparse.Namespace) -> int:
        handler: Handler = getattr(importlib.import_module(module), name)
        return handler(args)

    return run


_DESCRIPTION = """\
A keyboard-driven terminal trading client for Binance spot.

With no subcommand, starts the terminal app. Out of the box (profile "sim") it
trades against the built-in simulated venue: no keys and no network needed.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written; option help wrapped at spaces only, so a URL such as
    ``wss://ws-api.testnet.binance.vision`` is never split at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    """The full ``omnitrade`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="omnitrade",
        description=_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omnitrade {__version__}")
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default=None,
        help="profile to run: sim (default), testnet, demo, live, or one from the config file",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="config file to read instead of the platform default (it must exist)",
    )
    parser.add_argument(
        "--metrics-port",
        metavar="PORT",
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
            flag,
            metavar="URL",
            default=None,
            help=f"{what}; overrides the profile's (without --profile, all three make a "
            "profile 'custom')",
        )
    # The terminal app, and with it Textual and the engine, loads only when it runs.
    parser.set_defaults(handler=lazy_handler("omnitrade_tui.cli.app", "run_app"))
    subparsers = parser.add_subparsers(
        title="subcommands", metavar="COMMAND", action=LazySubcommands
    )
    assert isinstance(subparsers, LazySubcommands)
    for name, module, help_line in SUBCOMMANDS:
        subparsers.add_lazy(name, module, help_line)
    return parser


def _say(message: str) -> None:
    """One line to standard error, redacted, naming the program unless the message does."""
    text = redact(message)
    print(text if text.startswith("omnitrade ") else f"omnitrade: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnitrade`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CliError as exc:
        _say(str(exc))
        return int(exc.code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader left (``omnitrade config show | head``): stop quietly, as Unix tools
        # do, and keep Python's flush at exit from failing on the same closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.OK)
    except Exception as exc:
        from omnitrade_tui.cli.error_map import to_cli_error

        mapped = to_cli_error(exc)
        if mapped is not None:
            if logging.getLogger().handlers:  # else logging's last resort would print it twice
                logging.getLogger("omnitrade_tui.cli").warning(
                    "%s", mapped, extra={"exit": int(mapped.code)}
                )
            _say(str(mapped))
            return int(mapped.code)
        if os.environ.get("OMNITRADE_DEBUG"):
            raise
        # A bug: the traceback goes to the (redacting) log file, one line to the terminal.
        if not logging.getLogger().handlers:
            from omnitrade_tui.config import AppDirs
            from omnitrade_tui.logs import configure_logging

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
