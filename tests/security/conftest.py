"""Fixtures of the security tests: a sandbox of app directories and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from omnitrade_tui.config import AppDirs


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppDirs:
    """Config, state and data folders under ``tmp_path``, with no OMNITRADE_* leaking in."""
    import os

    for name in list(os.environ):
        if name.startswith("OMNITRADE_") and not name.startswith("OMNITRADE_TEST_"):
            monkeypatch.delenv(name)
    dirs = AppDirs(config=tmp_path / "config", state=tmp_path / "state", data=tmp_path / "data")
    monkeypatch.setenv("OMNITRADE_CONFIG_DIR", str(dirs.config))
    monkeypatch.setenv("OMNITRADE_STATE_DIR", str(dirs.state))
    monkeypatch.setenv("OMNITRADE_DATA_DIR", str(dirs.data))
    return dirs


def write_config(dirs: AppDirs, text: str) -> Path:
    """Write ``config.toml`` into the sandbox's config folder."""
    dirs.config.mkdir(parents=True, exist_ok=True)
    path = dirs.config / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in that keeps passwords in a dict (a real keyring backend class)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


class LockedKeyring(MemoryKeyring):
    """A keyring whose collection is locked and stays locked."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("collection is locked")


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
