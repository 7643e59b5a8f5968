"""Each user mistake ends with its own message and the exit code the README's table gives."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.config import AppDirs
from omnitrade_tui.venues.sim.venue import SimVenue


@dataclass(frozen=True)
class Mistake:
    """A command line a user might type, the code it must end with, and words of its message.

    ``{tmp}`` in an argument is a fresh folder; ``{dead}`` a loopback port nobody serves.
    """

    argv: tuple[str, ...]
    code: ExitCode
    says: str


#: A Binance-compatible venue of the user's own, on a port where nothing answers.
VENUE_AT_DEAD_PORT = (
    "--rest-url",
    "http://127.0.0.1:{dead}",
    "--ws-api-url",
    "ws://127.0.0.1:{dead}/ws-api/v3",
    "--stream-url",
    "ws://127.0.0.1:{dead}",
)

MISTAKES = [
    Mistake(("frobnicate",), ExitCode.USAGE, "invalid choice"),
    Mistake(("record", "--symbols", ""), ExitCode.USAGE, "--symbols needs at least one"),
    Mistake(("record", "--symbols", " , "), ExitCode.USAGE, "--symbols needs at least one"),
    Mistake(
        ("record", "--symbols", "ETHUSDT", "--replay", "{tmp}/missing.gz"),
        ExitCode.USAGE,
        "missing.gz: no such file",
    ),
    Mistake(
        ("record", "--symbols", "FOOBAR", "--db", "{tmp}/h.db"),
        ExitCode.USAGE,
        "unknown symbol(s) FOOBAR",
    ),
    Mistake(
        (
            "record",
            "--symbols",
            "ETHUSDT",
            "--replay",
            "{tmp}/empty.txt",
            "--db",
            "{tmp}/h.db",
            "--redis",
            "redis://:pw@127.0.0.1:{dead}/0",
        ),
        ExitCode.VENUE_UNREACHABLE,
        "cannot reach Redis at redis://:***@127.0.0.1:",
    ),
    Mistake(
        ("record", "--symbols", "ETHUSDT", "--db", "postgresql://postgres@127.0.0.1:{dead}/x"),
        ExitCode.DATABASE,
        "cannot open database",
    ),
    Mistake(
        (*VENUE_AT_DEAD_PORT, "record", "--symbols", "ETHUSDT", "--db", "{tmp}/h.db"),
        ExitCode.VENUE_UNREACHABLE,
        "cannot reach the venue at http://127.0.0.1:",
    ),
    Mistake(
        ("record", "--symbols", "ETHUSDT,BTCUSDT@Bad.Venue", "--db", "{tmp}/h.db"),
        ExitCode.USAGE,
        "--symbols: 'BTCUSDT@Bad.Venue' names venue 'bad.venue'",
    ),
    Mistake(
        ("history", "export", "--what", "trades", "--symbol", "BTC/USDT", "--db", "{tmp}/h.db"),
        ExitCode.USAGE,
        "--symbol: 'BTC/USDT' is not a symbol",
    ),
    Mistake(("--rest-url", "http://x"), ExitCode.USAGE, "needs all three venue URLs"),
    Mistake(("--rest-url", "ftp://x", "config", "show"), ExitCode.USAGE, "is not an http(s)://"),
    Mistake(("--config", "{tmp}/none.toml"), ExitCode.CONFIG, "none.toml does not exist"),
    Mistake(
        ("--config", "{tmp}/none.toml", "config", "show"),
        ExitCode.CONFIG,
        "none.toml does not exist",
    ),
    Mistake(("--profile", "nope", "config", "show"), ExitCode.PROFILE, "unknown profile 'nope'"),
    Mistake(("--profile", "live"), ExitCode.LIVE_NOT_CONFIRMED, "no terminal to ask on"),
    Mistake(
        ("history", "export", "--what", "trades", "--since", "yesterday"),
        ExitCode.USAGE,
        "neither epoch milliseconds nor an ISO date",
    ),
    Mistake(
        ("history", "export", "--what", "trades", "--db", "postgresql://u@127.0.0.1:{dead}/x"),
        ExitCode.DATABASE,
        "cannot open database",
    ),
    Mistake(
        ("attach", "https://127.0.0.1:{dead}", "--user", "ann"),
        ExitCode.VENUE_UNREACHABLE,
        "cannot reach the gateway",
    ),
    Mistake(("attach", "ftp://box", "--user", "ann"), ExitCode.USAGE, "is not a gateway URL"),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: " ".join(m.argv) or "''")
def test_each_mistake_has_its_code_and_message(
    mistake: Mistake,
    app_dirs: AppDirs,
    tmp_path: Path,
    dead_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty.txt").write_text("")
    argv = [a.format(tmp=tmp_path, dead=dead_port) for a in mistake.argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code if isinstance(exc.code, int) else 1
    err = capsys.readouterr().err
    assert code == mistake.code, err
    assert mistake.says in err
    assert "unexpected error" not in err


async def test_record_refuses_a_symbol_the_venue_does_not_list(
    app_dirs: AppDirs, tmp_path: Path
) -> None:
    # A typo used to record nothing, forever, with "ok" status lines.
    async with SimVenue.start(symbols=["ETHUSDT"]) as venue:
        base = f"http://{venue.host}:{venue.port}"
        ws = f"ws://{venue.host}:{venue.port}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from omnitrade_tui.cli import main; sys.exit(main())",
            *("--rest-url", base, "--ws-api-url", f"{ws}/ws-api/v3", "--stream-url", ws),
            *("record", "--symbols", "ETHUSDT,ETHUSTD", "--db", str(tmp_path / "h.db")),
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == ExitCode.USAGE
    assert f"unknown symbol(s) ETHUSTD: the venue at {base} does not list them" in err.decode()
