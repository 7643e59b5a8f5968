"""Bad input through ``main()``: one clear line and a distinct exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import keyring
import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import AppDirs
from omnitrade_tui.logs import shutdown_logging

from .helpers import LockedKeyring, write_config

API_KEY = "bad-input-api-key-0123456789"
SECRET = "bad-input-secret-9876543210-qq"


@pytest.fixture(autouse=True)
def _no_leftover_handlers() -> Iterator[None]:
    yield
    shutdown_logging()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("omnitrade:")]
    assert len(lines) == 1, err
    return code, lines[0]


def test_each_failure_has_its_own_exit_code(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = {}
    write_config(app_dirs, "[ui\nframe_rate = 3")
    codes["corrupt config"], msg = run([], capsys)
    assert "not valid TOML" in msg
    write_config(app_dirs, "")
    codes["unknown profile"], msg = run(["--profile", "paper"], capsys)
    assert "unknown profile 'paper'" in msg
    codes["live unconfirmed"], msg = run(["--profile", "live"], capsys)
    assert "typed confirmation" in msg

    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
        monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)
        codes["locked keyring"], msg = run(["keys", "add", "a", "--from-env"], capsys)
        assert "keyring is locked" in msg
    finally:
        keyring.set_keyring(previous)

    write_config(
        app_dirs,
        "[profiles.down]\nrest_url = 'http://127.0.0.1:9'\nws_api_url = 'ws://127.0.0.1:9'\n"
        "stream_url = 'ws://127.0.0.1:9'\n",
    )
    codes["unreachable venue"], msg = run(
        ["keys", "--backend", "env", "test", "env", "--for-profile", "down", "--timeout", "2"],
        capsys,
    )
    assert "cannot reach the venue at http://127.0.0.1:9" in msg
    assert codes == {
        "corrupt config": ExitCode.CONFIG,
        "unknown profile": ExitCode.PROFILE,
        "live unconfirmed": ExitCode.LIVE_NOT_CONFIRMED,
        "locked keyring": ExitCode.KEYS,
        "unreachable venue": ExitCode.VENUE_UNREACHABLE,
    }
    assert len(set(codes.values())) == 5


def test_damaged_key_index(app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]) -> None:
    app_dirs.config.mkdir(parents=True)
    (app_dirs.config / "keys.toml").write_text("[keys.a]\nkind = 'rsa'\n")
    code, msg = run(["keys", "--backend", "env", "list"], capsys)
    assert code == ExitCode.KEYS
    assert "damaged" in msg


def test_a_bug_is_one_line_and_a_logged_traceback(
    app_dirs: AppDirs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from omnitrade_tui.cli import keys as keys_cli
    from omnitrade_tui.redaction import Secret

    secret = Secret("bug-report-secret-value-77")

    def broken(args: object) -> int:
        keys_cli._store(args)  # type: ignore[arg-type]  # sets up logging like a real handler
        raise RuntimeError(f"boom while handling {secret.reveal()}")

    monkeypatch.setattr(keys_cli, "_list", broken)
    code, msg = run(["keys", "--backend", "env", "list"], capsys)
    assert code == ExitCode.ERROR
    assert "unexpected error (a bug, please report it): RuntimeError: boom" in msg
    assert "bug-report-secret-value-77" not in msg
    shutdown_logging()
    lines = [
        json.loads(line) for line in (app_dirs.log_dir / "omnitrade.jsonl").read_text().splitlines()
    ]
    crash = lines[-1]
    assert crash["msg"] == "unexpected error"
    assert "RuntimeError: boom while handling ***" in str(crash["exc"])
    assert "bug-report-secret-value-77" not in json.dumps(lines)


def test_the_console_script_prints_one_line(app_dirs: AppDirs) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMNITRADE_DEBUG"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from omnitrade_tui.cli import main; sys.exit(main())",
            "--profile",
            "nope",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == ExitCode.PROFILE
    assert proc.stderr == (
        "omnitrade: unknown profile 'nope' (from flag); known: demo, live, sim, testnet\n"
    )
