"""The crash handlers are in force where the program runs: every command that starts its
logs sends an uncaught exception to the log file, and the engine's event loop sends a task's
unhandled exception there too."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnitrade_tui.cli.startup import start_logging
from omnitrade_tui.logs import shutdown_logging
from omnitrade_tui.runtime import Runtime
from tests.test_runtime import sim_settings


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    saved = (sys.excepthook, threading.excepthook)
    yield
    sys.excepthook, threading.excepthook = saved
    shutdown_logging()
    logging.getLogger().setLevel(logging.WARNING)


def test_a_command_that_starts_its_logs_logs_what_nobody_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = start_logging(sim_settings(tmp_path))
    try:
        raise RuntimeError("nobody caught this")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert "crashed with RuntimeError" in capsys.readouterr().err
    assert setup.file is not None
    logged = [json.loads(line) for line in setup.file.read_text().splitlines()]
    assert any(line["msg"] == "unhandled exception" for line in logged)


async def test_the_engines_loop_logs_a_tasks_unhandled_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with Runtime.start(sim_settings(tmp_path), record=False):
        loop = asyncio.get_running_loop()
        with caplog.at_level(logging.ERROR, logger="omnitrade_tui.crash"):
            loop.call_exception_handler({"message": "a task failed", "exception": KeyError("k")})
    assert "a task failed" in [
        r.getMessage() for r in caplog.records if r.name == "omnitrade_tui.crash"
    ]
