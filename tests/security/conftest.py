"""Fixtures of the security tests: a sandbox of app directories, and keyring backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from omnitrade_tui.config import AppDirs

from .helpers import MemoryKeyring


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
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring for the test, then restore the previous backend."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """Install keyring's 'fail' backend: what a headless box without a keyring has."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)
