"""``omnitrade serve --gateway URL``: the attached terminal in a browser, through textual-serve.

Each browser session runs ``omnitrade attach URL --in-app-login`` in a process of its own:
the page shows the app's login form, the gateway checks the user's password, and the
user's role applies as in any attached terminal. The page is served on loopback unless
``--tls-cert``/``--tls-key`` are given: a browser terminal is a trading terminal, so it is
reached over an SSH tunnel, or over TLS behind the gateway's login, never in clear text.

textual-serve's own ``Server.serve`` runs aiohttp without TLS; its application (routes,
templates, the per-session processes) is taken from ``Server._make_app`` and served here
on a site that may carry a TLS context. The textual-serve version is pinned in the
``web`` extra for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args, start_logging
from omnitrade_tui.config import load_settings


def session_command(
    program: tuple[str, ...], gateway: str, fingerprint: str | None, config: str | None
) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = list(program)
    if config:
        argv += ["--config", str(Path(config).resolve())]
    argv += ["attach", gateway, "--in-app-login"]
    if fingerprint is not None:
        argv += ["--trust", fingerprint]
    return shlex.join(argv)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CliError(
            f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000", ExitCode.USAGE
        )
    return host.strip("[]"), int(port)


def serve(args: argparse.Namespace) -> int:
    """Serve the attached terminal to browsers until SIGINT or SIGTERM."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise CliError(
            "omnitrade serve needs textual-serve: pip install 'omnitrade-tui[web]'",
            ExitCode.USAGE,
        ) from None
    from omnitrade_tui.cli.attach import _address, trusted_pin
    from omnitrade_tui.cli.service import program
    from omnitrade_tui.gateway.tls import is_loopback, server_context

    host, port = _listen(args.listen)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("give both --tls-cert and --tls-key, or neither", ExitCode.USAGE)
    tls = args.tls_cert is not None
    if not tls and not is_loopback(host):
        raise CliError(
            f"{host} is not loopback: a browser terminal is served there only over TLS "
            "(--tls-cert, --tls-key); or keep it on 127.0.0.1 and reach it over SSH",
            ExitCode.USAGE,
        )
    settings = load_settings(overrides_from_args(args))
    start_logging(settings)
    scheme, gw_host, gw_port = _address(args.gateway)
    if scheme == "http" and not is_loopback(gw_host):
        raise CliError(f"{gw_host} is not loopback: the gateway is https:// there", ExitCode.USAGE)
    fingerprint = None
    if scheme == "https":
        interactive = sys.stdin is not None and sys.stdin.isatty()
        _, fingerprint = asyncio.run(
            trusted_pin(settings, gw_host, gw_port, args.trust, input if interactive else None)
        )
    command = session_command(program(), args.gateway, fingerprint, getattr(args, "config", None))
    shown = f"[{host}]" if ":" in host else host
    public = args.public_url or f"{'https' if tls else 'http'}://{shown}:{port}"
    server = Server(command, host=host, port=port, title="OmniTrade", public_url=public)
    context = server_context(Path(args.tls_cert), Path(args.tls_key)) if tls else None
    return asyncio.run(_serve(server, host, port, context, public))


async def _serve(server: Any, host: str, port: int, context: Any, public: str) -> int:
    from aiohttp import web

    app = await server._make_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise CliError(f"cannot serve on {host}:{port}: {exc.strerror}", ExitCode.USAGE) from None
    print(f"omnitrade serve: the terminal at {public}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return int(ExitCode.OK)


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve the terminal to a browser, attached to a gateway with its login",
        description="The terminal in a browser: each page logs in to the gateway with its "
        "own user, whose role applies. Loopback only, unless served over TLS.",
    )
    parser.add_argument(
        "--gateway", required=True, help="the gateway to attach to, e.g. https://tradebox:8765"
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8000", help="address of the page (default 127.0.0.1:8000)"
    )
    parser.add_argument("--tls-cert", default=None, help="TLS certificate (PEM) of the page")
    parser.add_argument("--tls-key", default=None, help="TLS private key (PEM) of the page")
    parser.add_argument(
        "--public-url", default=None, help="the page's URL as browsers reach it (a proxy)"
    )
    parser.add_argument(
        "--trust",
        metavar="SHA256:...",
        default=None,
        help="the gateway's certificate fingerprint, trusted without asking",
    )
    parser.set_defaults(handler=serve)
