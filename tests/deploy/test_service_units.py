"""``omnitrade service``: the units it writes (checked by systemd's own verifier where the
machine has it, and key by key by a parser), its exit codes, and the notify protocol the
units rely on, spoken by a real ``omnitrade record`` to a socket the test opens."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnitrade_tui.cli.main import build_parser, main
from omnitrade_tui.config import AppDirs
from omnitrade_tui.service_units import NO_RESTART_CODES

#: Keys a unit may carry, per section (systemd.unit(5), systemd.service(5), systemd.exec(5)).
KNOWN_KEYS = {
    "Unit": {
        "Description",
        "Documentation",
        "Wants",
        "After",
        "StartLimitIntervalSec",
        "StartLimitBurst",
    },
    "Service": {
        "Type",
        "NotifyAccess",
        "ExecStart",
        "Restart",
        "RestartSec",
        "RestartPreventExitStatus",
        "WatchdogSec",
        "TimeoutStartSec",
        "TimeoutStopSec",
        "Environment",
        "EnvironmentFile",
        "SyslogIdentifier",
        "NoNewPrivileges",
        "UMask",
        "StandardOutput",
        "StandardError",
        "User",
        "ProtectSystem",
        "PrivateTmp",
    },
    "Install": {"WantedBy"},
}


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as ordered ``(key, value)`` lists (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"a key before any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        current.append((key, value))
    return sections


def install(tmp_path: Path, *argv: str) -> tuple[int, Path]:
    """Run ``omnitrade service install`` into ``tmp_path/units``; exit code and folder."""
    units = tmp_path / "units"
    code = main(["service", "install", *argv, "--unit-dir", str(units), "--no-start"])
    return code, units


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("record", ["--symbols", "ETHUSDT,BTCUSDT", "--log", "file"]),
        (
            "record",
            [
                "--symbols",
                "ETHUSDT",
                "--redis",
                "redis://hub/0",
                "--from-redis",
                "--redis-group",
                "g",
            ],
        ),
        ("gateway", ["--listen", "127.0.0.1:8765", "--profile", "testnet", "--system"]),
    ],
)
def test_installed_units_pass_the_parser_and_systemd_analyze(
    app_dirs: AppDirs, tmp_path: Path, command: str, args: list[str]
) -> None:
    code, units = install(tmp_path, command, *args)
    assert code == 0
    path = units / f"omnitrade-{command}.service"
    sections = parse_unit(path.read_text())
    assert set(sections) == {"Unit", "Service", "Install"}
    for name, pairs in sections.items():
        unknown = {k for k, _ in pairs} - KNOWN_KEYS[name]
        assert not unknown, f"[{name}] has keys systemd does not know: {unknown}"
    service = dict(sections["Service"])
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert int(service["WatchdogSec"]) > 0
    assert service["RestartPreventExitStatus"].split() == [str(c) for c in NO_RESTART_CODES]
    env = [v for k, v in sections["Service"] if k == "Environment"]
    assert f'"OMNITRADE_STATE_DIR={app_dirs.state}"' in env
    env_file = Path(service["EnvironmentFile"].removeprefix("-"))
    assert env_file == app_dirs.config / f"omnitrade-{command}.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    if "--log" in args:
        assert service["StandardOutput"] == f"append:{app_dirs.log_dir}/omnitrade-record.out"
    else:
        assert service["StandardOutput"] == "journal"
    if "--system" in args:
        assert service["User"] == "omnitrade"
        assert dict(sections["Install"])["WantedBy"] == "multi-user.target"
    else:
        assert dict(sections["Install"])["WantedBy"] == "default.target"
    # The command line is one the CLI itself accepts, with the metrics port the probes use.
    argv = shlex.split(service["ExecStart"])
    parsed = build_parser().parse_args(argv[1:])
    assert parsed.metrics_port == (9102 if command == "record" else 9101)
    assert argv[argv.index("--metrics-port") + 2] == command
    if command == "gateway":
        assert parsed.listen == "127.0.0.1:8765"
        assert parsed.profile == "testnet"
    else:
        assert parsed.symbols == args[1]
    if "--redis-group" in args:
        assert parsed.from_redis and parsed.redis_group == "g" and parsed.redis == "redis://hub/0"

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the parser above is the check on a machine without systemd's tools
    done = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, check=False
    )
    # verify exits 0 even for unknown keys: any line naming the file is a complaint.
    complaints = [line for line in done.stderr.splitlines() if str(path) in line]
    assert done.returncode == 0, done.stderr
    assert not complaints, complaints


def test_systemd_analyze_would_catch_a_bad_key(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nWatchdogSecc=30\n")
    done = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True)
    assert any(str(bad) in line for line in done.stderr.splitlines())


def test_exit_codes_of_service(app_dirs: AppDirs, tmp_path: Path) -> None:
    # A gateway unit with no address, a recorder with no symbols: bad command lines.
    assert install(tmp_path, "gateway")[0] == 2
    assert install(tmp_path, "record")[0] == 2
    assert install(tmp_path, "record", "--symbols", "ETHUSDT", "--from-redis")[0] == 2
    units = str(tmp_path / "units")
    # Status and uninstall of a unit that is not there.
    assert main(["service", "status", "record", "--unit-dir", units]) == 2
    assert main(["service", "uninstall", "record", "--unit-dir", units]) == 2
    code, _ = install(tmp_path, "record", "--symbols", "ETHUSDT", "--port", "1")
    assert code == 0
    # Installed, but nothing answers on its metrics port: a service unreachable.
    assert main(["service", "status", "record", "--unit-dir", units]) == 7
    assert main(["service", "uninstall", "record", "--unit-dir", units]) == 0
    assert not (tmp_path / "units" / "omnitrade-record.service").exists()


def _receive(sock: socket.socket, wanted: str, deadline: float) -> list[str]:
    seen: list[str] = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            break
        seen.append(data)
        if wanted in data.splitlines():
            return seen
    raise AssertionError(f"no {wanted} within the time; received {seen}")


def test_record_tells_systemd_ready_feeds_the_watchdog_and_says_stopping(
    app_dirs: AppDirs, tmp_path: Path
) -> None:
    address = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(address))
        env = {
            **os.environ,
            "OMNITRADE_CONFIG_DIR": str(app_dirs.config),
            "OMNITRADE_STATE_DIR": str(app_dirs.state),
            "OMNITRADE_DATA_DIR": str(app_dirs.data),
            "NOTIFY_SOCKET": str(address),
            "WATCHDOG_USEC": "2000000",
        }
        argv = [
            sys.executable,
            "-c",
            "import sys; from omnitrade_tui.cli.main import main; sys.exit(main(sys.argv[1:]))",
        ]
        argv += ["--metrics-port", "0", "record", "--symbols", "ETHUSDT"]
        argv += ["--db", f"sqlite:///{tmp_path / 'h.db'}"]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            ready = _receive(sock, "READY=1", time.monotonic() + 60)
            assert any(line.startswith("STATUS=") for m in ready for line in m.splitlines())
            _receive(sock, "WATCHDOG=1", time.monotonic() + 10)
            _receive(sock, "WATCHDOG=1", time.monotonic() + 10)  # and again: fed, not once
            proc.send_signal(signal.SIGTERM)
            _receive(sock, "STOPPING=1", time.monotonic() + 30)
            assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
