"""Settings: profiles, UI, storage URLs and risk limits, from file < environment < flags.

The config file is TOML in the platform's config directory (``config.toml``). It is read
with ``tomllib`` and checked against typed ``msgspec`` structs, so a mistake is reported with
its path in the file (``$.profiles.box.risk.max_open_orders``) instead of surfacing later.
Writing goes through ``tomli_w`` (``dump_toml``: the key index, a starter config).

Secrets never live here: a profile names a key (``key = "main"``) and the key store holds it.

Built-in profiles: ``sim`` (default, the in-process simulated venue), ``testnet``, ``demo``
and ``live`` (Binance spot). A profile in the file with a built-in's name overrides only what
it sets; any other name defines a custom profile, which must give its own URLs.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import platformdirs
import tomli_w

from omnitrade_tui.domain.risk_limits import RiskLimits
from omnitrade_tui.domain.venue import InstrumentIdError, check_venue_name, parse
from omnitrade_tui.redaction import register_secret

APP_NAME = "omnitrade"
CONFIG_FILE_NAME = "config.toml"
DEFAULT_PROFILE = "sim"
LIVE_CONFIRMATION = "LIVE"


class ConfigError(Exception):
    """The config file (or an OMNITRADE_* variable) is unreadable or invalid."""


class FlagError(ConfigError):
    """A command-line flag is wrong (a bad value, or one that needs others): the file is fine."""


class UnknownProfileError(ConfigError):
    """A profile was asked for that is neither built in nor defined in the config file."""


class LiveNotConfirmedError(Exception):
    """LIVE was chosen without ``--profile`` on the command line and a typed ``LIVE``."""


# -- what the file may contain -------------------------------------------------------------


class VenueFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One ``[profiles.NAME.venues.VENUE]`` table: a venue beside the profile's first.

    ``kind`` is ``ccxt`` (the venue reached through ccxt; ``exchange`` is ccxt's id of it,
    ``options`` go to ccxt's client). The URLs point a ccxt Binance client at another host
    that speaks Binance (a testnet, ``omnitrade sim``); ``simulated = true`` starts a
    simulated venue in-process for it instead (a demo of several venues with no network).
    """

    kind: str = "ccxt"
    exchange: str | None = None
    rest_url: str | None = None
    ws_api_url: str | None = None
    stream_url: str | None = None
    simulated: bool = False
    seed: int | None = None
    key: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    risk: RiskLimits | None = None


class ProfileFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One ``[profiles.NAME]`` table: its own venue (the first), then any others."""

    venue: str | None = None
    rest_url: str | None = None
    ws_api_url: str | None = None
    stream_url: str | None = None
    live: bool | None = None
    key: str | None = None
    risk: RiskLimits | None = None
    #: With ``venue = "ccxt"``: the profile's own venue through ccxt (as in a venue table).
    exchange: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    simulated: bool = False
    seed: int | None = None
    venues: dict[str, VenueFile] = msgspec.field(default_factory=dict)


class SizePresets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Quick sizes of one symbol's ticket (``[ui.sizes.BTCUSDT]``), in the base asset:
    ``default`` is the quantity a ticket opens with, ``presets`` are chosen with 1..9."""

    default: Decimal | None = None
    presets: list[Decimal] = msgspec.field(default_factory=list)


class UIFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``[ui]`` table."""

    frame_rate: int | None = None
    theme: str | None = None
    keys: dict[str, str] = msgspec.field(default_factory=dict)
    watchlist: list[str] | None = None
    mouse: bool | None = None
    confirm_orders: bool | None = None
    stale_after_s: float | None = None
    desktop_notify: str | None = None
    utc_time: bool | None = None
    sizes: dict[str, SizePresets] = msgspec.field(default_factory=dict)


class AlertTarget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ``[alerts.targets.NAME]`` table: where an alert rule may be delivered besides the
    screen. ``url``: an HTTP(S) webhook that gets the alert as a JSON POST; ``command``: a
    program and its arguments (no shell) that gets it as JSON on standard input."""

    url: str | None = None
    command: list[str] | None = None
    timeout_s: float = 5.0
    retries: int = 3


class AlertsFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``[alerts]`` table."""

    targets: dict[str, AlertTarget] = msgspec.field(default_factory=dict)


class ConfigFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole config file."""

    profile: str | None = None
    db_url: str | None = None
    #: A streaming replica of ``db_url`` for history reads (PostgreSQL); writes stay on it.
    db_read_url: str | None = None
    #: Days of market data kept in PostgreSQL's day partitions (older ones are dropped).
    market_retention_days: int | None = None
    #: Where market data comes from: "venue" (its streams) or "redis" (the feed another
    #: run publishes on ``market_data_stream`` at ``redis_url``).
    market_data: str | None = None
    market_data_stream: str | None = None
    redis_url: str | None = None
    metrics_port: int | None = None
    #: Where ``/metrics``, ``/livez`` and ``/readyz`` listen (loopback unless set).
    metrics_host: str | None = None
    log_level: str | None = None
    key_backend: str | None = None
    ui: UIFile = msgspec.field(default_factory=UIFile)
    profiles: dict[str, ProfileFile] = msgspec.field(default_factory=dict)
    alerts: AlertsFile = msgspec.field(default_factory=AlertsFile)


# -- resolved settings ---------------------------------------------------------------------


class VenueProfile(msgspec.Struct, frozen=True, kw_only=True):
    """A venue of a profile beside its first: its name (the ``@venue`` of its instrument
    ids), how it is reached, its key's name in the key store and its own risk limits."""

    name: str
    kind: str
    exchange: str
    rest_url: str | None = None
    ws_api_url: str | None = None
    stream_url: str | None = None
    simulated: bool = False
    seed: int = 2
    key: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A venue to trade on and the limits to trade under; ``venues`` are further venues
    traded beside it (their instrument ids end in ``@name``).

    ``venue`` is ``"sim"`` (the simulated venue, started in-process on a loopback port, so its
    URLs are ``None`` until it runs) or ``"binance"``. ``rest_url`` is the REST base without
    ``/api``; ``stream_url`` is the market-stream base to which ``/ws`` or ``/stream`` is added.
    """

    name: str
    venue: str
    rest_url: str | None
    ws_api_url: str | None
    stream_url: str | None
    live: bool = False
    key: str | None = None
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    venues: tuple[VenueProfile, ...] = ()
    #: With ``venue == "ccxt"``: how the profile's own venue is reached through ccxt.
    ccxt: VenueProfile | None = None

    @property
    def venue_names(self) -> tuple[str, ...]:
        """Every venue's qualifier, the first's (``""``) first."""
        return ("", *(v.name for v in self.venues))

    @property
    def label(self) -> str:
        """What the status bar shows: ``LIVE`` for real money, else the profile's name."""
        return "LIVE" if self.live else self.name.upper()


_SIM_RISK = RiskLimits(price_band_pct=Decimal(10), max_open_orders=200, max_orders_per_second=20)
_EXCHANGE_RISK = RiskLimits(
    max_order_notional=Decimal(1000),
    price_band_pct=Decimal(5),
    max_open_orders=50,
    max_orders_per_second=5,
)

BUILTIN_PROFILES: dict[str, Profile] = {
    "sim": Profile(
        name="sim", venue="sim", rest_url=None, ws_api_url=None, stream_url=None, risk=_SIM_RISK
    ),
    "testnet": Profile(
        name="testnet",
        venue="binance",
        rest_url="https://testnet.binance.vision",
        ws_api_url="wss://ws-api.testnet.binance.vision/ws-api/v3",
        stream_url="wss://stream.testnet.binance.vision",
        risk=_EXCHANGE_RISK,
    ),
    "demo": Profile(
        name="demo",
        venue="binance",
        rest_url="https://demo-api.binance.com",
        ws_api_url="wss://demo-ws-api.binance.com/ws-api/v3",
        stream_url="wss://demo-stream.binance.com:9443",
        risk=_EXCHANGE_RISK,
    ),
    "live": Profile(
        name="live",
        venue="binance",
        rest_url="https://api.binance.com",
        ws_api_url="wss://ws-api.binance.com:443/ws-api/v3",
        stream_url="wss://stream.binance.com:9443",
        live=True,
        risk=_EXCHANGE_RISK,
    ),
}

_VENUES = ("sim", "binance", "ccxt")
_KEY_BACKENDS = ("auto", "keyring", "file", "env")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class AppDirs:
    """Where the app keeps its config, its state (logs) and its data (database, key file).

    Each may be moved with ``OMNITRADE_CONFIG_DIR``, ``OMNITRADE_STATE_DIR`` and
    ``OMNITRADE_DATA_DIR`` (a sandbox, a container volume, a test).
    """

    config: Path
    state: Path
    data: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppDirs:
        """The platform's directories, unless the environment moves them."""
        env = os.environ if env is None else env
        return cls(
            config=Path(env.get("OMNITRADE_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)),
            state=Path(env.get("OMNITRADE_STATE_DIR") or platformdirs.user_state_dir(APP_NAME)),
            data=Path(env.get("OMNITRADE_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)),
        )

    @property
    def log_dir(self) -> Path:
        """Folder of the rotating JSON log."""
        return self.state / "logs"


@dataclass(frozen=True)
class UISettings:
    """How the terminal app looks and reacts."""

    frame_rate: int = 30
    theme: str = "omnitrade-dark"
    keys: dict[str, str] = field(default_factory=dict)
    #: Symbols of the watchlist; the first is active at start.
    watchlist: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
    #: Mouse reporting costs bytes on every move over SSH; off with ``mouse = false``.
    mouse: bool = True
    #: Ask before sending an order. Always on for a LIVE profile, whatever this says.
    confirm_orders: bool = False
    #: A market stream silent this long is shown STALE (and a silent book is checked).
    stale_after_s: float = 2.0
    #: Desktop notifications through the terminal for alerts: auto (by what the terminal
    #: says it is), osc9, osc777 or off.
    desktop_notify: str = "auto"
    #: Times of day in UTC; by default in the local zone (named once in the status bar).
    utc_time: bool = False
    #: Quick sizes of the ticket by symbol: the quantity it opens with, presets on 1..9.
    sizes: dict[str, SizePresets] = field(default_factory=dict)


@dataclass(frozen=True)
class Overrides:
    """What the command line sets; ``None`` leaves the environment's or file's value."""

    profile: str | None = None
    config_file: Path | None = None
    db_url: str | None = None
    redis_url: str | None = None
    metrics_port: int | None = None
    log_level: str | None = None
    key_backend: str | None = None
    rest_url: str | None = None
    ws_api_url: str | None = None
    stream_url: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved.

    ``profile_source`` says where the profile choice came from (``default``, ``file``,
    ``env`` or ``flag``): a LIVE profile is only accepted from ``flag``.
    """

    profile: Profile
    profiles: dict[str, Profile]
    ui: UISettings
    db_url: str
    redis_url: str | None
    metrics_port: int | None
    log_level: str
    key_backend: str
    dirs: AppDirs
    config_file: Path
    profile_source: str
    #: Alert delivery targets by name (``[alerts.targets]``); rules name them.
    alert_targets: dict[str, AlertTarget] = field(default_factory=dict)
    #: History reads go here when set (a streaming replica of ``db_url``).
    db_read_url: str | None = None
    #: The metrics and health endpoints' address: loopback unless the file or
    #: ``OMNITRADE_METRICS_HOST`` says (a container's Prometheus scrapes from outside).
    metrics_host: str = "127.0.0.1"
    #: Days of market data the recorder keeps on PostgreSQL (None: all).
    market_retention_days: int | None = None
    #: ``venue`` (its own streams) or ``redis`` (the Redis Streams feed of another run).
    market_data: str = "venue"
    #: The Redis stream of that feed (``record --redis-stream``).
    market_data_stream: str = "omt:bus"


# -- loading -------------------------------------------------------------------------------


def read_config_file(path: Path, missing_ok: bool = True) -> ConfigFile:
    """Parse and check the config file; a missing file is an empty config if ``missing_ok``.

    Raises:
        ConfigError: missing (unless ``missing_ok``), unreadable, not TOML, or not the
            expected shape.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return ConfigFile()
        raise ConfigError(
            f"config file {path} does not exist (`omnitrade --config {path} config init` "
            "writes a starter)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    # Profiles are checked one by one so an error names its profile: msgspec would say
    # ``$.profiles[...]`` for a dict value.
    raw_profiles = data.pop("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"config file {path}: `profiles` must be a table of profiles")
    try:
        file = msgspec.convert(data, ConfigFile, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    for name, entry in raw_profiles.items():
        try:
            file.profiles[name] = msgspec.convert(entry, ProfileFile, strict=False)
        except msgspec.ValidationError as exc:
            where = str(exc).replace("`$", f"`$.profiles.{name}")
            if "`$" not in str(exc):
                where = f"{exc} - in profiles.{name}"
            raise ConfigError(f"config file {path}: {where}") from None
    return file


def _profiles(file: ConfigFile, path: Path) -> dict[str, Profile]:
    profiles = dict(BUILTIN_PROFILES)
    for name, entry in file.profiles.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(
                f"config file {path}: profile name {name!r} may only use letters, digits, _ and -"
            )
        base = BUILTIN_PROFILES.get(name)
        venue = entry.venue or (base.venue if base else "binance")
        if venue not in _VENUES:
            raise ConfigError(
                f"config file {path}: profile {name!r} has venue {venue!r}; "
                f"expected one of {', '.join(_VENUES)}"
            )
        urls = {
            "rest_url": entry.rest_url or (base.rest_url if base else None),
            "ws_api_url": entry.ws_api_url or (base.ws_api_url if base else None),
            "stream_url": entry.stream_url or (base.stream_url if base else None),
        }
        if venue == "binance":
            missing = [k for k, v in urls.items() if not v]
            if missing:
                raise ConfigError(
                    f"config file {path}: profile {name!r} needs {', '.join(missing)}"
                )
            for k, v in urls.items():
                if v and not re.match(r"^(https?|wss?)://", v):
                    raise ConfigError(
                        f"config file {path}: profile {name!r} {k} {v!r} is not an "
                        "http(s):// or ws(s):// URL"
                    )
        base_risk = base.risk if base else RiskLimits()
        own_ccxt = None
        if venue == "ccxt":
            own = VenueFile(
                kind="ccxt",
                exchange=entry.exchange,
                simulated=entry.simulated,
                seed=entry.seed,
                key=entry.key,
                options=entry.options,
                rest_url=urls["rest_url"],
                ws_api_url=urls["ws_api_url"],
                stream_url=urls["stream_url"],
            )
            own_ccxt = _venue(path, name, "", own, base_risk)
        elif entry.exchange or entry.options or entry.simulated or entry.seed is not None:
            raise ConfigError(
                f"config file {path}: profile {name!r}: exchange, options, simulated and seed "
                'are for venue = "ccxt"'
            )
        profiles[name] = Profile(
            name=name,
            venue=venue,
            ccxt=own_ccxt,
            live=entry.live if entry.live is not None else (base.live if base else False),
            key=entry.key or (base.key if base else None),
            risk=base_risk.merged(entry.risk) if entry.risk else base_risk,
            venues=tuple(
                _venue(path, name, venue_name, v, base_risk)
                for venue_name, v in entry.venues.items()
            ),
            **urls,
        )
    return profiles


_EXTRA_VENUE_KINDS = ("ccxt",)


def _venue(
    path: Path, profile: str, name: str, entry: VenueFile, profile_risk: RiskLimits
) -> VenueProfile:
    """One ``[profiles.PROFILE.venues.NAME]`` table, checked (``name`` empty: the profile's
    own venue, ``venue = "ccxt"`` in ``[profiles.PROFILE]``)."""
    where = f"config file {path}: [profiles.{profile}" + (f".venues.{name}]" if name else "]")
    try:
        if name:
            check_venue_name(name)
    except InstrumentIdError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if entry.kind not in _EXTRA_VENUE_KINDS:
        raise ConfigError(
            f"{where}: kind {entry.kind!r}; a venue beside the profile's first is reached "
            f"through {' or '.join(_EXTRA_VENUE_KINDS)} (the native connector serves the first)"
        )
    if not entry.exchange:
        raise ConfigError(f'{where}: name the ccxt exchange, e.g. exchange = "kraken"')
    urls = {
        "rest_url": entry.rest_url,
        "ws_api_url": entry.ws_api_url,
        "stream_url": entry.stream_url,
    }
    given = [k for k, v in urls.items() if v]
    if given and (entry.exchange != "binance" or len(given) != 3 or entry.simulated):
        raise ConfigError(
            f"{where}: rest_url, ws_api_url and stream_url (all three) point a ccxt binance "
            "venue at another host that speaks Binance; other exchanges and simulated venues "
            "take none"
        )
    if entry.simulated and entry.exchange != "binance":
        raise ConfigError(f'{where}: a simulated venue speaks Binance: exchange = "binance"')
    for k, v in urls.items():
        if v and not re.match(r"^(https?|wss?)://", v):
            raise ConfigError(f"{where}: {k} {v!r} is not an http(s):// or ws(s):// URL")
    return VenueProfile(
        name=name,
        kind=entry.kind,
        exchange=entry.exchange,
        simulated=entry.simulated,
        seed=entry.seed if entry.seed is not None else 2,
        key=entry.key,
        options=dict(entry.options),
        risk=profile_risk.merged(entry.risk) if entry.risk else profile_risk,
        **urls,
    )


def _desktop_notify(value: str | None) -> str:
    """``[ui] desktop_notify``: how alerts reach the desktop through the terminal."""
    if value is None:
        return UISettings.desktop_notify
    if value not in _DESKTOP_NOTIFY:
        raise ConfigError(f"desktop_notify {value!r} is not one of {', '.join(_DESKTOP_NOTIFY)}")
    return value


_DESKTOP_NOTIFY = ("auto", "osc9", "osc777", "off")


def _stale_after(value: float | None) -> float:
    """``[ui] stale_after_s``: seconds of silence before a stream is shown stale."""
    if value is None:
        return UISettings.stale_after_s
    if not 0.2 <= value <= 60:
        raise ConfigError(f"stale_after_s {value} is outside 0.2..60 seconds")
    return float(value)


def _sizes(sizes: dict[str, SizePresets]) -> dict[str, SizePresets]:
    """Quick sizes by upper-case symbol: at most nine presets (keys 1..9), all above zero."""
    out: dict[str, SizePresets] = {}
    for symbol, entry in sizes.items():
        where = f"[ui.sizes.{symbol}]"
        if len(entry.presets) > 9:
            raise ConfigError(f"{where} has {len(entry.presets)} presets; keys 1..9 take nine")
        values = [*entry.presets, *([entry.default] if entry.default is not None else [])]
        if any(not v.is_finite() or v <= 0 for v in values):
            raise ConfigError(f"{where}: sizes must be quantities above zero")
        try:
            out[parse(symbol)] = entry
        except InstrumentIdError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def _watchlist(symbols: list[str] | None) -> tuple[str, ...]:
    if symbols is None:
        return UISettings.watchlist
    try:
        cleaned = tuple(dict.fromkeys(parse(s) for s in symbols if s.strip()))
    except InstrumentIdError as exc:
        raise ConfigError(f"[ui] watchlist: {exc}") from None
    if not cleaned:
        raise ConfigError('[ui] watchlist is empty: name at least one symbol, e.g. ["BTCUSDT"]')
    return cleaned


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a whole number") from None


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    return None


def config_path(overrides: Overrides | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The config file of this run: ``--config``, else ``OMNITRADE_CONFIG``, else the default."""
    env = os.environ if env is None else env
    if overrides is not None and overrides.config_file is not None:
        return overrides.config_file
    if env.get("OMNITRADE_CONFIG"):
        return Path(env["OMNITRADE_CONFIG"])
    return AppDirs.from_env(env).config / CONFIG_FILE_NAME


def load_settings(
    overrides: Overrides | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve the settings of this run: config file < ``OMNITRADE_*`` environment < flags.

    Raises:
        ConfigError: the file or a variable is invalid.
        UnknownProfileError: the chosen profile does not exist.
    """
    flags = overrides or Overrides()
    env = os.environ if env is None else env
    dirs = AppDirs.from_env(env)
    path = config_path(flags, env)
    # The default file may be absent (defaults apply); a file named on purpose may not.
    named = flags.config_file is not None or bool(env.get("OMNITRADE_CONFIG"))
    file = read_config_file(path, missing_ok=not named)
    profiles = _profiles(file, path)

    urls = (flags.rest_url, flags.ws_api_url, flags.stream_url)
    if flags.profile:
        name, source = flags.profile, "flag"
    elif any(urls):
        name, source = "custom", "flag"
    elif env.get("OMNITRADE_PROFILE"):
        name, source = env["OMNITRADE_PROFILE"], "env"
    elif file.profile:
        name, source = file.profile, "file"
    else:
        name, source = DEFAULT_PROFILE, "default"
    if any(urls):
        profiles[name] = _with_urls(profiles.get(name), name, *urls)
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        raise UnknownProfileError(f"unknown profile {name!r} (from {source}); known: {known}")

    log_level = str(
        _first(flags.log_level, env.get("OMNITRADE_LOG_LEVEL"), file.log_level, "INFO")
    ).upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"log level {log_level!r} is not one of {', '.join(_LOG_LEVELS)}")
    key_backend = str(
        _first(flags.key_backend, env.get("OMNITRADE_KEY_BACKEND"), file.key_backend, "auto")
    )
    if key_backend not in _KEY_BACKENDS:
        raise ConfigError(f"key backend {key_backend!r} is not one of {', '.join(_KEY_BACKENDS)}")
    metrics_port = _first(
        flags.metrics_port, _env_int(env, "OMNITRADE_METRICS_PORT"), file.metrics_port
    )
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise ConfigError(f"metrics port {metrics_port} is outside 0..65535")
    frame_rate = _first(_env_int(env, "OMNITRADE_FRAME_RATE"), file.ui.frame_rate, 30)
    if not 1 <= frame_rate <= 240:
        raise ConfigError(f"frame rate {frame_rate} is outside 1..240 frames per second")
    ui = UISettings(
        frame_rate=frame_rate,
        theme=_first(env.get("OMNITRADE_THEME"), file.ui.theme, UISettings.theme),
        keys=dict(file.ui.keys),
        watchlist=_watchlist(file.ui.watchlist),
        mouse=file.ui.mouse if file.ui.mouse is not None else UISettings.mouse,
        confirm_orders=bool(file.ui.confirm_orders),
        stale_after_s=_stale_after(file.ui.stale_after_s),
        desktop_notify=_desktop_notify(file.ui.desktop_notify),
        utc_time=bool(file.ui.utc_time),
        sizes=_sizes(file.ui.sizes),
    )
    db_url = _first(
        flags.db_url,
        env.get("OMNITRADE_DB_URL"),
        file.db_url,
        f"sqlite:///{dirs.data / 'omnitrade.db'}",
    )
    redis_url = _first(flags.redis_url, env.get("OMNITRADE_REDIS_URL"), file.redis_url)
    db_read_url = _first(env.get("OMNITRADE_DB_READ_URL"), file.db_read_url)
    metrics_host = str(_first(env.get("OMNITRADE_METRICS_HOST"), file.metrics_host, "127.0.0.1"))
    retention = _first(_env_int(env, "OMNITRADE_MARKET_RETENTION_DAYS"), file.market_retention_days)
    if retention is not None and retention < 1:
        raise ConfigError(f"market retention {retention} days: keep at least 1 day")
    market_data = str(_first(env.get("OMNITRADE_MARKET_DATA"), file.market_data, "venue"))
    if market_data not in ("venue", "redis"):
        raise ConfigError(f"market_data {market_data!r} is not venue or redis")
    if market_data == "redis" and not redis_url:
        raise ConfigError('market_data = "redis" needs redis_url (or OMNITRADE_REDIS_URL)')
    market_data_stream = str(
        _first(env.get("OMNITRADE_MARKET_DATA_STREAM"), file.market_data_stream, "omt:bus")
    )
    for url in (db_url, redis_url, db_read_url):
        _protect_url_password(url)
    for target_name, target in file.alerts.targets.items():
        _check_alert_target(path, target_name, target)
    return Settings(
        profile=profiles[name],
        profiles=profiles,
        ui=ui,
        db_url=db_url,
        redis_url=redis_url,
        metrics_port=metrics_port,
        log_level=log_level,
        key_backend=key_backend,
        dirs=dirs,
        config_file=path,
        profile_source=source,
        alert_targets=dict(file.alerts.targets),
        db_read_url=db_read_url,
        metrics_host=metrics_host,
        market_retention_days=retention,
        market_data=market_data,
        market_data_stream=market_data_stream,
    )


def _check_alert_target(path: Path, name: str, target: AlertTarget) -> None:
    where = f"{path}: [alerts.targets.{name}]"
    if (target.url is None) == (target.command is None):
        raise ConfigError(f"{where} needs exactly one of url or command")
    if target.url is not None and not target.url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} url must start with http:// or https://")
    if target.command is not None and (not target.command or not target.command[0]):
        raise ConfigError(f'{where} command must name a program, e.g. ["notify-send"]')
    if not 0 < target.timeout_s <= 60 or not 1 <= target.retries <= 10:
        raise ConfigError(f"{where} timeout_s must be in (0, 60] and retries in 1..10")


def _with_urls(
    base: Profile | None, name: str, rest: str | None, ws_api: str | None, stream: str | None
) -> Profile:
    """``base`` (or a new Binance-compatible profile) with the URLs given on the command line.

    A URL left out keeps the profile's; a new profile needs all three.
    """
    for label, url in (("--rest-url", rest), ("--ws-api-url", ws_api), ("--stream-url", stream)):
        if url is not None and not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise FlagError(f"{label} {url!r} is not an http(s):// or ws(s):// URL")
    if base is None or base.venue == "sim":
        missing = [
            n
            for n, u in (("--rest-url", rest), ("--ws-api-url", ws_api), ("--stream-url", stream))
            if not u
        ]
        if missing:
            raise FlagError(
                f"profile {name!r} needs all three venue URLs; missing {', '.join(missing)} "
                "(or add --profile NAME to change only some of a profile's URLs)"
            )
        return Profile(
            name=name,
            venue="binance",
            rest_url=rest,
            ws_api_url=ws_api,
            stream_url=stream,
            risk=base.risk if base is not None else _EXCHANGE_RISK,
        )
    return msgspec.structs.replace(
        base,
        rest_url=rest or base.rest_url,
        ws_api_url=ws_api or base.ws_api_url,
        stream_url=stream or base.stream_url,
    )


_SOURCE_NAMES = {"file": "the config file", "env": "OMNITRADE_PROFILE", "default": "default"}


def _protect_url_password(url: str | None) -> None:
    """Register the password of a database/Redis URL, so logs mask it like any secret."""
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            return
        if password:
            register_secret(password)


def masked_url(url: str | None) -> str:
    """``url`` with its password replaced by ``***``, for display and logs."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def confirm_live(settings: Settings, ask: Callable[[str], str] | None) -> None:
    """Let a LIVE run start only when asked for on the command line and confirmed by typing.

    The CLI calls this before the app starts. ``ask`` shows a prompt and returns what the
    person typed; ``None`` means there is nobody to ask (no terminal). Non-live profiles pass.

    Raises:
        LiveNotConfirmedError: LIVE came from the file or environment, there is no terminal,
            or the answer was not exactly ``LIVE``.
    """
    profile = settings.profile
    if not profile.live:
        return
    if settings.profile_source != "flag":
        raise LiveNotConfirmedError(
            f"profile {profile.name!r} trades real money and was chosen by "
            f"{_SOURCE_NAMES.get(settings.profile_source, settings.profile_source)}; "
            "choose it on the command line: "
            f"omnitrade --profile {profile.name}"
        )
    if ask is None:
        raise LiveNotConfirmedError(
            f"profile {profile.name!r} trades real money and needs a typed confirmation, "
            "but there is no terminal to ask on"
        )
    prompt = (
        f"Profile {profile.name!r} trades REAL MONEY on {profile.rest_url}.\n"
        f"Type {LIVE_CONFIRMATION} to continue: "
    )
    try:
        answer = ask(prompt)
    except EOFError:
        answer = ""
    if answer.strip() != LIVE_CONFIRMATION:
        raise LiveNotConfirmedError(
            f"LIVE not confirmed (expected {LIVE_CONFIRMATION!r} typed exactly); nothing started"
        )


# -- writing -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as tomli-w writes it: a Decimal as its exact string (a TOML float would
    round), a tuple as a list, ``None`` left out of tables (TOML has no null)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: Mapping[str, Any]) -> str:
    """TOML text of nested mappings of strings, numbers, Decimals, booleans and lists.

    ``None`` values are left out (TOML has no null).
    """
    return tomli_w.dumps(_plain(data))


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` atomically, readable by the owner only (0600).

    A folder it has to create is the owner's only too (0700): it holds keys and tokens, and
    a world-listable folder tells everyone on a shared box which profiles have them.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # A temporary file left by a crash keeps its old mode through O_CREAT: start afresh.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
