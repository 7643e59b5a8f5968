"""Logs: JSON lines to a rotating file, console format, the ring, and secret redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnitrade_tui.logs import (
    configure_logging,
    crash_report,
    install_crash_handlers,
    shutdown_logging,
)
from omnitrade_tui.redaction import Secret

SECRET = "log-test-secret-Zq81vX0pW3"


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    shutdown_logging()
    logging.getLogger().setLevel(logging.WARNING)


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_json_lines_with_extra_fields(tmp_path: Path) -> None:
    setup = configure_logging(tmp_path / "logs", level="DEBUG")
    log = logging.getLogger("omnitrade_tui.test")
    log.info("order %s accepted", "abc", extra={"symbol": "BTCUSDT", "qty": 1.5})
    log.debug("a detail")
    assert setup.file == tmp_path / "logs" / "omnitrade.jsonl"
    first, second = read_lines(setup.file)
    assert first["level"] == "INFO"
    assert first["logger"] == "omnitrade_tui.test"
    assert first["msg"] == "order abc accepted"
    assert first["symbol"] == "BTCUSDT"
    assert first["qty"] == 1.5
    assert str(first["ts"]).endswith("Z")
    assert second["msg"] == "a detail"


def test_secrets_are_redacted_everywhere(tmp_path: Path) -> None:
    Secret(SECRET)  # registering is what every Secret does
    console = io.StringIO()
    setup = configure_logging(tmp_path / "logs", console=True, console_stream=console)
    log = logging.getLogger("omnitrade_tui.test")
    log.warning("signing with %s", SECRET)
    log.warning("payload", extra={"body": f"secret={SECRET}", "obj": {"k": SECRET}})
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError:
        log.exception("request failed")
    log.error("wrapped %r", Secret(SECRET))

    assert setup.file is not None
    text = setup.file.read_text(encoding="utf-8")
    assert SECRET not in text
    assert SECRET not in console.getvalue()
    for entry in setup.ring.entries():
        assert SECRET not in repr(entry)
    lines = read_lines(setup.file)
    assert lines[0]["msg"] == "signing with ***"
    assert lines[1]["body"] == "secret=***"
    assert "ValueError: bad key ***" in str(lines[2]["exc"])
    assert lines[3]["msg"] == "wrapped Secret('***')"
    assert "bad key ***" in console.getvalue()


def test_rotation(tmp_path: Path) -> None:
    setup = configure_logging(tmp_path / "logs", max_bytes=2000, backups=2)
    log = logging.getLogger("omnitrade_tui.test")
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["omnitrade.jsonl", "omnitrade.jsonl.1", "omnitrade.jsonl.2"]
    assert setup.file is not None
    assert all(json.loads(line) for line in setup.file.read_text().splitlines())


def test_ring_is_bounded_and_versioned() -> None:
    setup = configure_logging(None, ring_capacity=5)
    log = logging.getLogger("omnitrade_tui.test")
    for i in range(12):
        log.warning("n=%d", i)
    entries = setup.ring.entries()
    assert [e.msg for e in entries] == [f"n={i}" for i in range(7, 12)]
    assert setup.ring.version == 12
    log.error("bad")
    assert [e.msg for e in setup.ring.entries(logging.ERROR)] == ["bad"]


def test_console_format_is_readable() -> None:
    console = io.StringIO()
    configure_logging(None, console=True, console_stream=console)
    logging.getLogger("omnitrade_tui.x").warning("hello %s", "there", extra={"symbol": "ETHUSDT"})
    line = console.getvalue().strip()
    assert "WARNING omnitrade_tui.x: hello there  symbol=ETHUSDT" in line


def test_console_lines_cannot_be_forged_by_text_from_outside() -> None:
    console = io.StringIO()
    configure_logging(None, console=True, console_stream=console)
    reason = "bad\n12:00:00.000 INFO    omnitrade_tui.x: all good\x1b[2J"
    try:
        raise ValueError("ours\nkeeps lines")
    except ValueError:
        logging.getLogger("omnitrade_tui.x").exception(
            "refused: %s", reason, extra={"who": "ann\rroot"}
        )
    lines = console.getvalue().splitlines()
    # One line for the record (its text escaped), then the traceback's own lines.
    assert lines[0].endswith(
        "refused: bad\\n12:00:00.000 INFO    omnitrade_tui.x: all good\\x1b[2J  who=ann\\rroot"
    )
    assert "\x1b" not in console.getvalue()
    assert lines[1] == "Traceback (most recent call last):"


def test_crash_handlers_log_redacted_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import sys
    import threading

    secret = Secret("crash-secret-value-4411")
    setup = configure_logging(tmp_path / "logs")
    saved = (sys.excepthook, threading.excepthook)
    try:
        loop = asyncio.new_event_loop()
        install_crash_handlers(loop)
        try:
            raise RuntimeError(f"died holding {secret.reveal()}")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
            report = crash_report(exc)
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "crashed with RuntimeError: died holding ***" in err

        def boom() -> None:
            raise ValueError(f"thread saw {secret.reveal()}")

        t = threading.Thread(target=boom, name="worker")
        t.start()
        t.join()

        loop.run_until_complete(asyncio.sleep(0))
        loop.call_exception_handler(
            {"message": "task failed", "exception": KeyError(secret.reveal())}
        )
        loop.close()
    finally:
        sys.excepthook, threading.excepthook = saved
    assert "died holding ***" in report
    assert "crash-secret-value-4411" not in report
    assert setup.file is not None
    lines = read_lines(setup.file)
    assert [line["msg"] for line in lines] == [
        "unhandled exception",
        "unhandled exception in thread worker",
        "task failed",
    ]
    assert "crash-secret-value-4411" not in setup.file.read_text()
    assert "ValueError: thread saw ***" in str(lines[1]["exc"])
