"""The key store: Secret, the three backends, signing, and checking a key against a venue."""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
from pathlib import Path

import keyring
import keyring.backends.null
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnitrade_tui.config import AppDirs, Overrides, Profile, load_settings, masked_url
from omnitrade_tui.redaction import redact
from omnitrade_tui.secrets import (
    ApiKey,
    EncryptedFileBackend,
    KeyCheckError,
    KeyKind,
    KeyNotFoundError,
    KeyringLockedError,
    KeyringUnavailableError,
    KeyStore,
    KeyStoreError,
    Secret,
    VenueUnreachableError,
    open_key_store,
    resolve_key,
)
from omnitrade_tui.venues.binance.key_check import check_key, credentials_of, verify_run_key

from .helpers import LockedKeyring, MemoryKeyring
from .stub_venue import StubVenue, run_stub

# Binance's documented HMAC test key (public docs, not a real credential).
DOCS_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOCS_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def ed25519_pem() -> tuple[str, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, private


def test_secret_never_shows_itself() -> None:
    s = Secret("s3cr3t-value-123456")
    assert repr(s) == "Secret('***')"
    assert str(s) == "***"
    assert f"{s}" == "***"
    assert "s3cr3t" not in repr([s, {"k": s}])
    assert s.reveal() == "s3cr3t-value-123456"
    assert s == Secret("s3cr3t-value-123456")
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        msgspec.json.encode({"k": s})
    with pytest.raises(TypeError):
        json.dumps({"k": s})
    assert redact("error with s3cr3t-value-123456 inside") == "error with *** inside"


def test_hmac_signature_matches_the_docs_vector() -> None:
    key = ApiKey("docs", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    signature = credentials_of(key).sign(payload)
    assert signature == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_ed25519_signature_verifies() -> None:
    pem, private = ed25519_pem()
    key = ApiKey("ed", KeyKind.ED25519, Secret("edkey-0123456789"), Secret(pem))
    sig = credentials_of(key).sign("a=1&timestamp=2")
    private.public_key().verify(base64.b64decode(sig), b"a=1&timestamp=2")


def test_encrypted_file_round_trip_and_wrong_passphrase(app_dirs: AppDirs) -> None:
    path = app_dirs.data / "keys.enc"
    backend = EncryptedFileBackend(path, Secret("correct horse battery"))
    store = KeyStore(app_dirs, backend, env={})
    info = store.add("main", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET), "testnet")
    assert info.backend == "file"
    raw = path.read_bytes() + (app_dirs.config / "keys.toml").read_bytes()
    assert DOCS_SECRET.encode() not in raw
    assert DOCS_API_KEY.encode() not in raw
    assert path.stat().st_mode & 0o077 == 0  # owner only

    reopened = KeyStore(app_dirs, EncryptedFileBackend(path, Secret("correct horse battery")), {})
    key = reopened.get("main")
    assert key.secret.reveal() == DOCS_SECRET
    assert key.fingerprint == info.fingerprint
    with pytest.raises(KeyringLockedError, match="wrong passphrase"):
        EncryptedFileBackend(path, Secret("wrong horse"))
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(KeyStoreError, match="damaged"):
        EncryptedFileBackend(path, Secret("correct horse battery"))


def test_keyring_backend_add_list_remove(app_dirs: AppDirs, memory_keyring: MemoryKeyring) -> None:
    store = open_key_store(app_dirs, "auto", env={})
    assert store.backend is not None
    assert store.backend.name == "keyring"
    pem, _ = ed25519_pem()
    store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    store.add("b", KeyKind.ED25519, Secret("ed25519-api-key-xyz"), Secret(pem), "demo")
    listed = store.list_keys()
    assert [(k.name, k.kind, k.backend) for k in listed] == [
        ("a", KeyKind.HMAC, "keyring"),
        ("b", KeyKind.ED25519, "keyring"),
    ]
    assert listed[1].profile == "demo"
    assert all(k.fingerprint.startswith("sha256:") for k in listed)
    assert DOCS_SECRET not in repr(listed)
    assert store.get("b").secret.reveal() == pem
    assert ("omnitrade", "a") in memory_keyring.store
    store.remove("a")
    assert [k.name for k in store.list_keys()] == ["b"]
    assert ("omnitrade", "a") not in memory_keyring.store
    with pytest.raises(KeyNotFoundError):
        store.get("a")
    with pytest.raises(KeyNotFoundError):
        store.remove("a")


def test_invalid_keys_are_refused(app_dirs: AppDirs, memory_keyring: MemoryKeyring) -> None:
    store = open_key_store(app_dirs, "keyring", env={})
    with pytest.raises(KeyStoreError, match="not a valid unencrypted PEM"):
        store.add("x", KeyKind.ED25519, Secret("api-key-12345"), Secret("-----BEGIN junk"))
    with pytest.raises(KeyStoreError, match="API key"):
        store.add("x", KeyKind.HMAC, Secret("has space key"), Secret(DOCS_SECRET))
    with pytest.raises(KeyStoreError, match="reserved"):
        store.add("env", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))


def test_no_keyring_backend(app_dirs: AppDirs, no_keyring: None) -> None:
    with pytest.raises(KeyringUnavailableError, match="headless") as exc:
        open_key_store(app_dirs, "keyring", env={})
    assert "OMNITRADE_KEY_BACKEND=file" in str(exc.value)
    # auto with nothing to fall back on: listing works, storing says what to do.
    store = open_key_store(app_dirs, "auto", env={})
    assert store.list_keys() == []
    with pytest.raises(KeyringUnavailableError, match="OMNITRADE_KEYFILE_PASSPHRASE"):
        store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    # auto with a passphrase falls back to the encrypted file, and says so.
    notices: list[str] = []
    store = open_key_store(
        app_dirs, "auto", env={"OMNITRADE_KEYFILE_PASSPHRASE": "pass-phrase"}, notice=notices.append
    )
    assert store.backend is not None
    assert store.backend.name == "file"
    assert "no OS keyring" in notices[0]
    # The file backend with no file yet and no one to ask: nothing is stored, so nothing to
    # unlock (a run with the environment's key, or none, goes on) ...
    assert open_key_store(app_dirs, "file", env={}).list_keys() == []
    # ... but once keys are stored there, they cannot be read without the passphrase.
    store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    with pytest.raises(KeyringLockedError, match="needs a passphrase"):
        open_key_store(app_dirs, "file", env={})


def test_locked_keyring(app_dirs: AppDirs) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        store = open_key_store(app_dirs, "keyring", env={})
        with pytest.raises(KeyringLockedError, match="locked"):
            store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    finally:
        keyring.set_keyring(previous)


def test_env_key(app_dirs: AppDirs, tmp_path: Path) -> None:
    env = {"OMNITRADE_API_KEY": DOCS_API_KEY, "OMNITRADE_API_SECRET": DOCS_SECRET}
    store = open_key_store(app_dirs, "env", env=env)
    (info,) = store.list_keys()
    assert (info.name, info.backend, info.kind) == ("env", "env", KeyKind.HMAC)
    assert store.get("env").secret.reveal() == DOCS_SECRET
    pem, _ = ed25519_pem()
    pem_file = tmp_path / "ed.pem"
    pem_file.write_text(pem)
    env = {
        "OMNITRADE_API_KEY": "ed-api-key-123456",
        "OMNITRADE_API_SECRET_FILE": str(pem_file),
        "OMNITRADE_API_KEY_TYPE": "ed25519",
    }
    assert open_key_store(app_dirs, "env", env=env).get("env").kind is KeyKind.ED25519
    with pytest.raises(KeyStoreError, match="OMNITRADE_API_SECRET"):
        open_key_store(app_dirs, "env", env={"OMNITRADE_API_KEY": "abcdefgh"}).list_keys()


# -- checking against a venue ----------------------------------------------------------------


def test_check_key_hmac_and_ed25519() -> None:
    pem, private = ed25519_pem()
    venue = StubVenue(
        hmac_keys={DOCS_API_KEY: DOCS_SECRET},
        ed25519_keys={"ed-api-key-123456": private.public_key()},
        can_withdraw=True,
    )
    with run_stub(venue):
        good = ApiKey("k", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
        result = asyncio.run(check_key(good, venue.url))
        assert result.can_trade
        assert result.can_withdraw
        assert any("CAN WITHDRAW" in w for w in result.warnings)
        ed = ApiKey("e", KeyKind.ED25519, Secret("ed-api-key-123456"), Secret(pem))
        assert asyncio.run(check_key(ed, venue.url)).account_type == "SPOT"

        wrong_secret = ApiKey("k", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret("x" * 64))
        with pytest.raises(KeyCheckError, match="-1022"):
            asyncio.run(check_key(wrong_secret, venue.url))
        revoked = ApiKey("r", KeyKind.HMAC, Secret("revoked-key-0000"), Secret(DOCS_SECRET))
        with pytest.raises(KeyCheckError, match="revoked"):
            asyncio.run(check_key(revoked, venue.url))
        assert venue.requests == 4
    with pytest.raises(VenueUnreachableError, match="cannot reach"):
        asyncio.run(check_key(good, venue.url, timeout=2))


def test_resolve_key_for_a_profile(app_dirs: AppDirs, memory_keyring: MemoryKeyring) -> None:
    settings = load_settings(Overrides(profile="testnet"), env={})
    store = open_key_store(app_dirs, "keyring", env={})
    assert resolve_key(store, settings.profiles["sim"]) is None
    with pytest.raises(KeyNotFoundError, match="--for-profile testnet"):
        resolve_key(store, settings.profiles["testnet"])
    store.add("t1", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET), "testnet")
    key = resolve_key(store, settings.profiles["testnet"])
    assert key is not None
    assert key.name == "t1"
    store.add("t2", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET), "testnet")
    with pytest.raises(KeyNotFoundError, match="several keys"):
        resolve_key(store, settings.profiles["testnet"])
    env_store = open_key_store(
        app_dirs,
        "keyring",
        env={"OMNITRADE_API_KEY": "env-key-123456", "OMNITRADE_API_SECRET": "s" * 20},
    )
    env_key = resolve_key(env_store, settings.profiles["testnet"])
    assert env_key is not None
    assert env_key.name == "env"


def test_null_keyring_counts_as_no_keyring(app_dirs: AppDirs) -> None:
    previous = keyring.get_keyring()
    # keyring's backends leave their __init__ unannotated.
    keyring.set_keyring(keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(KeyringUnavailableError):
            open_key_store(app_dirs, "keyring", env={})
    finally:
        keyring.set_keyring(previous)


def test_database_url_passwords_are_masked(app_dirs: AppDirs) -> None:
    url = "postgresql://trader:pg-pass-Hx81kq@db.internal:5432/omni"
    settings = load_settings(Overrides(db_url=url), env={})
    assert settings.db_url == url
    assert (
        redact(f"connecting to {url}")
        == "connecting to postgresql://trader:***@db.internal:5432/omni"
    )
    assert masked_url(url) == "postgresql://trader:***@db.internal:5432/omni"
    assert masked_url("sqlite:///x.db") == "sqlite:///x.db"


def test_foreign_keyring_entry(app_dirs: AppDirs, memory_keyring: MemoryKeyring) -> None:
    store = open_key_store(app_dirs, "keyring", env={})
    store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    memory_keyring.store[("omnitrade", "a")] = "not json"
    with pytest.raises(KeyStoreError, match="not one omnitrade wrote"):
        store.get("a")


def test_verify_run_key_needs_a_key_that_can_trade(
    app_dirs: AppDirs, caplog: pytest.LogCaptureFixture
) -> None:
    key = ApiKey("k", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    venue = StubVenue(hmac_keys={DOCS_API_KEY: DOCS_SECRET}, can_withdraw=True)
    with run_stub(venue):
        profile = Profile(
            name="stub",
            venue="binance",
            rest_url=venue.url,
            ws_api_url="ws://x",
            stream_url="ws://x",
        )
        with caplog.at_level("WARNING"):
            result = asyncio.run(verify_run_key(key, profile))
        assert result.can_withdraw
        assert "CAN WITHDRAW" in caplog.text
        venue.can_trade = False
        with pytest.raises(KeyCheckError, match="cannot trade on stub"):
            asyncio.run(verify_run_key(key, profile))


def _never(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r}")


def test_a_new_key_file_passphrase_is_asked_twice(app_dirs: AppDirs) -> None:
    # No key file yet: nothing to unlock until a key is added.
    store = open_key_store(app_dirs, "file", env={}, ask_passphrase=_never)
    assert store.list_keys() == []
    with pytest.raises(KeyNotFoundError):
        store.remove("a")
    answers = iter(["first passphrase", "first passphrase"])
    store = open_key_store(app_dirs, "file", env={}, ask_passphrase=lambda _: next(answers))
    store.add("a", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    asked: list[str] = []

    def once(prompt: str) -> str:
        asked.append(prompt)
        return "first passphrase"

    assert open_key_store(app_dirs, "file", env={}, ask_passphrase=once).get("a")
    assert len(asked) == 1  # the file exists: asked once
    (app_dirs.data / "keys.enc").unlink()
    typo = iter(["new passphrase", "new passphrsae"])
    store = open_key_store(app_dirs, "file", env={}, ask_passphrase=lambda _: next(typo))
    with pytest.raises(KeyStoreError, match="differ"):
        store.add("b", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    assert not (app_dirs.data / "keys.enc").exists()


def test_a_venue_passphrase_is_kept_with_its_key_in_each_backend(
    app_dirs: AppDirs, memory_keyring: MemoryKeyring
) -> None:
    """OKX and KuCoin keys come with a passphrase: stored encrypted beside the secret,
    handed back as a ``Secret``, and absent (not empty) for a key without one."""
    path = app_dirs.data / "keys.enc"
    file_store = KeyStore(app_dirs, EncryptedFileBackend(path, Secret("a file passphrase")), {})
    file_store.add(
        "okx",
        KeyKind.HMAC,
        Secret(DOCS_API_KEY),
        Secret(DOCS_SECRET),
        api_passphrase=Secret("p4ss"),
    )
    assert b"p4ss" not in path.read_bytes()
    reopened = KeyStore(app_dirs, EncryptedFileBackend(path, Secret("a file passphrase")), {})
    key = reopened.get("okx")
    assert key.api_passphrase is not None and key.api_passphrase.reveal() == "p4ss"
    assert "p4ss" not in repr(key)

    ring = open_key_store(app_dirs, "auto", env={})
    ring.add("plain", KeyKind.HMAC, Secret(DOCS_API_KEY), Secret(DOCS_SECRET))
    ring.add(
        "kucoin",
        KeyKind.HMAC,
        Secret(DOCS_API_KEY),
        Secret(DOCS_SECRET),
        api_passphrase=Secret("k"),
    )
    assert ring.get("plain").api_passphrase is None
    assert "api_passphrase" not in memory_keyring.store[("omnitrade", "plain")]
    kucoin = ring.get("kucoin").api_passphrase
    assert kucoin is not None and kucoin.reveal() == "k"

    env = {
        "OMNITRADE_API_KEY": DOCS_API_KEY,
        "OMNITRADE_API_SECRET": DOCS_SECRET,
        "OMNITRADE_API_PASSPHRASE": "from-env",
    }
    env_key = KeyStore(app_dirs, None, env).get("env")
    assert env_key.api_passphrase is not None and env_key.api_passphrase.reveal() == "from-env"
