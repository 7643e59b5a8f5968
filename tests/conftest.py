"""Shared fixtures: where the recorded Binance data is, and the service URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The recorded-data folder: ``$OMNITRADE_SHARED_DATA`` or ``../shared/data``."""
    env = os.environ.get("OMNITRADE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def binance_data() -> Path:
    """The folder of recorded Binance captures (skips when it is not beside the repo)."""
    folder = shared_data_dir() / "binance"
    if not (folder / "ethusdt_20240808.gz").exists():
        pytest.skip(f"recorded Binance data not found in {folder} (set OMNITRADE_SHARED_DATA)")
    return folder


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server (skips without ``OMNITRADE_TEST_POSTGRES_URL``)."""
    url = os.environ.get("OMNITRADE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OMNITRADE_TEST_POSTGRES_URL is not set: no PostgreSQL service to test on")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis server (skips without ``OMNITRADE_TEST_REDIS_URL``)."""
    url = os.environ.get("OMNITRADE_TEST_REDIS_URL")
    if not url:
        pytest.skip("OMNITRADE_TEST_REDIS_URL is not set: no Redis service to test on")
    return url
