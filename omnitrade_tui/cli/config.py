"""``omnitrade config``: where the config file is, what the settings resolve to, a starter file."""

from __future__ import annotations

import argparse
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args
from omnitrade_tui.config import (
    VenueProfile,
    config_path,
    load_settings,
    masked_url,
    read_config_file,
    write_private_file,
)

STARTER_CONFIG = """\
# omnitrade configuration. Precedence: this file < OMNITRADE_* environment < command-line flags.
# Secrets never go here: API keys live in the key store (`omnitrade keys add`).

# Profile used when --profile is not given: sim (default), testnet, demo, or one below.
# "live" is refused from here on purpose: choose it on the command line and confirm it.
profile = "sim"

# History database (SQLite by default, in the data directory) and optional Redis.
# db_url = "postgresql+asyncpg://omnitrade@localhost/omnitrade"
# db_read_url = "postgresql+asyncpg://omnitrade@replica/omnitrade"   # history reads (a replica)
# redis_url = "redis://localhost:6379/0"

# metrics_port = 9464          # serve Prometheus metrics, /livez and /readyz on 127.0.0.1:9464
# metrics_host = "0.0.0.0"     # ... on every address instead (a container)
# log_level = "INFO"           # DEBUG, INFO, WARNING, ERROR
# key_backend = "auto"         # auto, keyring, file (encrypted, for headless boxes), env

[ui]
frame_rate = 30
theme = "omnitrade-dark"
# stale_after_s = 2.0          # a market stream silent this long shows STALE

[ui.keys]
# buy = "b"
# sell = "s"

# [ui.sizes.BTCUSDT]           # quick sizes: the ticket opens with `default`,
# default = "0.01"             # keys 1..9 pick a preset (in the base asset)
# presets = ["0.001", "0.005", "0.01", "0.05", "0.1"]

# Limits of a built-in profile: set only what you want to change.
[profiles.testnet.risk]
max_order_notional = "1000"    # in the quote asset; strings keep decimals exact
price_band_pct = "5"           # a limit price may be at most 5% from the mid
max_open_orders = 50
max_orders_per_second = 5
# max_position = { BTC = "0.5", ETH = "5" }

# A custom profile: a Binance-compatible venue of your own.
# [profiles.mybox]
# rest_url = "http://127.0.0.1:8080"
# ws_api_url = "ws://127.0.0.1:8080/ws-api/v3"
# stream_url = "ws://127.0.0.1:8080"
# key = "mybox"                # a key name from `omnitrade keys list`
# live = false                 # true: real money, guarded like "live"
# [profiles.mybox.risk]
# max_order_notional = "250"
"""


def register(subparsers: Any) -> None:
    """Add the ``config`` subcommand and its ``path``, ``show`` and ``init``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config",
        help="show the config file's path, the resolved settings, or write a starter file",
        description="Settings come from the config file, then OMNITRADE_* variables, then flags.",
    )
    parser.set_defaults(handler=_show)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    actions.add_parser("path", help="print the config file's path").set_defaults(handler=_path)
    actions.add_parser("show", help="print the resolved settings").set_defaults(handler=_show)
    init = actions.add_parser("init", help="write a commented starter config file")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(handler=_init)


def _path(args: argparse.Namespace) -> int:
    # The path alone: it is asked for to create the file, so it need not exist or be valid.
    print(config_path(overrides_from_args(args)))
    return int(ExitCode.OK)


def _show(args: argparse.Namespace) -> int:
    s = load_settings(overrides_from_args(args))
    p = s.profile
    exists = "" if s.config_file.exists() else " (not created: defaults apply)"
    rows = [
        ("config file", f"{s.config_file}{exists}"),
        ("profile", f"{p.name} [{p.label}] from {s.profile_source}"),
        *(
            [("venue", p.venue), _venue_row(p.ccxt)]
            if p.ccxt is not None
            else [
                ("venue", p.venue),
                ("rest", p.rest_url or "in-process"),
                ("ws-api", p.ws_api_url or "in-process"),
                ("streams", p.stream_url or "in-process"),
                ("key", p.key or "(resolved at start)"),
            ]
        ),
        ("risk", _limits(p.risk)),
        *(_venue_row(v) for v in p.venues),
        # One history: every command that reads or writes it resolves these the same way.
        ("database", f"{masked_url(s.db_url)} (app, record, history, gateway)"),
        ("history reads", masked_url(s.db_read_url) if s.db_read_url else "the database"),
        ("redis", f"{masked_url(s.redis_url)} (record)" if s.redis_url else "off"),
        (
            "metrics",
            f"{s.metrics_host}:{s.metrics_port}" if s.metrics_port is not None else "off",
        ),
        ("log level", s.log_level),
        ("logs", str(s.dirs.log_dir)),
        ("data", f"{s.dirs.data} (the recorder's journal: {s.dirs.data / 'spill'})"),
        ("key store", s.key_backend),
        ("ui", f"{s.ui.frame_rate} fps, theme {s.ui.theme}, {len(s.ui.keys)} key overrides"),
        ("profiles", ", ".join(sorted(s.profiles))),
    ]
    for name, value in rows:
        print(f"{name:<12} {value}")
    return int(ExitCode.OK)


def _venue_row(venue: VenueProfile) -> tuple[str, str]:
    """One venue beside the profile's first: how it is reached, its key, its limits."""
    where = (
        "simulated in-process"
        if venue.simulated
        else masked_url(venue.rest_url)
        if venue.rest_url
        else "the exchange's own URLs"
    )
    key = venue.key or ("the sim's demo key" if venue.simulated else "none: market data only")
    return (
        f"venue @{venue.name}" if venue.name else "reached by",
        f"{venue.kind} {venue.exchange}, {where}, key {key}, risk {_limits(venue.risk)}",
    )


def _limits(risk: Any) -> str:
    parts = [
        f"{name}={value}"
        for name in (
            "max_order_notional",
            "price_band_pct",
            "max_open_orders",
            "max_orders_per_second",
        )
        if (value := getattr(risk, name)) is not None
    ]
    parts += [f"max_position[{a}]={v}" for a, v in sorted(risk.max_position.items())]
    return ", ".join(parts) or "none"


def _init(args: argparse.Namespace) -> int:
    # The path alone: ``init --force`` must work even when the current file is broken.
    path = config_path(overrides_from_args(args))
    if path.exists() and not args.force:
        raise CliError(f"{path} exists; use --force to replace it", ExitCode.CONFIG)
    write_private_file(path, STARTER_CONFIG)
    read_config_file(path)  # the starter must itself be valid
    print(f"wrote {path}")
    return int(ExitCode.OK)
