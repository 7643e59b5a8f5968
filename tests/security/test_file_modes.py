"""Files that hold hashes, audit rows, logs or keys are owner-only: 0600, folders 0700."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnitrade_tui.config import write_private_file
from omnitrade_tui.gateway.auth import load_or_create_secret
from omnitrade_tui.gateway.tls import make_self_signed
from omnitrade_tui.logs import configure_logging, shutdown_logging
from omnitrade_tui.store.database import open_database
from omnitrade_tui.store.gateway_repository import GatewayRepository

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _open_umask() -> Iterator[None]:
    """A permissive umask, as on many boxes: the modes must not depend on it."""
    old = os.umask(0o022)
    yield
    os.umask(old)
    shutdown_logging()
    logging.getLogger().setLevel(logging.WARNING)


async def test_the_sqlite_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "history.db"
    repo = GatewayRepository(await open_database(str(path)))
    try:
        await repo.add_user("ann", "admin", "$argon2id$hash", 1)
        await repo.add_audit(1, "ann", "127.0.0.1", "login", "", "ok")
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        wal = path.with_name(path.name + "-wal")
        assert wal.exists() and mode(wal) == 0o600
    finally:
        await repo.close()


async def test_a_database_left_readable_by_an_older_version_is_made_private(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    repo = GatewayRepository(await open_database(str(path)))
    await repo.close()
    assert mode(path) == 0o600


def test_the_json_log_is_owner_only_across_rotations(tmp_path: Path) -> None:
    setup = configure_logging(tmp_path / "logs", level="INFO", max_bytes=2_000, backups=2)
    assert setup.file is not None
    log = logging.getLogger("omnitrade_tui.test")
    for n in range(100):
        log.info("line %d %s", n, "x" * 50)
    assert mode(tmp_path / "logs") == 0o700
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) == 3  # the file and two rotated ones
    assert all(mode(f) == 0o600 for f in files), [oct(mode(f)) for f in files]


def test_the_gateways_tls_files_and_secret_are_owner_only(tmp_path: Path) -> None:
    cert, key = tmp_path / "gateway" / "cert.pem", tmp_path / "gateway" / "key.pem"
    make_self_signed(cert, key, ["127.0.0.1"])
    assert mode(cert) == 0o600 and mode(key) == 0o600
    assert mode(tmp_path / "gateway") == 0o700
    secret = tmp_path / "state" / "gateway.secret"
    load_or_create_secret(secret)
    assert mode(secret) == 0o600 and mode(secret.parent) == 0o700


def test_a_private_file_gets_an_owner_only_folder_and_ignores_a_stale_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "keys" / "live.toml"
    stale = target.with_name(target.name + ".tmp")
    write_private_file(target, "secret = 'x'\n")
    assert mode(target.parent) == 0o700
    assert mode(target) == 0o600
    # A crash left a world-readable temporary: the next write must not inherit its mode.
    stale.write_text("old")
    stale.chmod(0o644)
    write_private_file(target, "secret = 'y'\n")
    assert mode(target) == 0o600 and target.read_text() == "secret = 'y'\n"
    assert not stale.exists()
