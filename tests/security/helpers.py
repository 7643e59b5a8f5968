"""Helpers of the security tests: a config writer and keyring backends of our own."""

from __future__ import annotations

from pathlib import Path

import keyring.errors
from keyring.backend import KeyringBackend

from omnitrade_tui.config import AppDirs


def write_config(dirs: AppDirs, text: str) -> Path:
    """Write ``config.toml`` into the sandbox's config folder."""
    dirs.config.mkdir(parents=True, exist_ok=True)
    path = dirs.config / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in that keeps passwords in a dict (a real keyring backend class)."""

    priority = 1

    def __init__(self) -> None:
        # keyring's backend base class leaves its __init__ unannotated.
        super().__init__()  # type: ignore[no-untyped-call]
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
