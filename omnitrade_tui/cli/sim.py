"""``omnitrade sim``: run the simulated Binance-compatible venue on its own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.domain.decimals import DecimalFormatError, parse_decimal
from omnitrade_tui.venues.sim.replay import Replay
from omnitrade_tui.venues.sim.state import StateError
from omnitrade_tui.venues.sim.symbols import DEFAULT_INSTRUMENTS, default_instruments
from omnitrade_tui.venues.sim.venue import DEFAULT_BALANCES, Faults, SimVenue

_FAULT_HELP = (
    "comma-separated fault switches, e.g. gap_every_s=30,close_every_s=60,delay_ms=0,"
    "fail_orders=0,throttle=0 (also settable at run time: POST /sim/faults with JSON)"
)


def register(subparsers: Any) -> None:
    """Add the ``sim`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the simulated venue (speaks the Binance spot API) until interrupted",
        description="Run a local exchange that speaks the Binance spot wire protocol, so "
        "Binance clients and bots can trade against it offline. Prints its URLs and a key.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument(
        "--symbols",
        default=None,
        help="comma-separated symbols to list (default: all four; with --replay, the "
        "recorded ones plus any named here)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated market")
    parser.add_argument("--faults", default="", help=_FAULT_HELP)
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        help="serve a recorded capture (the format of shared/data/binance/ethusdt_*.gz) "
        "instead of the generated market",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay pace, 1x to 100x (default 1)"
    )
    parser.add_argument(
        "--replay-loop",
        action="store_true",
        help="play the capture again and again (load tests; update ids restart each time)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="keep accounts, keys, balances and open orders in this file across restarts",
    )
    parser.add_argument(
        "--orders-per-10s",
        type=int,
        default=50,
        help="new orders an account may send per 10 seconds (Binance: 50)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="register this API key (repeatable; pair each with --api-secret)",
    )
    parser.add_argument(
        "--api-secret", action="append", default=[], help="HMAC secret of the matching --api-key"
    )
    parser.add_argument(
        "--ed25519-key",
        action="append",
        default=[],
        metavar="API_KEY=PUBLIC_KEY.pem",
        help="register an API key with its Ed25519 public key in PEM (repeatable)",
    )
    parser.add_argument(
        "--balance",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help=f"starting balance of registered keys (repeatable; default {DEFAULT_BALANCES})",
    )
    parser.set_defaults(handler=run)


def _balances(items: list[str]) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        try:
            if not sep or not asset:
                raise DecimalFormatError(item)
            out[asset.upper()] = str(parse_decimal(amount, "amount"))
        except DecimalFormatError:
            raise CliError(
                f"--balance {item!r}: expected ASSET=AMOUNT, e.g. USDT=10000", ExitCode.USAGE
            ) from None
    return out


def run(args: argparse.Namespace) -> int:
    """Serve the venue until SIGINT or SIGTERM."""
    args.symbols_given = args.symbols is not None
    names = args.symbols or ",".join(i.symbol for i in DEFAULT_INSTRUMENTS)
    symbols = [s.strip().upper() for s in names.split(",") if s.strip()]
    try:
        instruments = default_instruments(symbols)
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    if len(args.api_key) != len(args.api_secret):
        raise CliError("give one --api-secret for each --api-key", ExitCode.USAGE)
    balances = _balances(args.balance)
    replay = None
    if args.replay is not None:
        try:
            replay = Replay(args.replay, args.speed, loop=args.replay_loop)
            extra = symbols if args.symbols_given else []
            instruments = default_instruments(sorted(set(replay.symbols) | set(extra)))
        except ValueError as exc:
            raise CliError(f"--replay: {exc}", ExitCode.USAGE) from None
    ed25519_keys = []
    for item in args.ed25519_key:
        key, _, pem_path = item.partition("=")
        try:
            ed25519_keys.append((key, Path(pem_path).read_text()))
        except OSError as exc:
            raise CliError(
                f"--ed25519-key {key[:6]}...: {exc.strerror} (expected API_KEY=path/to/public.pem)",
                ExitCode.USAGE,
            ) from None
    return asyncio.run(_serve(args, instruments, faults, balances, replay, ed25519_keys))


async def _serve(
    args: argparse.Namespace,
    instruments: Any,
    faults: Faults,
    balances: dict[str, str] | None,
    replay: Replay | None,
    ed25519_keys: list[tuple[str, str]],
) -> int:
    replayed = set(replay.symbols) if replay is not None else set()
    try:
        venue = SimVenue(
            instruments,
            seed=args.seed,
            faults=faults,
            generate=any(i.symbol not in replayed for i in instruments),
            replay=replay,
            orders_per_10s=args.orders_per_10s,
            state_path=args.state,
        )
    except StateError as exc:
        raise CliError(f"{exc}; move the file away to start afresh", ExitCode.CONFIG) from None
    for key, secret in zip(args.api_key, args.api_secret, strict=True):
        try:
            venue.add_account(key, secret=secret, balances=balances)
        except ValueError as exc:
            raise CliError(f"--api-key {key[:6]}...: {exc}", ExitCode.USAGE) from None
    for key, pem in ed25519_keys:
        try:
            venue.add_account(key, ed25519_public_key_pem=pem, balances=balances)
        except ValueError as exc:
            raise CliError(f"--ed25519-key {key[:6]}...: {exc}", ExitCode.USAGE) from None
    try:
        await venue.serve(args.host, args.port)
    except OSError as exc:
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; pick another --port",
            ExitCode.ERROR,
        ) from None
    demo_key, demo_secret = venue.demo_key
    print(
        "omnitrade sim: serving the simulated Binance spot venue\n"
        f"  REST          {venue.rest_url}/v3/...\n"
        f"  streams       {venue.stream_url}ws/<stream>\n"
        f"                {venue.stream_url}stream?streams=<a>/<b>\n"
        f"  WebSocket API {venue.ws_api_url}\n"
        f"  faults        POST http://{venue.host}:{venue.port}/sim/faults\n"
        f"  symbols       {', '.join(venue.markets)}\n"
        f"  demo key      {demo_key}\n"
        f"  demo secret   {demo_secret}\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await venue.close()
    print("omnitrade sim: stopped", file=sys.stderr)
    return int(ExitCode.OK)
