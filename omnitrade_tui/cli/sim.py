"""``omnitrade sim``: run the simulated Binance-compatible venue on its own.

Only light modules load with the command line; the venue's server (aiohttp and the rest)
loads when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.domain.decimals import DecimalFormatError, parse_decimal
from omnitrade_tui.venues.sim.accounts import DEFAULT_BALANCES
from omnitrade_tui.venues.sim.faults import Faults
from omnitrade_tui.venues.sim.symbols import DEFAULT_INSTRUMENTS, default_instruments

if TYPE_CHECKING:
    from omnitrade_tui.domain.instrument import Instrument
    from omnitrade_tui.venues.sim.replay import Replay

SECRET_ENV = "OMNITRADE_SIM_API_SECRET"
_DESCRIPTION = (
    "Run a local exchange that speaks the Binance spot wire protocol, so Binance clients "
    "and bots can trade against it offline. Prints its URLs, a funded demo key and the "
    "token fault injection needs."
)


class _Formatter(argparse.HelpFormatter):
    """Help that wraps between words only: argparse's default also breaks at hyphens,
    which splits option names such as ``--api-secret-file`` across lines."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_on_hyphens=False, break_long_words=False
        )

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 to 65535)")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def register(subparsers: Any) -> None:
    """Add the ``sim`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the simulated venue (speaks the Binance spot API) until interrupted",
        description=_DESCRIPTION,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=8765, help="port (default: %(default)s; 0 picks a free one)"
    )
    parser.add_argument(
        "--symbols",
        default=None,
        metavar="SYM,SYM",
        help="symbols to list, comma-separated (default: "
        f"{', '.join(i.symbol for i in DEFAULT_INSTRUMENTS)}; with --replay, the recorded "
        "ones plus any named here)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the generated market (default: %(default)s)"
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="NAME=VALUE,...",
        help="fault switches, e.g. gap_every_s=30,close_every_s=60; the switches are "
        f"{', '.join(Faults.names())}. Also settable at run time: POST /sim/faults with "
        "a JSON object and the printed token",
    )
    parser.add_argument(
        "--faults-open",
        action="store_true",
        help="let /sim/faults work without the token (tests on a private machine only: "
        "anyone who reaches the port can then break the venue)",
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="CAPTURE.gz",
        help="serve a recorded capture (the format of shared/data/binance/ethusdt_*.gz) "
        "instead of the generated market",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay pace, up to 100 times (default: 1)"
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
        metavar="FILE",
        help="keep accounts, keys, balances and open orders in this file across restarts "
        "(created readable by you only: it holds the API secrets)",
    )
    parser.add_argument(
        "--orders-per-10s",
        type=_positive,
        default=50,
        metavar="N",
        help="new orders an account may send per 10 seconds (default: %(default)s, as Binance)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="register this API key with a funded account (repeatable); its HMAC secret "
        f"comes from --api-secret-file, or ${SECRET_ENV} (several: comma-separated), or "
        "--api-secret, in the order of the keys",
    )
    parser.add_argument(
        "--api-secret-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="file holding the HMAC secret of the matching --api-key (repeatable)",
    )
    parser.add_argument(
        "--api-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="HMAC secret of the matching --api-key (repeatable); every user of the machine "
        f"can read it in the process list, so prefer --api-secret-file or ${SECRET_ENV}",
    )
    parser.add_argument(
        "--ed25519-key",
        action="append",
        default=[],
        metavar="KEY=PUBLIC.pem",
        help="register an API key with its Ed25519 public key in PEM (repeatable)",
    )
    defaults = ", ".join(f"{asset}={amount}" for asset, amount in DEFAULT_BALANCES.items())
    parser.add_argument(
        "--balance",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help=f"starting balance of registered keys (repeatable; default: {defaults})",
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


def api_secrets(args: argparse.Namespace) -> list[str]:
    """The HMAC secrets of ``--api-key``, in order, from one source: files, the
    environment, or (with a warning) the command line."""
    if args.api_secret and args.api_secret_file:
        raise CliError(
            "give the secrets one way: --api-secret-file or --api-secret, not both",
            ExitCode.USAGE,
        )
    if args.api_secret:
        print(
            "omnitrade sim: warning: --api-secret is visible to every user of this machine "
            f"in the process list; use --api-secret-file or ${SECRET_ENV}",
            file=sys.stderr,
        )
        secrets = list(args.api_secret)
        source = "--api-secret"
    elif args.api_secret_file:
        secrets = [_read_secret(path) for path in args.api_secret_file]
        source = "--api-secret-file"
    elif args.api_key and os.environ.get(SECRET_ENV):
        secrets = [s.strip() for s in os.environ[SECRET_ENV].split(",")]
        source = f"${SECRET_ENV}"
    else:
        secrets, source = [], f"--api-secret-file or ${SECRET_ENV}"
    if len(secrets) != len(args.api_key):
        raise CliError(
            f"give one secret for each --api-key ({len(args.api_key)} keys, "
            f"{len(secrets)} secrets from {source})",
            ExitCode.USAGE,
        )
    return secrets


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise CliError(f"--api-secret-file {path}: {reason}", ExitCode.USAGE) from None
    if not secret:
        raise CliError(f"--api-secret-file {path}: the file is empty", ExitCode.USAGE)
    return secret


def run(args: argparse.Namespace) -> int:
    """Serve the venue until SIGINT or SIGTERM."""
    from omnitrade_tui.venues.sim.replay import Replay

    args.symbols_given = args.symbols is not None
    names = args.symbols or ",".join(i.symbol for i in DEFAULT_INSTRUMENTS)
    symbols = [s.strip().upper() for s in names.split(",") if s.strip()]
    try:
        instruments = default_instruments(symbols)
    except ValueError as exc:
        raise CliError(f"--symbols: {exc}", ExitCode.USAGE) from None
    try:
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        raise CliError(f"--faults: {exc}", ExitCode.USAGE) from None
    secrets = api_secrets(args)
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
    hmac_keys = list(zip(args.api_key, secrets, strict=True))
    return asyncio.run(_serve(args, instruments, faults, balances, replay, hmac_keys, ed25519_keys))


async def _serve(
    args: argparse.Namespace,
    instruments: list[Instrument],
    faults: Faults,
    balances: dict[str, str] | None,
    replay: Replay | None,
    hmac_keys: list[tuple[str, str]],
    ed25519_keys: list[tuple[str, str]],
) -> int:
    from omnitrade_tui.venues.sim.state import StateError
    from omnitrade_tui.venues.sim.venue import SimVenue

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
            faults_open=args.faults_open,
        )
    except StateError as exc:
        raise CliError(f"{exc}; move the file away to start afresh", ExitCode.CONFIG) from None
    for key, secret in hmac_keys:
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
        await venue.close()
        reason = (exc.strerror or str(exc)).lower()
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {reason}; is another venue running "
            "there? pick another --port (0 picks a free one)",
            ExitCode.VENUE_UNREACHABLE,
        ) from None
    print(banner(venue), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await venue.close()
    print("omnitrade sim: stopped", file=sys.stderr)
    return int(ExitCode.OK)


def banner(venue: Any) -> str:
    """What ``omnitrade sim`` prints once it serves: where, with which key and token."""
    demo_key, demo_secret = venue.demo_key
    control = f"http://{venue.host}:{venue.port}/sim/faults"
    auth = f"Authorization: Bearer {venue.faults_token}"
    example = f'curl -H "{auth}" -d \'{{"stall_s": 5}}\' {control}'
    token = (
        f"  faults token  {venue.faults_token}\n                {example}\n"
        if venue.faults_token
        else "  faults token  none (--faults-open)\n"
    )
    return (
        "omnitrade sim: serving the simulated Binance spot venue\n"
        f"  REST          {venue.rest_url}/v3/...\n"
        f"  streams       {venue.stream_url}ws/<stream>\n"
        f"                {venue.stream_url}stream?streams=<a>/<b>\n"
        f"  WebSocket API {venue.ws_api_url}\n"
        f"  faults        POST {control}\n"
        f"{token}"
        f"  symbols       {', '.join(venue.markets)}\n"
        f"  demo key      {demo_key}\n"
        f"  demo secret   {demo_secret}\n"
        "Ctrl-C stops it."
    )
