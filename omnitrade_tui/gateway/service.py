"""``omnitrade gateway --listen``: the engine headless, served to attached terminals.

One run holds the venue connections, the order manager behind the risk gate, the recorder
and the keys (``runtime.Runtime``, exactly as the terminal's own run and ``record``'s), plus
the gateway's auth (users, tokens, audit log in the runtime's own store) and its server.
TLS is on for any address other than loopback; a development certificate can be made on the spot
(``--self-signed``) and is kept in the state directory, so its fingerprint stays the same
across restarts and terminals that trusted it keep trusting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from omnitrade_tui.config import Settings
from omnitrade_tui.gateway.auth import AuthService, default_secret_path, load_or_create_secret
from omnitrade_tui.gateway.observed import observe_gateway
from omnitrade_tui.gateway.server import GatewayServer, RunFacts, ServerLimits
from omnitrade_tui.gateway.tls import (
    certificate_fingerprint,
    is_loopback,
    make_self_signed,
    server_context,
)
from omnitrade_tui.runtime import Runtime
from omnitrade_tui.store.gateway_repository import GatewayRepository

log = logging.getLogger(__name__)


class GatewaySetupError(Exception):
    """The gateway cannot start as asked (the message says what to change)."""


@dataclass(frozen=True)
class Listen:
    """Where to serve, and with which certificate (``None``: plain, loopback only)."""

    host: str
    port: int
    cert: Path | None = None
    key: Path | None = None


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) into its parts."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise GatewaySetupError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    value = int(port)
    if not 0 <= value <= 65535:
        raise GatewaySetupError(f"--listen {text!r}: the port must be 0..65535")
    return host.strip("[]"), value


def plan_tls(
    listen: str,
    cert: Path | None,
    key: Path | None,
    self_signed: bool,
    state_dir: Path,
) -> Listen:
    """Decide the certificate: given, made (``self_signed``), or none on loopback only."""
    host, port = parse_listen(listen)
    if (cert is None) != (key is None):
        raise GatewaySetupError("give both --tls-cert and --tls-key, or neither")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise GatewaySetupError(f"no such file: {path}")
        return Listen(host, port, cert, key)
    if self_signed:
        cert = state_dir / "gateway" / "cert.pem"
        key = state_dir / "gateway" / "key.pem"
        if not (cert.is_file() and key.is_file()):
            hosts = [host] if host not in ("0.0.0.0", "::") else ["localhost"]
            make_self_signed(cert, key, hosts)
        return Listen(host, port, cert, key)
    if not is_loopback(host):
        raise GatewaySetupError(
            f"{host} is not loopback: the gateway serves it only over TLS. Give "
            "--tls-cert and --tls-key, or --self-signed for a development certificate"
        )
    return Listen(host, port)


@dataclass
class RunningGateway:
    """A started gateway: its URL, certificate fingerprint, server and auth."""

    url: str
    fingerprint: str | None
    server: GatewayServer
    auth: AuthService
    runtime: Runtime


@contextlib.asynccontextmanager
async def run_gateway(
    settings: Settings,
    where: Listen,
    *,
    auth_factory: Callable[[GatewayRepository, bytes], AuthService] | None = None,
    limits: ServerLimits | None = None,
    record: bool = True,
) -> AsyncIterator[RunningGateway]:
    """Start the engine and serve it at ``where`` for the duration of an ``async with``."""
    secret = load_or_create_secret(default_secret_path(settings.dirs))
    async with Runtime.start(settings, record=record, connect=False, open_store=True) as runtime:
        assert runtime.database is not None  # open_store
        repo = GatewayRepository(runtime.database)
        auth = auth_factory(repo, secret) if auth_factory else AuthService(repo, secret)
        facts = RunFacts(
            gateway=f"{where.host}:{where.port}",
            profile=runtime.profile_label,
            live=settings.profile.live,
            watchlist=runtime.watchlist,
            instruments=tuple(runtime.instruments[s] for s in runtime.watchlist),
            fee_rate=runtime.fee_rate,
        )
        # A terminal's command may name only a symbol the venue lists, so no user input but
        # a listed symbol reaches the venue's URLs.
        server = GatewayServer(runtime.bus, auth, facts, limits=limits, listed=runtime.listed)
        server.follow()
        runtime.connect()
        context: ssl.SSLContext | None = None
        fingerprint = None
        if where.cert is not None and where.key is not None:
            context = server_context(where.cert, where.key)
            fingerprint = certificate_fingerprint(where.cert)
        url = await server.start(where.host, where.port, context)
        observe_gateway(runtime.metrics, server)
        try:
            yield RunningGateway(url, fingerprint, server, auth, runtime)
        finally:
            await server.aclose()


async def serve_until_stopped(settings: Settings, where: Listen, say: Callable[[str], None]) -> int:
    """Serve until SIGINT or SIGTERM; tell the operator the URL and the fingerprint."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with run_gateway(settings, where) as gateway:
        say(f"omnitrade gateway: serving {gateway.runtime.profile_label} at {gateway.url}")
        if gateway.fingerprint is not None:
            say(f"  certificate {gateway.fingerprint} (terminals are asked to trust it once)")
        if not await gateway.auth.users.list_users():
            say("  no users yet: add one with `omnitrade gateway users add NAME --role admin`")
        say(f"  attach with: omnitrade attach {gateway.url} --user NAME")
        await stop.wait()
        say("omnitrade gateway: stopping")
    return 0
