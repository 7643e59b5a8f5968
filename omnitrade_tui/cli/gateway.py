"""``omnitrade gateway``: the gateway's users (add, list, remove, passwd, role) and audit log.

Users live in the same database as the history (``--db``, else the config's ``db_url``), so
the gateway that serves them finds them there. Passwords are never command-line arguments
(shell history, ``ps``): they are asked twice at a hidden prompt, or read from the first
line of standard input with ``--password-stdin`` (for scripts).

Serving (``omnitrade gateway --listen``) is registered here too, and refuses as not built
until the server lands.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.not_built import not_built
from omnitrade_tui.cli.startup import overrides_from_args, start_logging
from omnitrade_tui.config import load_settings
from omnitrade_tui.gateway.auth import AuditLog
from omnitrade_tui.gateway.passwords import PasswordPolicyError, check_policy
from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.users import UserAdmin, UserError, UserInfo, check_username
from omnitrade_tui.store.database import describe, normalize_url, open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.gateway_repository import GatewayRepository

T = TypeVar("T")

#: ``omnitrade gateway`` itself (serving); replaced by the server's entry when it lands.
serve: Callable[[argparse.Namespace], int] = not_built(
    "serving the gateway (omnitrade gateway --listen)"
)


def register(subparsers: Any) -> None:
    """Add the ``gateway`` subcommand, its ``users`` actions and ``audit``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="run the engine for attached terminals, and manage the gateway's users",
        description="Gateway mode: one engine on the trading box, terminals attach with "
        "their own credentials and roles (viewer, trader, admin).",
    )
    parser.add_argument("--listen", metavar="HOST:PORT", default=None, help="address to serve")
    parser.add_argument("--tls-cert", default=None, help="TLS certificate (PEM)")
    parser.add_argument("--tls-key", default=None, help="TLS private key (PEM)")
    parser.set_defaults(handler=lambda args: serve(args))
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
        help="add, list, remove users, change their password or role",
        description="Manage who may attach to the gateway. Changing a user's password or "
        "role, or removing them, ends their sessions.",
    )
    users.set_defaults(handler=_usage(users))
    user_actions = users.add_subparsers(title="actions", metavar="ACTION")

    add = user_actions.add_parser(
        "add", parents=[database, password], help="add a user (the password is asked twice)"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.set_defaults(handler=_add)

    lst = user_actions.add_parser("list", parents=[database], help="users and their roles")
    lst.set_defaults(handler=_list)

    rm = user_actions.add_parser("remove", parents=[database], help="remove a user")
    rm.add_argument("name")
    rm.set_defaults(handler=_remove)

    passwd = user_actions.add_parser(
        "passwd", parents=[database, password], help="set a user's password"
    )
    passwd.add_argument("name")
    passwd.set_defaults(handler=_passwd)

    role = user_actions.add_parser("role", parents=[database], help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=[r.value for r in Role])
    role.set_defaults(handler=_role)

    audit = actions.add_parser(
        "audit", parents=[database], help="show the newest entries of the audit log"
    )
    audit.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    audit.add_argument("--user", default=None, help="only this user's entries")
    audit.set_defaults(handler=_audit)


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)

    return handler


def _run(args: argparse.Namespace, work: Callable[[GatewayRepository], Awaitable[T]]) -> T:
    """Open the configured database, run ``work`` on the gateway repository, close it."""
    settings = load_settings(dataclasses.replace(overrides_from_args(args), db_url=args.db))
    start_logging(settings)

    async def main() -> T:
        try:
            repo = GatewayRepository(await open_database(settings.db_url))
        except StoreError as exc:
            raise CliError(str(exc), ExitCode.DATABASE) from exc
        try:
            return await work(repo)
        except (UserError, PasswordPolicyError) as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
        finally:
            await repo.close()

    where = describe(normalize_url(settings.db_url))
    print(f"omnitrade gateway: users in {where}", file=sys.stderr)
    return asyncio.run(main())


def read_password(args: argparse.Namespace, name: str) -> str:
    """The new password: first line of stdin with ``--password-stdin``, else asked twice.

    Checked against the policy before the confirmation, so a refused one is not typed twice.
    """
    if args.password_stdin:
        line = sys.stdin.readline()
        text = line.rstrip("\r\n")
        if not text:
            raise CliError("no password on standard input", ExitCode.USAGE)
        return text
    if sys.stdin is None or not sys.stdin.isatty():
        raise CliError(
            "no terminal to ask for the password on: use --password-stdin", ExitCode.USAGE
        )
    first = getpass.getpass(f"new password for {name}: ")
    try:
        check_policy(first, name)
    except PasswordPolicyError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    if getpass.getpass("the same again: ") != first:
        raise CliError("the two passwords differ; nothing was changed", ExitCode.USAGE)
    return first


def _add(args: argparse.Namespace) -> int:
    try:
        check_username(args.name)
    except UserError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    role = Role(args.role)
    password = read_password(args, args.name)
    info = _run(args, lambda repo: UserAdmin(repo).add(args.name, role, password))
    print(f"added user {info.username} ({info.role})")
    return 0


def _list(args: argparse.Namespace) -> int:
    users = _run(args, lambda repo: UserAdmin(repo).list_users())
    if not users:
        print(
            "no gateway users yet: add one with omnitrade gateway users add NAME --role admin",
            file=sys.stderr,
        )
        return 0
    print(format_users(users))
    return 0


def format_users(users: list[UserInfo]) -> str:
    """The user table: name, role, status and times (UTC), never the hashes."""
    rows = [("NAME", "ROLE", "STATUS", "CREATED", "UPDATED")]
    rows += [
        (
            u.username,
            u.role.value,
            "disabled" if u.disabled else "active",
            _when(u.created_ms),
            _when(u.updated_ms),
        )
        for u in users
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _remove(args: argparse.Namespace) -> int:
    _run(args, lambda repo: UserAdmin(repo).remove(args.name))
    print(f"removed user {args.name}; their sessions are ended")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    password = read_password(args, args.name)

    async def work(repo: GatewayRepository) -> None:
        admin = UserAdmin(repo)
        await admin.get(args.name)  # say "no such user" before anything else
        await admin.set_password(args.name, password)

    _run(args, work)
    print(f"changed the password of {args.name}; their sessions are ended")
    return 0


def _role(args: argparse.Namespace) -> int:
    info = _run(args, lambda repo: UserAdmin(repo).set_role(args.name, Role(args.role)))
    print(f"{info.username} is now {info.role}; their sessions are ended")
    return 0


def _audit(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1", ExitCode.USAGE)
    entries = _run(args, lambda repo: AuditLog(repo).recent(args.limit, args.user))
    for e in reversed(entries):  # oldest first, like a log
        print(
            f"{_when(e.time_ms)}  {e.outcome:<7} {e.username or '-':<16} {e.address:<22} "
            f"{e.action}  {e.detail}"
        )
    return 0
