"""One history: the app, ``record`` and ``history export`` find the same database by the same
rule (flag > environment > config file > the data directory), and an export's mistakes are
the user's, said with the path and the README's exit code, never a database made by
accident."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from omnitrade_tui.cli import main
from omnitrade_tui.config import Overrides, load_settings
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.enums import OrderType, Side
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.runtime import Runtime


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no config file and no database yet: every default in ``tmp_path``."""
    for name in ("OMNITRADE_DB_URL", "OMNITRADE_REDIS_URL", "OMNITRADE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMNITRADE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OMNITRADE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OMNITRADE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


async def _trade_in_the_app() -> int:
    """Run the app's engine (what ``omnitrade`` composes) for a market order; its fills."""
    settings = load_settings(Overrides())
    async with Runtime.start(settings, seed=4) as runtime:
        request = OrderRequest(
            symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.01")
        )
        await runtime.bus.request(PlaceOrder(request=request), timeout=10)
        await asyncio.sleep(1.5)  # the recorder's batch interval, and market trades
    db = settings.db_url.split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        fills: int = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
    return fills


def test_export_with_no_flags_finds_what_the_app_recorded(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fills = asyncio.run(_trade_in_the_app())
    assert fills > 0
    assert main(["history", "export", "--what", "fills"]) == 0
    captured = capsys.readouterr()
    assert f"exported {fills} fills" in captured.err
    assert main(["history", "export", "--what", "trades"]) == 0
    assert "exported 0 trades" not in capsys.readouterr().err


def test_the_environment_names_the_database_for_every_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = home / "elsewhere.db"
    monkeypatch.setenv("OMNITRADE_DB_URL", f"sqlite:///{elsewhere}")
    assert load_settings(Overrides()).db_url == f"sqlite:///{elsewhere}"
    asyncio.run(_trade_in_the_app())
    assert elsewhere.is_file()
    assert not (home / "data" / "omnitrade.db").exists()
    assert main(["history", "export", "--what", "fills"]) == 0
    assert "exported 0 fills" not in capsys.readouterr().err


def test_export_never_creates_a_database(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = home / "no" / "such" / "histroy.db"
    assert main(["history", "export", "--what", "trades", "--db", str(typo)]) == 8
    err = capsys.readouterr().err
    assert str(typo) in err
    assert "record something first" in err
    assert not typo.exists()
    assert not typo.parent.exists()
    # No flag and nothing recorded yet: the default database is not made either.
    assert main(["history", "export", "--what", "trades"]) == 8
    assert not (home / "data" / "omnitrade.db").exists()


def test_export_into_a_missing_folder_is_a_usage_error_with_the_path(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = home / "h.db"
    sqlite3.connect(db).close()
    asyncio.run(_migrate(db))
    out = home / "missing" / "t.csv"
    assert main(["history", "export", "--what", "trades", "--db", str(db), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out.parent) in err
    assert "does not exist" in err


async def _migrate(db: Path) -> None:
    from omnitrade_tui.store.database import open_database

    database = await open_database(str(db))
    await database.engine.dispose()


def test_export_writes_plain_decimals_and_lf_lines(home: Path) -> None:
    asyncio.run(_trade_in_the_app())
    out = home / "fills.csv"
    assert main(["history", "export", "--what", "fills", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert b"\r\n" not in data
    assert b"E-" not in data and b"E+" not in data
    header, *rows = [line.split(",") for line in data.decode().splitlines()]
    plain = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
    for row in rows:
        for column in ("price", "qty", "commission"):
            assert plain.match(row[header.index(column)]), (column, row)
