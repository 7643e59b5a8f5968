"""``omnitrade gateway users ...`` and ``omnitrade gateway audit``: the work behind them.

Users live in the same database as the history (``--db``, else the config's ``db_url``), so
the gateway that serves them finds them there. Passwords are never command-line arguments
(shell history, ``ps``): they are asked twice at a hidden prompt, or read from the first
line of standard input with ``--password-stdin`` (for scripts). Loaded only when one of
these commands runs (``cli/gateway.py`` registers them): the store's libraries are not
paid for by ``omnitrade``'s own start.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import ask_password, overrides_from_args, start_logging
from omnitrade_tui.config import load_settings
from omnitrade_tui.gateway.audit import AuditLog, format_entry
from omnitrade_tui.gateway.passwords import PasswordPolicyError, check_policy
from omnitrade_tui.gateway.roles import Role, parse_venue_list, venue_list_text
from omnitrade_tui.gateway.users import UserAdmin, UserError, UserInfo, check_username
from omnitrade_tui.store.database import describe, normalize_url, open_database
from omnitrade_tui.store.errors import StoreError
from omnitrade_tui.store.gateway_repository import GatewayRepository

T = TypeVar("T")


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
    first = ask_password(args, f"new password for {name}: ")
    if args.password_stdin:
        return first  # a script's: the policy is checked when it is stored
    try:
        check_policy(first, name)
    except PasswordPolicyError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    if getpass.getpass("the same again: ") != first:
        raise CliError("the two passwords differ; nothing was changed", ExitCode.USAGE)
    return first


def add_user(args: argparse.Namespace) -> int:
    """``users add NAME --role R``: a new user (the password asked twice)."""
    try:
        check_username(args.name)
    except UserError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    role = Role(args.role)
    venues = _venues(args.venues)
    password = read_password(args, args.name)
    info = _run(args, lambda repo: UserAdmin(repo).add(args.name, role, password, venues))
    print(f"added user {info.username} ({info.role}); trades on {_venues_text(info.venues)}")
    return 0


def _venues(text: str) -> tuple[str, ...]:
    try:
        return parse_venue_list(text)
    except ValueError as exc:
        raise CliError(f"--venues: {exc}", ExitCode.USAGE) from None


def _venues_text(venues: tuple[str, ...]) -> str:
    return venue_list_text(venues) or "every venue"


def set_venues(args: argparse.Namespace) -> int:
    """``users venues NAME first,kraken``: the venues a user may trade on, ending their
    sessions (a terminal holds the venues it attached with)."""
    venues = _venues(args.venues)
    info = _run(args, lambda repo: UserAdmin(repo).set_venues(args.name, venues))
    print(f"{info.username} now trades on {_venues_text(info.venues)}; their sessions are ended")
    return 0


def list_users(args: argparse.Namespace) -> int:
    """``users list``: every user with role and status."""
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
    rows = [("NAME", "ROLE", "VENUES", "STATUS", "CREATED", "UPDATED")]
    rows += [
        (
            u.username,
            u.role.value,
            venue_list_text(u.venues) or "all",
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


def remove_user(args: argparse.Namespace) -> int:
    """``users remove NAME``: delete a user, ending their sessions."""
    _run(args, lambda repo: UserAdmin(repo).remove(args.name))
    print(f"removed user {args.name}; their sessions are ended")
    return 0


def set_password(args: argparse.Namespace) -> int:
    """``users passwd NAME``: a new password, ending the user's sessions."""
    password = read_password(args, args.name)

    async def work(repo: GatewayRepository) -> None:
        admin = UserAdmin(repo)
        await admin.get(args.name)  # say "no such user" before anything else
        await admin.set_password(args.name, password)

    _run(args, work)
    print(f"changed the password of {args.name}; their sessions are ended")
    return 0


def set_role(args: argparse.Namespace) -> int:
    """``users role NAME R``: a new role, ending the user's sessions."""
    info = _run(args, lambda repo: UserAdmin(repo).set_role(args.name, Role(args.role)))
    print(f"{info.username} is now {info.role}; their sessions are ended")
    return 0


def show_audit(args: argparse.Namespace) -> int:
    """``audit``: the newest audit entries, oldest first."""
    if args.limit < 1:
        raise CliError("--limit must be at least 1", ExitCode.USAGE)
    entries = _run(args, lambda repo: AuditLog(repo).recent(args.limit, args.user))
    for e in reversed(entries):  # oldest first, like a log
        # Every field escaped: a name or detail with a newline cannot forge an entry.
        print(format_entry(e, _when(e.time_ms)))
    return 0
