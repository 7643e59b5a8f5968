"""Shared fixtures: where the recorded Binance data is, and the services to test on.

The PostgreSQL and Redis tests find their services by themselves: a URL from
``OMNITRADE_TEST_POSTGRES_URL`` / ``OMNITRADE_TEST_REDIS_URL`` when set, else the default
local addresses. Each is asked once per session, with a short timeout; a test skips only
when nothing answers, with where it looked, and the run's last lines count the skips by
reason so a green run never hides what it did not test.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import socket
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from omnitrade_tui.config import AppDirs, masked_url

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every bus in the tests (and in the processes they start) checks the bus contract: an
# event published on a topic whose contract does not name its type fails the test.
os.environ.setdefault("OMNITRADE_BUS_CHECK", "1")

#: Seconds to wait for a service to answer before counting it absent.
PROBE_TIMEOUT_S = 2.0

POSTGRES_ENV = "OMNITRADE_TEST_POSTGRES_URL"
REDIS_ENV = "OMNITRADE_TEST_REDIS_URL"
SHARED_DATA_ENV = "OMNITRADE_SHARED_DATA"


def shared_data_dir() -> Path:
    """The recorded-data folder: ``$OMNITRADE_SHARED_DATA``, else the repository's own
    ``tests/data`` (the captures ship with the code, so a clone runs every test)."""
    env = os.environ.get(SHARED_DATA_ENV)
    return Path(env) if env else REPO_ROOT / "tests" / "data"


def postgres_candidates() -> list[str]:
    """Where to look for PostgreSQL: the variable's URL, else the local defaults."""
    if url := os.environ.get(POSTGRES_ENV):
        return [url]
    users = dict.fromkeys(["postgres", getpass.getuser()])  # ordered, no duplicates
    return [f"postgresql://{user}@127.0.0.1:5432/test" for user in users]


def redis_candidates() -> list[str]:
    """Where to look for Redis: the variable's URL, else the local default (database 15)."""
    return [os.environ.get(REDIS_ENV) or "redis://127.0.0.1:6379/15"]


async def _postgres_answers(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=PROBE_TIMEOUT_S)
    await conn.close()


def _redis_answers(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


@functools.cache
def find_postgres() -> tuple[str | None, str]:
    """The first PostgreSQL candidate that accepts a connection, or ``None`` and why not."""
    failures = []
    for url in postgres_candidates():
        try:
            # A thread of its own: the first test to ask may be running in an event loop.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _postgres_answers(url)).result()
        except Exception as exc:
            failures.append(f"{masked_url(url)} ({type(exc).__name__}: {exc})")
        else:
            return url, ""
    return None, (
        f"no PostgreSQL answered at {'; '.join(failures)}: set {POSTGRES_ENV} to test on another"
    )


@functools.cache
def find_redis() -> tuple[str | None, str]:
    """The first Redis candidate that answers PING, or ``None`` and why not."""
    failures = []
    for url in redis_candidates():
        try:
            _redis_answers(url)
        except Exception as exc:
            failures.append(f"{masked_url(url)} ({type(exc).__name__}: {exc})")
        else:
            return url, ""
    return None, f"no Redis answered at {'; '.join(failures)}: set {REDIS_ENV} to test on another"


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppDirs:
    """Config, state and data folders under ``tmp_path``, with no OMNITRADE_* leaking in."""
    for name in list(os.environ):
        if name.startswith("OMNITRADE_") and not name.startswith("OMNITRADE_TEST_"):
            monkeypatch.delenv(name)
    dirs = AppDirs(config=tmp_path / "config", state=tmp_path / "state", data=tmp_path / "data")
    monkeypatch.setenv("OMNITRADE_CONFIG_DIR", str(dirs.config))
    monkeypatch.setenv("OMNITRADE_STATE_DIR", str(dirs.state))
    monkeypatch.setenv("OMNITRADE_DATA_DIR", str(dirs.data))
    return dirs


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released): a service that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def binance_data() -> Path:
    """The folder of recorded Binance captures (skips when it is not found)."""
    folder = shared_data_dir() / "binance"
    if not (folder / "ethusdt_20240808.gz").exists():
        where = "$" + SHARED_DATA_ENV if os.environ.get(SHARED_DATA_ENV) else "tests/data"
        pytest.skip(
            f"recorded Binance data not found in {folder} (looked in {where}; "
            f"set {SHARED_DATA_ENV} to the folder holding binance/ethusdt_20240808.gz)"
        )
    return folder


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostgreSQL server that answers (skips, saying where it looked, if none)."""
    url, why = find_postgres()
    if url is None:
        pytest.skip(why)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a Redis server that answers (skips, saying where it looked, if none)."""
    url, why = find_redis()
    if url is None:
        pytest.skip(why)
    return url


def skip_reasons(reports: list[pytest.TestReport]) -> Counter[str]:
    """How many tests skipped for each reason (whatever file or line raised it)."""
    reasons: Counter[str] = Counter()
    for report in reports:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    return reasons


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """End the run with how many tests did not run and why, grouped by reason.

    Outermost wrapper, so these lines come after pytest's own short summary, just above the
    final count, where a reader of a green run looks.
    """
    yield
    reports = [r for r in terminalreporter.stats.get("skipped", []) if r.when != "teardown"]
    if not reports:
        return
    terminalreporter.section(f"{len(reports)} skipped: not tested on this run", sep="-")
    for reason, count in skip_reasons(reports).most_common():
        terminalreporter.write_line(f"{count:4d} x {reason}")


MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many workers `-n auto` starts: one per core, at most ``MAX_WORKERS``.

    Each worker runs sims, subprocesses and drills that wait on the clock; past a few
    workers they wait on each other rather than finish sooner, and the drills' deadlines
    are set for a machine that is not oversubscribed.
    """
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
