"""``omnitrade sim`` on the command line: faults, secrets, the port, and help that reads
well at 80 columns (issues 16 and 18)."""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli import sim as sim_cli
from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.main import build_parser
from omnitrade_tui.venues.sim.faults import Faults
from omnitrade_tui.venues.sim.symbols import default_instruments
from omnitrade_tui.venues.sim.venue import SimVenue

KEY = "K" * 64
OTHER = "L" * 64


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sim", *argv])


# -- faults -----------------------------------------------------------------------------------


def test_every_fault_the_readme_lists_is_accepted_by_the_flag() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme[readme.index("## The simulated venue") :]
    section = section[: section.index("\n## ", 5)]
    listed = set(re.findall(r"`([a-z_]+_(?:s|ms|orders)|throttle)`", section))
    assert {"stall_s", "gap_every_s", "fail_orders", "throttle"} <= listed
    faults = Faults.parse(",".join(f"{name}=1" for name in sorted(listed)))
    assert all(getattr(faults, name) == 1 for name in listed)


def test_an_unknown_fault_is_refused_naming_every_valid_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sim", "--faults", "gap_every_s=1,stal_s=5", "--port", "0"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "'stal_s'" in err
    for name in Faults.names():
        assert name in err
    assert main(["sim", "--faults", "delay_ms=1e400", "--port", "0"]) == ExitCode.USAGE
    assert "delay_ms" in capsys.readouterr().err


@pytest.mark.timeout(30)
async def test_stall_by_flag_keeps_the_streams_silent_from_the_start() -> None:
    async with (
        SimVenue.start(symbols=["ETHUSDT"], faults=Faults.parse("stall_s=1.5")) as sim,
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{sim.stream_url}ws/ethusdt@depth@100ms") as ws,
    ):
        started = time.monotonic()
        await asyncio.wait_for(ws.receive_str(), 10)
        assert time.monotonic() - started > 1.0


# -- secrets ----------------------------------------------------------------------------------


def test_api_secret_on_the_command_line_warns(capsys: pytest.CaptureFixture[str]) -> None:
    assert sim_cli.api_secrets(parse("--api-key", KEY, "--api-secret", "s1")) == ["s1"]
    err = capsys.readouterr().err
    assert "warning" in err and "process list" in err and "--api-secret-file" in err


def test_secrets_from_files_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.write_text("secret-one\n")
    second.write_text("secret-two")
    args = parse("--api-key", KEY, "--api-key", OTHER)
    monkeypatch.setenv(sim_cli.SECRET_ENV, "env-one, env-two")
    assert sim_cli.api_secrets(args) == ["env-one", "env-two"]
    files = parse(
        "--api-key", KEY, "--api-secret-file", str(first), "--api-key", OTHER,
        "--api-secret-file", str(second),
    )  # fmt: skip
    assert sim_cli.api_secrets(files) == ["secret-one", "secret-two"]  # flags beat the environment
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["--api-key", KEY],
        ["--api-key", KEY, "--api-secret-file", "/nonexistent/secret"],
        ["--api-key", KEY, "--api-secret", "a", "--api-secret-file", "/etc/hostname"],
        ["--api-key", KEY, "--api-secret", "a", "--api-secret", "b"],
    ],
)
def test_secret_mistakes_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(CliError) as exc:
        sim_cli.api_secrets(parse(*argv))
    assert exc.value.code == ExitCode.USAGE


def test_the_secret_from_a_file_reaches_the_venue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("S" * 64)
    seen: dict[str, Any] = {}

    async def fake_serve(*args: Any) -> int:
        seen["hmac_keys"] = args[5]
        return 0

    monkeypatch.setattr(sim_cli, "_serve", fake_serve)
    assert main(["sim", "--api-key", KEY, "--api-secret-file", str(secret_file)]) == 0
    assert seen["hmac_keys"] == [(KEY, "S" * 64)]


# -- the port ---------------------------------------------------------------------------------


def test_a_port_in_use_exits_with_the_unreachable_service_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sim", "--port", str(port)]) == ExitCode.VENUE_UNREACHABLE
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--port" in err and "Traceback" not in err


def test_a_port_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sim", "--port", "70000"])
    assert exc.value.code == ExitCode.USAGE


# -- help -------------------------------------------------------------------------------------


def test_help_is_complete_and_wraps_between_words_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["sim", "--help"])
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    words = set(out.split())
    sub = next(
        # argparse keeps its subcommands private (and typed optional).
        a for a in parser._subparsers._group_actions  # type: ignore[union-attr]
        if isinstance(a, argparse._SubParsersAction)
    ).choices["sim"]  # fmt: skip
    for action in sub._actions:
        assert action.help, f"{action.option_strings} has no help"
        text = action.help % {"default": action.default}
        for word in text.split():  # a word broken across lines is missing from the output
            assert word in words, f"{word!r} of {action.option_strings} is split or missing"
    balance = out[out.index("--balance ASSET") :]
    assert "USDT=100000" in balance and "{" not in balance


def test_the_banner_prints_the_faults_token_and_how_to_use_it() -> None:
    venue = SimVenue(default_instruments(["ETHUSDT"]), generate=False)
    banner = sim_cli.banner(venue)
    assert venue.faults_token and f"Authorization: Bearer {venue.faults_token}" in banner
    open_venue = SimVenue(default_instruments(["ETHUSDT"]), generate=False, faults_open=True)
    assert "none (--faults-open)" in sim_cli.banner(open_venue)
