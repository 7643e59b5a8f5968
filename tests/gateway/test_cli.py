"""``omnitrade gateway users add|list|remove|passwd|role`` and ``audit``, end to end."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.gateway.client import GatewayClient
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.roles import Role
from omnitrade_tui.gateway.tls import fingerprint_digest
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository

PASSWORD = "tangerine orbit glassy walrus"


class FakeTty(io.StringIO):
    """Standard input that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database path, with the app's folders moved into the test's."""
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"OMNITRADE_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.delenv("OMNITRADE_DB_URL", raising=False)
    return str(tmp_path / "gw.db")


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def _user(db: str, name: str) -> tuple[str, str, bool] | None:
    async def read() -> tuple[str, str, bool] | None:
        repo = GatewayRepository(await open_database(db))
        try:
            user = await repo.get_user(name)
            return None if user is None else (user.role, user.password_hash, user.disabled)
        finally:
            await repo.close()

    return asyncio.run(read())


def test_add_list_role_passwd_remove(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, PASSWORD + "\n")
    assert (
        main(
            ["gateway", "users", "add", "alice", "--role", "trader", "--db", db, "--password-stdin"]
        )
        == 0
    )
    assert "added user alice (trader)" in capsys.readouterr().out
    stored = _user(db, "alice")
    assert stored is not None
    assert stored[0] == "trader"
    assert stored[1].startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # the real cost
    assert Passwords().verify(stored[1], PASSWORD)

    _stdin(monkeypatch, "another long passphrase\n")
    assert (
        main(
            [
                "gateway",
                "users",
                "add",
                "root",
                "--role",
                "admin",
                "--database",
                db,
                "--password-stdin",
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert main(["gateway", "users", "list", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "ROLE", "VENUES", "STATUS", "CREATED", "UPDATED"]
    assert [line.split()[:4] for line in out[1:]] == [
        ["alice", "trader", "all", "active"],
        ["root", "admin", "all", "active"],
    ]
    assert "argon2" not in "\n".join(out)

    assert main(["gateway", "users", "role", "alice", "viewer", "--db", db]) == 0
    assert "alice is now viewer" in capsys.readouterr().out
    demoted = _user(db, "alice")
    assert demoted is not None
    assert demoted[0] == Role.VIEWER.value

    _stdin(monkeypatch, "a brand new passphrase\n")
    assert main(["gateway", "users", "passwd", "alice", "--db", db, "--password-stdin"]) == 0
    capsys.readouterr()
    changed = _user(db, "alice")
    assert changed is not None
    assert Passwords().verify(changed[1], "a brand new passphrase")
    assert not Passwords().verify(changed[1], PASSWORD)

    assert main(["gateway", "users", "remove", "alice", "--db", db]) == 0
    assert "removed user alice" in capsys.readouterr().out
    assert _user(db, "alice") is None
    assert main(["gateway", "users", "remove", "alice", "--db", db]) == ExitCode.USAGE
    assert "no user named 'alice'" in capsys.readouterr().err


def test_password_is_asked_twice_at_a_terminal(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", FakeTty(""))
    answers = iter([PASSWORD, PASSWORD])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("omnitrade_tui.cli.gateway_users.getpass.getpass", fake_getpass)
    assert main(["gateway", "users", "add", "bob", "--role", "viewer", "--db", db]) == 0
    assert prompts == ["new password for bob: ", "the same again: "]

    answers = iter(["first passphrase one", "second passphrase two"])
    prompts.clear()
    assert main(["gateway", "users", "passwd", "bob", "--db", db]) == ExitCode.USAGE
    assert "differ" in capsys.readouterr().err

    # A password the policy refuses is refused before the confirmation.
    answers = iter(["short"])
    prompts.clear()
    assert main(["gateway", "users", "passwd", "bob", "--db", db]) == ExitCode.USAGE
    assert len(prompts) == 1
    assert "at least 12" in capsys.readouterr().err


def test_refusals(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "")
    # No terminal and no --password-stdin: nobody to ask.
    assert (
        main(["gateway", "users", "add", "carol", "--role", "admin", "--db", db]) == ExitCode.USAGE
    )
    assert "--password-stdin" in capsys.readouterr().err
    _stdin(monkeypatch, "\n")
    assert (
        main(
            ["gateway", "users", "add", "carol", "--role", "admin", "--db", db, "--password-stdin"]
        )
        == ExitCode.USAGE
    )
    assert "no password" in capsys.readouterr().err
    _stdin(monkeypatch, "tooshort\n")
    assert (
        main(
            ["gateway", "users", "add", "carol", "--role", "admin", "--db", db, "--password-stdin"]
        )
        == ExitCode.USAGE
    )
    assert "at least 12" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD + "\n")
    assert (
        main(
            [
                "gateway",
                "users",
                "add",
                "no spaces",
                "--role",
                "admin",
                "--db",
                db,
                "--password-stdin",
            ]
        )
        == ExitCode.USAGE
    )
    assert "invalid user name" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD + "\n")
    assert (
        main(
            ["gateway", "users", "add", "carol", "--role", "admin", "--db", db, "--password-stdin"]
        )
        == 0
    )
    _stdin(monkeypatch, PASSWORD + "\n")
    assert (
        main(
            ["gateway", "users", "add", "carol", "--role", "viewer", "--db", db, "--password-stdin"]
        )
        == ExitCode.USAGE
    )
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["gateway", "users", "add", "dave", "--role", "root", "--db", db])
    assert exc.value.code == ExitCode.USAGE
    assert main(["gateway", "users", "role", "nobody", "admin", "--db", db]) == ExitCode.USAGE
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_empty_list_says_how_to_add(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "users", "list", "--db", db]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "omnitrade gateway users add NAME --role admin" in captured.err


def test_default_database_is_the_configs(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --db the users go where the app's history goes (db_url), as the gateway reads."""
    monkeypatch.setenv("OMNITRADE_DB_URL", f"sqlite:///{db}")
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["gateway", "users", "add", "erin", "--role", "trader", "--password-stdin"]) == 0
    assert db in capsys.readouterr().err
    assert _user(db, "erin") is not None


def test_audit_shows_the_log(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def write() -> None:
        repo = GatewayRepository(await open_database(db))
        await repo.add_audit(1_800_000_000_000, "alice", "10.0.0.1:5", "login", "session f", "ok")
        await repo.add_audit(1_800_000_001_000, "bob", "10.0.0.2:5", "order.place", "X", "denied")
        await repo.close()

    asyncio.run(write())
    assert main(["gateway", "audit", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "alice" in lines[0]
    assert "login" in lines[0]
    assert "denied" in lines[1]
    assert main(["gateway", "audit", "--db", db, "--user", "bob"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_serving_off_loopback_needs_tls(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--listen", "10.9.8.7:8765"]) == ExitCode.USAGE
    assert "only over TLS" in capsys.readouterr().err
    assert main(["gateway", "--listen", "nonsense"]) == ExitCode.USAGE
    assert "HOST:PORT" in capsys.readouterr().err
    assert main(["gateway", "users"]) == ExitCode.USAGE


def test_gateway_serves_until_sigterm_and_a_terminal_attaches(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``omnitrade gateway --listen 127.0.0.1:0 --self-signed`` as an operator runs it: it
    prints its URL and fingerprint, a client pinned to that fingerprint logs in, and
    SIGTERM stops it with exit code 0."""
    env = {
        **os.environ,
        "OMNITRADE_DB_URL": f"sqlite:///{db}",
        "PYTHONUNBUFFERED": "1",
    }
    _stdin(monkeypatch, PASSWORD + "\n")
    add = ["gateway", "users", "add", "ops", "--role", "admin", "--password-stdin", "--db", db]
    assert main(add) == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnitrade_tui.cli.main",
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--self-signed",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stderr is not None
        while not any("attach with:" in line for line in lines):
            line = proc.stderr.readline()
            assert line, "the gateway exited: " + "".join(lines)
            lines.append(line)
        text = "".join(lines)
        url = re.search(r"at (https://\S+)", text)
        fp = re.search(r"certificate (SHA256:\S+)", text)
        assert url and fp, text

        async def attach() -> str:
            client = GatewayClient(url.group(1), "ops", pin=fingerprint_digest(fp.group(1)))
            welcome = await client.start(PASSWORD)
            await client.aclose()
            return welcome.role

        assert asyncio.run(attach()) == "admin"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0


@pytest.mark.parametrize(
    "argv",
    [["gateway"], ["gateway", "users"], ["gateway", "users", "add"], ["gateway", "audit"]],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: omnitrade " + " ".join(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["gateway", "--listen", "127.0.0.1:1", "--profile", "nope"],
        ["--profile", "nope", "gateway", "--listen", "127.0.0.1:1"],
    ],
)
def test_the_profile_may_follow_the_subcommand(
    argv: list[str], db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitCode.PROFILE
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_attach_says_what_is_wrong_with_its_address(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["attach", "ftp://x", "--user", "vic"]) == ExitCode.USAGE
    assert "not a gateway URL" in capsys.readouterr().err
    assert main(["attach", "http://10.9.8.7:8765", "--user", "vic"]) == ExitCode.USAGE
    assert "attach over https://" in capsys.readouterr().err
    # Nothing listens on port 9 here: unreachable, not "wrong password".
    assert main(["attach", "https://127.0.0.1:9", "--user", "vic"]) == ExitCode.VENUE_UNREACHABLE
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_a_user_kept_to_some_venues(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--venues`` at add and ``users venues`` later: stored, listed, and a name that is
    not a venue refused with what one is."""
    _stdin(monkeypatch, PASSWORD + "\n")
    argv = ["gateway", "users", "add", "kim", "--role", "trader", "--db", db, "--password-stdin"]
    assert main([*argv, "--venues", "first,alt"]) == 0
    assert "added user kim (trader); trades on first,alt" in capsys.readouterr().out
    assert main(["gateway", "users", "list", "--db", db]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["kim", "trader", "first,alt"]
    assert main(["gateway", "users", "venues", "kim", "alt", "--db", db]) == 0
    assert "kim now trades on alt; their sessions are ended" in capsys.readouterr().out
    assert main(["gateway", "users", "venues", "kim", "Bad.Venue", "--db", db]) == 2
    assert "is not a venue name" in capsys.readouterr().err
    assert main(["gateway", "users", "venues", "kim", "all", "--db", db]) == 0
    assert "kim now trades on every venue" in capsys.readouterr().out
