"""The gateway's signing secret: created once, private, and refused when exposed."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from omnitrade_tui.config import AppDirs
from omnitrade_tui.gateway.auth import (
    GatewaySecretError,
    default_secret_path,
    load_or_create_secret,
)
from omnitrade_tui.gateway.tokens import AccessTokens

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def test_created_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "gateway.secret"
    secret = load_or_create_secret(path)
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == secret
    assert load_or_create_secret(tmp_path / "other.secret") != secret
    assert [p.name for p in path.parent.iterdir()] == ["gateway.secret"]  # no temp left
    AccessTokens(secret)  # long enough to sign with


def test_concurrent_creators_agree(tmp_path: Path) -> None:
    path = tmp_path / "gateway.secret"
    with ThreadPoolExecutor(8) as pool:
        secrets = list(pool.map(lambda _: load_or_create_secret(path), range(16)))
    assert len(set(secrets)) == 1


def test_an_exposed_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.secret"
    load_or_create_secret(path)
    path.chmod(0o644)
    with pytest.raises(GatewaySecretError, match="chmod 600"):
        load_or_create_secret(path)


@pytest.mark.parametrize("content", ["abcd\n", "not hex at all\n", ""])
def test_a_damaged_secret_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "gateway.secret"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(GatewaySecretError, match="delete it"):
        load_or_create_secret(path)


def test_default_path_is_in_the_state_dir(tmp_path: Path) -> None:
    dirs = AppDirs(config=tmp_path / "c", state=tmp_path / "s", data=tmp_path / "d")
    assert default_secret_path(dirs) == tmp_path / "s" / "gateway.secret"


def test_short_secrets_cannot_sign() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        AccessTokens(b"short")
