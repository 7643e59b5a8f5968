"""Fixtures of the security tests: a sandbox of app directories and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

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
