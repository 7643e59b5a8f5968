"""Settings: built-in and custom profiles, precedence file < env < flags, typed errors, LIVE."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import (
    AppDirs,
    ConfigError,
    LiveNotConfirmedError,
    Overrides,
    UnknownProfileError,
    confirm_live,
    dump_toml,
    load_settings,
)

from .helpers import write_config


def test_defaults_without_a_file(app_dirs: AppDirs) -> None:
    s = load_settings()
    assert s.profile.name == "sim"
    assert s.profile_source == "default"
    assert s.profile.venue == "sim"
    assert s.ui.frame_rate == 30
    assert s.db_url == f"sqlite:///{app_dirs.data / 'omnitrade.db'}"
    assert s.redis_url is None
    assert s.config_file == app_dirs.config / "config.toml"


def test_builtin_urls() -> None:
    s = load_settings(Overrides(profile="testnet"), env={})
    assert s.profile.rest_url == "https://testnet.binance.vision"
    assert s.profile.ws_api_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    assert s.profiles["live"].rest_url == "https://api.binance.com"
    assert s.profiles["live"].live
    assert s.profiles["live"].label == "LIVE"
    assert s.profiles["demo"].rest_url == "https://demo-api.binance.com"
    assert not s.profiles["demo"].live


def test_custom_profile_and_risk_override(app_dirs: AppDirs) -> None:
    write_config(
        app_dirs,
        """
profile = "box"
[ui]
frame_rate = 20
theme = "mono"
[ui.keys]
buy = "f1"
[profiles.box]
rest_url = "http://127.0.0.1:8080"
ws_api_url = "ws://127.0.0.1:8080/ws-api/v3"
stream_url = "ws://127.0.0.1:8080"
key = "mine"
[profiles.box.risk]
max_order_notional = "250.50"
max_position = { BTC = "0.5" }
max_orders_per_second = 2
[profiles.live.risk]
max_open_orders = 3
""",
    )
    s = load_settings()
    assert s.profile_source == "file"
    box = s.profile
    assert (box.name, box.venue, box.key) == ("box", "binance", "mine")
    assert box.risk.max_order_notional == Decimal("250.50")
    assert box.risk.max_position == {"BTC": Decimal("0.5")}
    assert box.risk.max_orders_per_second == 2
    assert box.risk.price_band_pct is None
    live = s.profiles["live"]
    assert live.risk.max_open_orders == 3
    assert live.risk.max_order_notional == Decimal(1000)  # built-in kept
    assert live.rest_url == "https://api.binance.com"
    assert s.ui.frame_rate == 20
    assert s.ui.keys == {"buy": "f1"}


def test_precedence_file_env_flag(app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(app_dirs, 'profile = "demo"\ndb_url = "sqlite:///file.db"\nmetrics_port = 9000\n')
    assert load_settings().db_url == "sqlite:///file.db"
    monkeypatch.setenv("OMNITRADE_PROFILE", "testnet")
    monkeypatch.setenv("OMNITRADE_DB_URL", "postgresql://env/db")
    monkeypatch.setenv("OMNITRADE_METRICS_PORT", "9100")
    s = load_settings()
    assert (s.profile.name, s.profile_source, s.db_url, s.metrics_port) == (
        "testnet",
        "env",
        "postgresql://env/db",
        9100,
    )
    s = load_settings(Overrides(profile="sim", db_url="sqlite:///flag.db", metrics_port=0))
    assert (s.profile.name, s.profile_source, s.db_url, s.metrics_port) == (
        "sim",
        "flag",
        "sqlite:///flag.db",
        0,
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("profile = [", "not valid TOML"),
        ("[ui]\nframe_rate = 'fast'", "$.ui.frame_rate"),
        ("colour = 1", "unknown field `colour`"),
        ("[profiles.x]\nrest_url = 'http://a'", "needs ws_api_url, stream_url"),
        ("[profiles.x]\nvenue = 'kraken'", "venue 'kraken'"),
        ("[profiles.live.risk]\nmax_open_orders = 'many'", "$.profiles.live.risk.max_open_orders"),
        ("[ui]\nframe_rate = 0", "frame rate 0"),
    ],
)
def test_invalid_file_is_a_config_error(app_dirs: AppDirs, text: str, fragment: str) -> None:
    write_config(app_dirs, text)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert fragment in str(exc.value)
    assert not isinstance(exc.value, UnknownProfileError)


def test_bad_env_number_names_the_variable(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNITRADE_METRICS_PORT", "nine")
    with pytest.raises(ConfigError, match="OMNITRADE_METRICS_PORT"):
        load_settings()


def test_unknown_profile(app_dirs: AppDirs) -> None:
    with pytest.raises(UnknownProfileError, match=r"'nope'.*known: demo, live, sim, testnet"):
        load_settings(Overrides(profile="nope"))


def test_dump_toml_round_trips() -> None:
    data = {
        "name": 'a "quoted" \\ value',
        "n": 3,
        "on": True,
        "price": Decimal("0.00000001"),
        "skip": None,
        "tags": ["x", "y"],
        "keys": {"main": {"kind": "hmac", "fingerprint": "ab:cd"}, "odd key": {"n": 1}},
    }
    parsed = tomllib.loads(dump_toml(data))
    assert parsed == {
        "name": 'a "quoted" \\ value',
        "n": 3,
        "on": True,
        "price": "0.00000001",
        "tags": ["x", "y"],
        "keys": {"main": {"kind": "hmac", "fingerprint": "ab:cd"}, "odd key": {"n": 1}},
    }


# -- LIVE ----------------------------------------------------------------------------------


def test_live_needs_the_typed_word(app_dirs: AppDirs) -> None:
    s = load_settings(Overrides(profile="live"))
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return "live"  # not exactly LIVE

    with pytest.raises(LiveNotConfirmedError):
        confirm_live(s, ask)
    assert "REAL MONEY" in asked[0]
    with pytest.raises(LiveNotConfirmedError, match="no terminal"):
        confirm_live(s, None)
    confirm_live(s, lambda _: "LIVE")  # confirmed: no error


def test_live_from_file_or_env_is_refused_even_when_typed(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(app_dirs, 'profile = "live"\n')
    with pytest.raises(LiveNotConfirmedError, match="--profile live"):
        confirm_live(load_settings(), lambda _: "LIVE")
    monkeypatch.setenv("OMNITRADE_PROFILE", "live")
    with pytest.raises(LiveNotConfirmedError, match="OMNITRADE_PROFILE"):
        confirm_live(load_settings(), lambda _: "LIVE")


def test_custom_live_profile_is_guarded_too(app_dirs: AppDirs) -> None:
    write_config(
        app_dirs,
        "[profiles.prod2]\nlive = true\nrest_url = 'https://api1.binance.com'\n"
        "ws_api_url = 'wss://ws-api.binance.com/ws-api/v3'\n"
        "stream_url = 'wss://stream.binance.com:9443'\n",
    )
    s = load_settings(Overrides(profile="prod2"))
    assert s.profile.label == "LIVE"
    with pytest.raises(LiveNotConfirmedError):
        confirm_live(s, lambda _: "no")


def test_non_live_needs_no_confirmation(app_dirs: AppDirs) -> None:
    def ask(prompt: str) -> str:
        raise AssertionError("must not ask")

    confirm_live(load_settings(Overrides(profile="testnet")), ask)


def test_cli_refuses_live_without_confirmation(
    app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest's stdin is not a terminal: nobody can type LIVE.
    assert main(["--profile", "live"]) == ExitCode.LIVE_NOT_CONFIRMED
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_cli_maps_config_errors(app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "nope"]) == ExitCode.PROFILE
    assert "unknown profile 'nope'" in capsys.readouterr().err
    write_config(app_dirs, "profile = [")
    assert main([]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert err.startswith("omnitrade: config file")
    assert err.count("\n") == 1


def test_url_flags_alone_make_a_custom_profile(app_dirs: AppDirs) -> None:
    s = load_settings(
        Overrides(
            rest_url="http://127.0.0.1:8765",
            ws_api_url="ws://127.0.0.1:8765/ws-api/v3",
            stream_url="ws://127.0.0.1:8765",
        )
    )
    assert s.profile.name == "custom"
    assert s.profile.venue == "binance"
    assert s.profile.rest_url == "http://127.0.0.1:8765"
    assert s.profile_source == "flag"
    assert not s.profile.live


def test_url_flags_override_one_url_of_a_profile(app_dirs: AppDirs) -> None:
    s = load_settings(Overrides(profile="testnet", stream_url="wss://mirror.example/stream"))
    assert s.profile.stream_url == "wss://mirror.example/stream"
    assert s.profile.rest_url == "https://testnet.binance.vision"


def test_url_flags_refuse_a_partial_new_profile_and_a_bad_scheme(app_dirs: AppDirs) -> None:
    with pytest.raises(ConfigError, match="missing --ws-api-url, --stream-url"):
        load_settings(Overrides(rest_url="http://127.0.0.1:1"))
    with pytest.raises(ConfigError, match="not an http"):
        load_settings(Overrides(profile="testnet", rest_url="ftp://x"))
