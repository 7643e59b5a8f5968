"""``omnitrade gateway``: serve the engine to attached terminals; manage its users.

``omnitrade gateway --listen HOST:PORT [--tls-cert F --tls-key F | --self-signed]`` runs
the profile's engine headless and serves it (``gateway/service.py``);
``omnitrade gateway users add|list|remove|passwd|role`` and ``omnitrade gateway audit``
manage who may attach (``cli/gateway_users.py``). Only the parser lives here: each
command's modules load when it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import prepare_run
from omnitrade_tui.gateway.roles import Role


def register(subparsers: Any) -> None:
    """Add the ``gateway`` subcommand, its ``users`` actions and ``audit``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the engine for attached terminals, and manage the gateway's users",
        description="Gateway mode: one engine on the trading box, terminals attach with "
        "their own credentials and roles (viewer, trader, admin).",
    )
    parser.add_argument("--listen", metavar="HOST:PORT", default=None, help="address to serve")
    # Also after the subcommand, as the gateway is usually started
    # (``omnitrade gateway --listen ... --profile testnet``); SUPPRESS keeps a profile given
    # before the subcommand when none is given here.
    parser.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="the profile whose venue and key the gateway runs (default: the config's)",
    )
    parser.add_argument("--tls-cert", default=None, help="TLS certificate (PEM)")
    parser.add_argument("--tls-key", default=None, help="TLS private key (PEM)")
    parser.add_argument(
        "--self-signed",
        action="store_true",
        help="make (once, in the state directory) and use a development certificate",
    )
    parser.set_defaults(handler=_serve(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--db",
        "--database",
        dest="db",
        default=None,
        help="SQLite path or postgresql:// URL (default: the config's db_url)",
    )
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of asking",
    )

    users: argparse.ArgumentParser = actions.add_parser(
        "users",
        help="add, list, remove users, change their password, role or venues",
        description="Manage who may attach to the gateway. Changing a user's password, "
        "role or venues, or removing them, ends their sessions.",
    )
    users.set_defaults(handler=_usage(users))
    user_actions = users.add_subparsers(title="actions", metavar="ACTION")

    add = user_actions.add_parser(
        "add", parents=[database, password], help="add a user (the password is asked twice)"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--venues",
        default="all",
        help="the venues the user may trade on: first (the profile's own), then the names of "
        "[profiles.NAME.venues.VENUE], comma-separated (default: all)",
    )
    add.set_defaults(handler=_users("add_user"))

    lst = user_actions.add_parser("list", parents=[database], help="users and their roles")
    lst.set_defaults(handler=_users("list_users"))

    rm = user_actions.add_parser("remove", parents=[database], help="remove a user")
    rm.add_argument("name")
    rm.set_defaults(handler=_users("remove_user"))

    passwd = user_actions.add_parser(
        "passwd", parents=[database, password], help="set a user's password"
    )
    passwd.add_argument("name")
    passwd.set_defaults(handler=_users("set_password"))

    role = user_actions.add_parser("role", parents=[database], help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=[r.value for r in Role])
    role.set_defaults(handler=_users("set_role"))

    venues = user_actions.add_parser(
        "venues", parents=[database], help="change the venues a user may trade on"
    )
    venues.add_argument("name")
    venues.add_argument("venues", help="first,kraken ... or all")
    venues.set_defaults(handler=_users("set_venues"))

    audit = actions.add_parser(
        "audit", parents=[database], help="show the newest entries of the audit log"
    )
    audit.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    audit.add_argument("--user", default=None, help="only this user's entries")
    audit.set_defaults(handler=_users("show_audit"))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)

    return handler


def _users(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        from omnitrade_tui.cli import gateway_users

        run: Callable[[argparse.Namespace], int] = getattr(gateway_users, name)
        return run(args)

    return handler


def _serve(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        if args.listen is None:
            parser.print_help(sys.stderr)
            return int(ExitCode.USAGE)
        from omnitrade_tui.gateway.service import (
            GatewaySetupError,
            plan_tls,
            serve_until_stopped,
        )

        settings = prepare_run(args)
        try:
            where = plan_tls(
                args.listen,
                Path(args.tls_cert) if args.tls_cert else None,
                Path(args.tls_key) if args.tls_key else None,
                args.self_signed,
                settings.dirs.state,
            )
        except GatewaySetupError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
        return asyncio.run(
            serve_until_stopped(settings, where, lambda line: print(line, file=sys.stderr))
        )

    return handler
