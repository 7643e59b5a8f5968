"""What every run does before anything starts: resolve settings, and guard LIVE.

The terminal app (and any subcommand that trades) calls ``prepare_run``; it returns the
settings, or raises a typed error that ``cli.main`` turns into one line and an exit code.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import Overrides, Settings, confirm_live, load_settings
from omnitrade_tui.logs import LoggingSetup, configure_logging, install_crash_handlers

Ask = Callable[[str], str]


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    """The command line's share of the settings (flags beat environment and file)."""
    config = getattr(args, "config", None)
    return Overrides(
        profile=getattr(args, "profile", None),
        config_file=Path(config) if config else None,
        metrics_port=getattr(args, "metrics_port", None),
        log_level=getattr(args, "log_level", None),
        rest_url=getattr(args, "rest_url", None),
        ws_api_url=getattr(args, "ws_api_url", None),
        stream_url=getattr(args, "stream_url", None),
    )


def terminal_ask() -> Ask | None:
    """``input`` when a person is at a terminal, else ``None`` (nobody to confirm LIVE)."""
    return input if sys.stdin is not None and sys.stdin.isatty() else None


def prepare_run(args: argparse.Namespace, ask: Ask | None = None) -> Settings:
    """Settings of this run, after a LIVE profile has been confirmed by typing ``LIVE``.

    Raises:
        ConfigError, UnknownProfileError, LiveNotConfirmedError.
    """
    settings = load_settings(overrides_from_args(args))
    start_logging(settings)
    confirm_live(settings, ask if ask is not None else terminal_ask())
    return settings


def ask_password(args: argparse.Namespace, prompt: str) -> str:
    """A password: the first line of standard input with ``--password-stdin`` (scripts),
    else asked at a hidden prompt. Never a command-line argument (shell history, ``ps``)."""
    if args.password_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise CliError("no password on standard input", ExitCode.USAGE)
        return text
    if sys.stdin is None or not sys.stdin.isatty():
        raise CliError(
            "no terminal to ask for the password on: use --password-stdin", ExitCode.USAGE
        )
    return getpass.getpass(prompt)


def start_logging(settings: Settings, console: bool = False) -> LoggingSetup:
    """JSON logs to the state directory at the configured level (console for headless runs);
    an exception nobody caught, in any thread, goes there too (redacted), not to the
    terminal as a traceback."""
    setup = configure_logging(settings.dirs.log_dir, settings.log_level, console=console)
    install_crash_handlers()
    return setup
