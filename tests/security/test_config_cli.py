"""``omnitrade config``: path, show (with masked passwords) and a valid starter file."""

from __future__ import annotations

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import AppDirs, load_settings

from .helpers import write_config


def test_path_init_show(app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == str(app_dirs.config / "config.toml")
    assert main(["config", "init"]) == ExitCode.OK
    assert "wrote" in capsys.readouterr().out
    settings = load_settings()  # the starter file is valid and means what it says
    assert settings.profile.name == "sim"
    assert settings.profiles["testnet"].risk.max_open_orders == 50
    assert main(["config", "init"]) == ExitCode.CONFIG
    assert "--force" in capsys.readouterr().err

    write_config(app_dirs, 'db_url = "postgresql://u:db-password-123@h/db"\n')
    assert main(["--profile", "testnet", "config", "show"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "testnet [TESTNET] from flag" in out
    assert "https://testnet.binance.vision" in out
    assert "postgresql://u:***@h/db" in out
    assert "db-password-123" not in out
    assert "max_order_notional=1000" in out


def test_init_force_repairs_a_broken_file(
    app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(app_dirs, "profile = [")
    assert main(["config", "show"]) == ExitCode.CONFIG
    assert main(["config", "init", "--force"]) == ExitCode.OK
    assert main(["config", "show"]) == ExitCode.OK


def test_flags_beat_the_environment(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMNITRADE_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("OMNITRADE_METRICS_PORT", "9000")
    assert main(["--log-level", "debug", "--metrics-port", "9464", "config", "show"]) == 0
    out = capsys.readouterr().out
    assert "log level    DEBUG" in out
    assert "metrics      127.0.0.1:9464" in out
    app_dirs.config.mkdir(parents=True, exist_ok=True)
    other = app_dirs.config / "other.toml"
    other.write_text('profile = "demo"\n')
    assert main(["--config", str(other), "config", "show"]) == 0
    assert "demo [DEMO] from file" in capsys.readouterr().out


def test_a_named_config_file_must_exist_and_init_writes_it(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    named = app_dirs.config / "box.toml"
    monkeypatch.setenv("OMNITRADE_CONFIG", str(named))
    assert main(["config", "show"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"config file {named} does not exist" in err
    assert main(["config", "path"]) == ExitCode.OK  # the path alone: it is for creating it
    assert capsys.readouterr().out.strip() == str(named)
    # What the message proposes works.
    monkeypatch.delenv("OMNITRADE_CONFIG")
    assert main(["--config", str(named), "config", "init"]) == ExitCode.OK
    assert main(["--config", str(named), "config", "show"]) == ExitCode.OK
    assert f"config file  {named}\n" in capsys.readouterr().out


def test_show_lists_each_venue_of_the_profile(
    app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(
        app_dirs,
        "[profiles.sim.venues.alt]\n"
        'exchange = "binance"\n'
        "simulated = true\n"
        "[profiles.sim.venues.okx]\n"
        'exchange = "okx"\n'
        'key = "okx-main"\n'
        "risk = { max_open_orders = 5 }\n",
    )
    assert main(["config", "show"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "venue @alt   ccxt binance, simulated in-process, key the sim's demo key" in out
    assert "venue @okx   ccxt okx, the exchange's own URLs, key okx-main" in out
    assert "max_open_orders=5" in out.split("venue @okx")[1]
