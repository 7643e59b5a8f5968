"""``omnitrade keys`` end to end through ``main()``: exit codes and one-line messages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import AppDirs
from omnitrade_tui.secrets import open_key_store

from .helpers import MemoryKeyring, write_config
from .stub_venue import StubVenue, run_stub

API_KEY = "cli-test-api-key-0123456789abcdef"
SECRET = "cli-test-secret-fedcba9876543210-zz"


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("omnitrade:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def file_store_env(app_dirs: AppDirs, no_keyring: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRADE_KEYFILE_PASSPHRASE", "a long passphrase")
    monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
    monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)


def test_add_list_test_remove_with_the_file_fallback(
    app_dirs: AppDirs, file_store_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "add", "main", "--from-env"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert "added key 'main'" in out
    assert "no OS keyring available" in err
    assert main(["keys", "list"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "main" in out
    assert "sha256:" in out
    assert "file" in out
    assert SECRET not in out
    assert API_KEY not in out

    venue = StubVenue(hmac_keys={API_KEY: SECRET}, can_withdraw=True)
    with run_stub(venue):
        write_config(
            app_dirs,
            f"[profiles.stub]\nrest_url = '{venue.url}'\nws_api_url = 'ws://127.0.0.1:1/ws'\n"
            "stream_url = 'ws://127.0.0.1:1'\n",
        )
        assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.OK
        out, err = capsys.readouterr()
        assert "works on stub" in out
        assert "can trade: yes" in out
        assert "WARNING: this key CAN WITHDRAW" in err
        assert venue.requests == 1

        # wrong secret in the store -> KEYS
        venue.hmac_keys[API_KEY] = "another-secret-entirely-000000"
        assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.KEYS
        assert "-1022" in one_line_error(capsys.readouterr().err)
        # revoked key -> KEYS
        venue.hmac_keys.clear()
        assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.KEYS
        assert "revoked" in one_line_error(capsys.readouterr().err)

    # the stub is gone: unreachable venue
    assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.VENUE_UNREACHABLE
    assert "cannot reach" in one_line_error(capsys.readouterr().err)

    assert main(["keys", "remove", "main"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["keys", "remove", "main"]) == ExitCode.KEYS
    assert "no key named 'main'" in one_line_error(capsys.readouterr().err)


def test_keys_test_goes_through_the_connector_clock_and_reads_only_a_binance_account(
    app_dirs: AppDirs, file_store_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "add", "main", "--from-env"]) == ExitCode.OK
    # The venue's clock is a minute ahead: the connector's REST client is refused once
    # (-1021), asks the venue's time and signs again with the offset.
    venue = StubVenue(hmac_keys={API_KEY: SECRET}, clock_offset_ms=60_000)
    with run_stub(venue):
        write_config(
            app_dirs,
            f"[profiles.stub]\nrest_url = '{venue.url}'\nws_api_url = 'ws://127.0.0.1:1/ws'\n"
            "stream_url = 'ws://127.0.0.1:1'\n",
        )
        capsys.readouterr()
        assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.OK
        assert "works on stub" in capsys.readouterr().out
        assert (venue.requests, venue.time_requests) == (2, 1)

        venue.account_text = "<html>a web server, not a Binance API</html>"
        assert main(["keys", "test", "main", "--for-profile", "stub"]) == ExitCode.VENUE_UNREACHABLE
        assert "Binance-compatible" in one_line_error(capsys.readouterr().err)


def test_wrong_passphrase_is_a_keys_error(
    app_dirs: AppDirs,
    file_store_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "add", "main", "--from-env"]) == ExitCode.OK
    monkeypatch.setenv("OMNITRADE_KEYFILE_PASSPHRASE", "not the passphrase")
    capsys.readouterr()
    assert main(["keys", "list"]) == ExitCode.KEYS
    assert "wrong passphrase" in one_line_error(capsys.readouterr().err)


def test_no_keyring_and_no_fallback(
    app_dirs: AppDirs,
    no_keyring: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
    monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)
    assert main(["keys", "--backend", "keyring", "list"]) == ExitCode.KEYS
    assert "no OS keyring is available" in one_line_error(capsys.readouterr().err)
    assert main(["keys", "add", "x", "--from-env"]) == ExitCode.KEYS
    assert "OMNITRADE_KEYFILE_PASSPHRASE" in one_line_error(capsys.readouterr().err)
    # the environment's key is still usable
    assert main(["keys", "list"]) == ExitCode.OK
    assert "env" in capsys.readouterr().out


def test_keyring_is_used_when_present(
    app_dirs: AppDirs,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
    monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)
    assert main(["keys", "add", "k1", "--from-env"]) == ExitCode.OK
    assert "to keyring" in capsys.readouterr().out
    assert ("omnitrade", "k1") in memory_keyring.store


def test_sim_profile_has_nothing_to_test(
    app_dirs: AppDirs, file_store_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "add", "main", "--from-env"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["keys", "test", "main"]) == ExitCode.PROFILE
    assert "in-process" in one_line_error(capsys.readouterr().err)


def test_ed25519_key_from_a_pem_file(
    app_dirs: AppDirs,
    file_store_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pem_file = tmp_path / "ed25519.pem"
    pem_file.write_text(pem)
    monkeypatch.delenv("OMNITRADE_API_SECRET")
    argv = ["keys", "add", "ed", "--type", "ed25519", "--from-env", "--secret-file", str(pem_file)]
    assert main(argv) == ExitCode.OK
    venue = StubVenue(ed25519_keys={API_KEY: private.public_key()})
    with run_stub(venue):
        write_config(
            app_dirs,
            f"[profiles.stub]\nrest_url = '{venue.url}'\nws_api_url = 'ws://127.0.0.1:1/ws'\n"
            "stream_url = 'ws://127.0.0.1:1'\n",
        )
        assert main(["keys", "test", "ed", "--for-profile", "stub"]) == ExitCode.OK
    assert "works on stub" in capsys.readouterr().out
    pem_file.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert (
        main(
            [
                "keys",
                "add",
                "bad",
                "--type",
                "ed25519",
                "--from-env",
                "--secret-file",
                str(pem_file),
            ]
        )
        == ExitCode.KEYS
    )
    assert "not a valid unencrypted PEM" in one_line_error(capsys.readouterr().err)


class Terminal(io.StringIO):
    """A standard stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app run at a (pretend) terminal: the passphrase prompts it shows, answered with
    the key file's passphrase. Called in the test itself: pytest gives its captured streams
    back to ``sys`` as each test phase starts."""
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.setenv("TEXTUAL_FPS", "60")  # what the app would set, undone after the test
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "a long passphrase"

    monkeypatch.setattr("getpass.getpass", answer)
    return asked


def _run_testnet(dead_port: int) -> int:
    # The venue's URL is a closed port: a run that got its key ends 'unreachable' at once.
    return main(["--profile", "testnet", "--rest-url", f"http://127.0.0.1:{dead_port}"])


def test_environment_keys_are_used_with_no_prompt(
    app_dirs: AppDirs,
    no_keyring: None,
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMNITRADE_API_KEY", API_KEY)
    monkeypatch.setenv("OMNITRADE_API_SECRET", SECRET)
    prompts = at_a_terminal(monkeypatch)
    assert _run_testnet(dead_port) == ExitCode.VENUE_UNREACHABLE  # the key was found
    assert prompts == []
    assert "cannot reach" in one_line_error(capsys.readouterr().err)


def test_no_key_at_all_is_a_keys_error_with_no_prompt(
    app_dirs: AppDirs,
    no_keyring: None,
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompts = at_a_terminal(monkeypatch)
    assert _run_testnet(dead_port) == ExitCode.KEYS
    assert prompts == []  # no passphrase for a key file that does not exist
    assert "needs an API key" in one_line_error(capsys.readouterr().err)
    assert not (app_dirs.data / "keys.enc").exists()


def test_a_key_file_is_unlocked_with_one_prompt(
    app_dirs: AppDirs,
    file_store_env: None,
    dead_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "add", "main", "--from-env", "--for-profile", "testnet"]) == 0
    for name in ("OMNITRADE_KEYFILE_PASSPHRASE", "OMNITRADE_API_KEY", "OMNITRADE_API_SECRET"):
        monkeypatch.delenv(name)
    capsys.readouterr()
    prompts = at_a_terminal(monkeypatch)
    assert _run_testnet(dead_port) == ExitCode.VENUE_UNREACHABLE
    assert len(prompts) == 1
    assert "Passphrase for the key file" in prompts[0]


def test_a_key_with_a_venue_passphrase_is_added_from_the_environment(
    app_dirs: AppDirs,
    file_store_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "add", "okx", "--from-env", "--api-passphrase"]) == ExitCode.USAGE
    assert "OMNITRADE_API_PASSPHRASE is not set" in capsys.readouterr().err
    monkeypatch.setenv("OMNITRADE_API_PASSPHRASE", "venue-pass")
    assert main(["keys", "add", "okx", "--from-env", "--api-passphrase"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "added key 'okx'" in out and "venue-pass" not in out
    monkeypatch.delenv("OMNITRADE_API_KEY")
    monkeypatch.delenv("OMNITRADE_API_PASSPHRASE")
    unlock = {"OMNITRADE_KEYFILE_PASSPHRASE": "a long passphrase"}
    store = open_key_store(app_dirs, "file", env=unlock)
    stored = store.get("okx").api_passphrase
    assert stored is not None and stored.reveal() == "venue-pass"
