"""A gateway on the sim with its metrics port open, for the deploy tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from omnitrade_tui.gateway.service import Listen, RunningGateway, run_gateway
from tests.test_runtime import sim_settings


@contextlib.asynccontextmanager
async def running_gateway(tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A recording gateway on the sim (SQLite history) and its metrics base URL."""
    settings = replace(sim_settings(tmp_path), metrics_port=0)
    async with run_gateway(settings, Listen("127.0.0.1", 0)) as gw:
        yield gw, f"http://127.0.0.1:{gw.runtime.metrics.port}"
