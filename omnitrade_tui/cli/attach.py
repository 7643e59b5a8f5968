"""``omnitrade attach URL --user NAME``: the terminal app on a gateway's engine.

The same app as ``omnitrade``, with its bus fed by a ``GatewayClient`` instead of a local
engine. Over TLS the gateway is trusted as SSH trusts a host: the first connection shows
the certificate's fingerprint and asks (or takes ``--trust SHA256:...`` from a script);
the answer is remembered in ``known_gateways`` in the config directory, and a gateway whose
certificate later differs is refused with both fingerprints shown.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from omnitrade_tui.cli.app import configure_textual
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import ask_password, overrides_from_args, start_logging
from omnitrade_tui.config import Settings, load_settings
from omnitrade_tui.logs import current_ring

if TYPE_CHECKING:
    from omnitrade_tui.bus import Bus
    from omnitrade_tui.gateway.client import GatewayClient
    from omnitrade_tui.gateway.protocol import Welcome
    from omnitrade_tui.tui.session import TerminalSession


def register(subparsers: Any) -> None:
    """Add the ``attach`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "attach",
        help="run the terminal on a gateway's engine (omnitrade gateway --listen ...)",
        description="Attach this terminal to a gateway with your own user: the keys your "
        "role does not allow are shown disabled with the role they need.",
    )
    parser.add_argument("url", help="the gateway, e.g. https://tradebox:8765")
    parser.add_argument("--user", default=None, help="your gateway user name")
    parser.add_argument(
        "--in-app-login",
        action="store_true",
        help="ask for the user and password inside the app (omnitrade serve's browser "
        "sessions, which have no prompt to ask at)",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of asking",
    )
    parser.add_argument(
        "--trust",
        metavar="SHA256:...",
        default=None,
        help="the fingerprint the gateway printed at start: trust it without asking "
        "(first connection only; a changed certificate is still refused)",
    )
    parser.set_defaults(handler=run_attach)


def _address(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            f"{url!r} is not a gateway URL: expected https://HOST:PORT (http:// on loopback)",
            ExitCode.USAGE,
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port


async def trusted_pin(
    settings: Settings,
    host: str,
    port: int,
    given: str | None,
    ask: Callable[[str], str] | None,
) -> tuple[bytes, str]:
    """The certificate pin for ``host:port``: known, given with ``--trust``, or accepted
    by the user now; refuses a changed certificate."""
    from omnitrade_tui.gateway.tls import (
        KnownGateways,
        Trust,
        fetch_fingerprint,
        fingerprint_digest,
    )

    try:
        seen = await fetch_fingerprint(host, port)
    except (OSError, TimeoutError) as exc:
        raise CliError(
            f"cannot reach the gateway at {host}:{port}: {exc or type(exc).__name__}",
            ExitCode.VENUE_UNREACHABLE,
        ) from exc
    known = KnownGateways(settings.dirs.config / "known_gateways")
    address = f"{host}:{port}"
    check = known.check(address, seen)
    if check.trust is Trust.CHANGED:
        raise CliError(
            f"the gateway at {address} presents a DIFFERENT certificate than before:\n"
            f"  remembered {check.remembered}\n  presented  {seen}\n"
            "Someone may be intercepting the connection, or the gateway's certificate was "
            f"replaced. If you know it was replaced, remove its line from {known.path}.",
            ExitCode.KEYS,
        )
    if check.trust is Trust.NEW:
        if given is not None:
            if given != seen:
                raise CliError(
                    f"the gateway at {address} presents {seen}, not the --trust {given}",
                    ExitCode.KEYS,
                )
        elif ask is None:
            raise CliError(
                f"the gateway at {address} is not known yet; its certificate is {seen}. "
                "Compare it with what the gateway printed at start, then pass --trust "
                f"{seen}",
                ExitCode.KEYS,
            )
        else:
            answer = ask(
                f"The gateway at {address} is not known yet.\n"
                f"Its certificate fingerprint is {seen}.\n"
                "Compare it with what the gateway printed at start. "
                "Trust it and continue (yes/no)? "
            )
            if answer.strip().lower() not in ("yes", "y"):
                raise CliError("not trusted: nothing was sent", ExitCode.KEYS)
        known.remember(address, seen)
    return fingerprint_digest(seen), seen


def run_attach(args: argparse.Namespace) -> int:
    """Log in to the gateway and run the terminal app on it until the user quits."""
    # The gateway's modules (TLS, aiohttp) load only for this command: ``omnitrade``'s
    # own start does not pay for them.
    from omnitrade_tui.gateway.tls import is_loopback

    settings = load_settings(dataclasses.replace(overrides_from_args(args)))
    start_logging(settings)
    scheme, host, port = _address(args.url)
    if scheme == "http" and not is_loopback(host):
        raise CliError(
            f"{host} is not loopback: attach over https:// (the gateway serves TLS there)",
            ExitCode.USAGE,
        )
    if args.user is None and not args.in_app_login:
        raise CliError("attach needs --user NAME", ExitCode.USAGE)
    interactive = sys.stdin is not None and sys.stdin.isatty() and not args.in_app_login
    pin = (
        asyncio.run(trusted_pin(settings, host, port, args.trust, input if interactive else None))
        if scheme == "https"
        else None
    )
    if args.in_app_login:
        configure_textual(settings, os.environ)
        return asyncio.run(_run_in_app_login(settings, args.url, pin))
    password = ask_password(args, f"password for {args.user}: ")
    print(f"omnitrade: attaching to {host}:{port} as {args.user}...", file=sys.stderr, flush=True)
    configure_textual(settings, os.environ)
    return asyncio.run(_run(settings, args.url, args.user, password, pin))


async def _run(
    settings: Settings, url: str, user: str, password: str, pin: tuple[bytes, str] | None
) -> int:
    from omnitrade_tui.gateway.client import GatewayError, GatewayUnreachable
    from omnitrade_tui.tui.app import OmniTradeApp

    clients: list[GatewayClient] = []
    try:
        try:
            session = await gateway_login(settings, url, pin, clients)(user, password)
        except GatewayUnreachable as exc:
            raise CliError(str(exc), ExitCode.VENUE_UNREACHABLE) from exc
        except GatewayError as exc:  # refused: credentials, a blocked address, the TLS pin
            raise CliError(str(exc), ExitCode.KEYS) from exc
        app = OmniTradeApp(session)
        await app.run_async(mouse=settings.ui.mouse)
        return app.return_code or 0
    finally:
        for client in clients:
            await client.aclose()


def gateway_login(
    settings: Settings, url: str, pin: tuple[bytes, str] | None, clients: list[GatewayClient]
) -> Callable[[str, str], Awaitable[TerminalSession]]:
    """The app's login for ``url``: a client per attempt; a logged-in one goes to
    ``clients`` (the caller closes them), a refused one is closed and its error raised."""
    from omnitrade_tui.bus import Bus
    from omnitrade_tui.gateway.client import GatewayClient
    from omnitrade_tui.tui.themes import user_theme_dir

    follow: list[asyncio.Future[None]] = []

    async def login(user: str, password: str) -> TerminalSession:
        bus = Bus()
        client = GatewayClient(url, user, bus, pin=pin[0] if pin else None)
        try:
            welcome = await client.start(password, follow=False)
        except BaseException:
            await client.aclose()
            raise
        clients.append(client)
        return attached_session(
            welcome,
            bus,
            settings,
            url,
            fingerprint=pin[1] if pin else None,
            theme_dir=user_theme_dir(settings.dirs.config),
            on_ready=lambda: follow.append(asyncio.ensure_future(client.follow())),
        )

    return login


async def _run_in_app_login(settings: Settings, url: str, pin: tuple[bytes, str] | None) -> int:
    """The app with its login form first (a browser session of ``omnitrade serve``)."""
    from omnitrade_tui.tui.web_app import WebTerminalApp

    clients: list[GatewayClient] = []
    app = WebTerminalApp(
        urlsplit(url).netloc, gateway_login(settings, url, pin, clients), settings.ui
    )
    try:
        await app.run_async(mouse=settings.ui.mouse)
        return app.return_code or 0
    finally:
        for client in clients:
            await client.aclose()


def attached_session(
    welcome: Welcome,
    bus: Bus,
    settings: Settings,
    url: str,
    *,
    fingerprint: str | None = None,
    theme_dir: Path | None = None,
    on_ready: Callable[[], None] | None = None,
) -> TerminalSession:
    """What the app is handed when attached: the gateway's run facts from its Welcome, the
    commands the role refuses, and who is logged in where (for the status bar)."""
    from omnitrade_tui.tui.session import TerminalSession

    identity = f"{welcome.user} ({welcome.role}) @ {urlsplit(url).netloc}"
    if fingerprint is not None:
        identity += f" {fingerprint[:19]}…"
    return TerminalSession(
        bus=bus,
        instruments={i.symbol: i for i in welcome.instruments},
        watchlist=tuple(welcome.watchlist),
        profile_label=f"{welcome.profile} via gateway",
        live=welcome.live,
        ui=settings.ui,
        user_theme_dir=theme_dir,
        fee_rate=Decimal(welcome.fee_rate),
        load_history=True,
        log_ring=current_ring(),
        refused=dict(welcome.refused),
        trade_venues=tuple(welcome.venues),
        gateway=identity,
        on_ready=on_ready,
        export_dir=settings.dirs.data,
    )
