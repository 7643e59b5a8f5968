"""The key store: API keys in the OS keyring, an encrypted file, or the environment.

A key is a name, a kind (``hmac`` secret or ``ed25519`` private key in PEM), the API key and
the secret. Where secrets live:

* ``keyring`` (preferred): the OS keyring through the ``keyring`` package, one entry per key.
* ``file``: on a headless box without a keyring backend (the usual case over SSH), one file
  ``keys.enc`` in the data directory, encrypted with AES-256-GCM under a key derived from a
  passphrase with scrypt; unlocked once per run (prompt or ``OMNITRADE_KEYFILE_PASSPHRASE``).
* ``env``: for automation, ``OMNITRADE_API_KEY`` with ``OMNITRADE_API_SECRET`` (or
  ``OMNITRADE_API_SECRET_FILE``) and ``OMNITRADE_API_KEY_TYPE``; listed as the key ``env``.

Names, kinds and fingerprints (never secrets) are kept in ``keys.toml`` beside the config, so
``keys list`` works without unlocking anything. Every secret is held in a ``Secret``.

Checking a key against its venue is the venue connector's (``venues/binance/key_check.py``,
through the connector's own REST client); this module only keeps keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from omnitrade_tui.config import AppDirs, Profile, dump_toml, write_private_file
from omnitrade_tui.redaction import Secret

__all__ = [
    "ApiKey",
    "EncryptedFileBackend",
    "EnvBackend",
    "KeyCheckError",
    "KeyInfo",
    "KeyKind",
    "KeyNotFoundError",
    "KeyStore",
    "KeyStoreError",
    "KeyringBackend",
    "KeyringLockedError",
    "KeyringUnavailableError",
    "Secret",
    "VenueUnreachableError",
    "open_key_store",
    "resolve_key",
]

KEYRING_SERVICE = "omnitrade"
INDEX_FILE = "keys.toml"
KEY_FILE = "keys.enc"
ENV_KEY_NAME = "env"
# scrypt cost: 2**15 x 8 x 128 bytes = 32 MiB and ~0.1 s per unlock, the level the
# cryptography docs suggest for interactive logins.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


class KeyStoreError(Exception):
    """A key is missing or unusable, or the store cannot be opened."""


class KeyNotFoundError(KeyStoreError):
    """No key of that name."""


class KeyringUnavailableError(KeyStoreError):
    """There is no usable OS keyring backend (a headless box)."""


class KeyringLockedError(KeyStoreError):
    """The keyring (or the encrypted key file) is locked: wrong or missing passphrase."""


class KeyCheckError(KeyStoreError):
    """The venue refused the key: wrong, revoked, a bad secret, or a clock far off."""


class VenueUnreachableError(Exception):
    """The venue could not be reached (DNS, refused, timeout, TLS, 5xx)."""


class KeyKind(StrEnum):
    """How requests are signed with a key."""

    HMAC = "hmac"
    ED25519 = "ed25519"


def fingerprint(api_key: str) -> str:
    """A short, stable, non-secret name for an API key: ``sha256:`` and 16 hex digits."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ApiKey:
    """A usable key: its name, kind, API key and secret (both ``Secret``)."""

    name: str
    kind: KeyKind
    api_key: Secret
    secret: Secret
    #: The passphrase some venues add to a key (OKX, KuCoin, Coinbase; ccxt's
    #: ``password``); not the key file's passphrase.
    api_passphrase: Secret | None = None

    @property
    def fingerprint(self) -> str:
        """See ``fingerprint``."""
        return fingerprint(self.api_key.reveal())

    def ed25519_private_key(self) -> Ed25519PrivateKey:
        """The Ed25519 private key of an Ed25519 key (for a connector that signs itself).

        Raises:
            KeyStoreError: an HMAC key, or a PEM that does not hold an Ed25519 key.
        """
        if self.kind is KeyKind.HMAC:
            raise KeyStoreError(f"key {self.name!r} is an HMAC key, not Ed25519")
        return _load_ed25519(self.secret.reveal())


def _load_ed25519(pem: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        # The parser's message may quote the input; say only what is wrong.
        raise KeyStoreError("the Ed25519 private key is not a valid unencrypted PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError("the private key is not an Ed25519 key")
    return key


def validate_key(kind: KeyKind, api_key: str, secret: str) -> None:
    """Refuse a key that cannot possibly work, before storing it."""
    if not api_key.strip() or not api_key.isprintable() or " " in api_key:
        raise KeyStoreError("the API key is empty or has spaces or control characters")
    if kind is KeyKind.HMAC:
        if not secret.strip() or not secret.isprintable():
            raise KeyStoreError("the HMAC secret is empty or has control characters")
    else:
        _load_ed25519(secret)


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys list`` shows: never a secret."""

    name: str
    kind: KeyKind
    fingerprint: str
    backend: str
    profile: str | None = None
    added: str = ""


# -- backends ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSecrets:
    """What a backend keeps of one key (held only while it is handed on)."""

    api_key: str
    secret: str
    api_passphrase: str | None = None

    @classmethod
    def of_entry(cls, entry: Mapping[str, Any]) -> StoredSecrets:
        """From a stored JSON entry (a passphrase only where the key has one).

        Raises:
            KeyError, TypeError: not an entry omnitrade wrote.
        """
        passphrase = entry.get("api_passphrase")
        return cls(
            str(entry["api_key"]),
            str(entry["secret"]),
            str(passphrase) if passphrase is not None else None,
        )

    def entry(self) -> dict[str, str]:
        """As stored: JSON-ready, the passphrase only when there is one."""
        out = {"api_key": self.api_key, "secret": self.secret}
        if self.api_passphrase:
            out["api_passphrase"] = self.api_passphrase
        return out


class KeyringBackend:
    """Secrets in the OS keyring, one entry per key name under the service ``omnitrade``."""

    name = "keyring"

    def __init__(self) -> None:
        backend = keyring.get_keyring()
        if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
            raise KeyringUnavailableError(_NO_KEYRING)

    def get(self, name: str) -> StoredSecrets | None:
        """The secrets stored under ``name``."""
        raw = self._call(keyring.get_password, KEYRING_SERVICE, name)
        if raw is None:
            return None
        try:
            return StoredSecrets.of_entry(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            raise KeyStoreError(
                f"the keyring entry {KEYRING_SERVICE}/{name} is not one omnitrade wrote; "
                f"remove it and add the key again"
            ) from None

    def put(self, name: str, secrets: StoredSecrets) -> None:
        """Store (or replace) a key."""
        value = json.dumps(secrets.entry())
        self._call(keyring.set_password, KEYRING_SERVICE, name, value)

    def delete(self, name: str) -> None:
        """Forget a key (no error if it was not there)."""
        try:
            self._call(keyring.delete_password, KEYRING_SERVICE, name)
        except KeyStoreError as exc:
            if not isinstance(exc.__cause__, keyring.errors.PasswordDeleteError):
                raise

    @staticmethod
    def _call(fn: Callable[..., Any], *args: str) -> Any:
        try:
            return fn(*args)
        except keyring.errors.KeyringLocked:
            raise KeyringLockedError(
                "the OS keyring is locked: unlock it (log in to the desktop session, or "
                "`gnome-keyring-daemon --unlock`) or use OMNITRADE_KEY_BACKEND=file"
            ) from None
        except keyring.errors.NoKeyringError:
            raise KeyringUnavailableError(_NO_KEYRING) from None
        except keyring.errors.PasswordDeleteError as exc:
            raise KeyStoreError("the keyring could not delete the key") from exc
        except keyring.errors.KeyringError as exc:
            raise KeyStoreError(f"the OS keyring failed: {type(exc).__name__}") from None


_NO_KEYRING = (
    "no OS keyring is available (usual on a headless box over SSH). Use the encrypted key "
    'file: set OMNITRADE_KEY_BACKEND=file (or key_backend = "file" in the config) and give '
    "the passphrase at the prompt or in OMNITRADE_KEYFILE_PASSPHRASE; or, for automation, set "
    "OMNITRADE_API_KEY and OMNITRADE_API_SECRET"
)


class EncryptedFileBackend:
    """All secrets in one file, AES-256-GCM under a scrypt-derived key.

    The file is JSON: the scrypt parameters and salt, a nonce, and the ciphertext of a JSON
    object ``{name: {"api_key", "secret"}}``. A wrong passphrase fails the GCM tag check and
    is reported as a locked store; nothing is overwritten.
    """

    name = "file"

    def __init__(self, path: Path, passphrase: Secret) -> None:
        if not passphrase:
            raise KeyringLockedError(f"the key file {path} needs a passphrase")
        self.path = path
        self._passphrase = passphrase
        self._entries: dict[str, dict[str, str]] = self._load()

    def _derive(self, salt: bytes, n: int, r: int, p: int) -> bytes:
        kdf = Scrypt(salt=salt, length=32, n=n, r=r, p=p)
        return kdf.derive(self._passphrase.reveal().encode())

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            blob = json.loads(self.path.read_text(encoding="utf-8"))
            salt = base64.b64decode(blob["salt"])
            nonce = base64.b64decode(blob["nonce"])
            ciphertext = base64.b64decode(blob["ciphertext"])
            n, r, p = int(blob["n"]), int(blob["r"]), int(blob["p"])
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError):
            raise KeyStoreError(f"the key file {self.path} is damaged (not a key file)") from None
        key = self._derive(salt, n, r, p)
        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, b"omnitrade-keys-v1")
        except InvalidTag:
            raise KeyringLockedError(
                f"wrong passphrase for the key file {self.path} (or the file was altered)"
            ) from None
        entries: dict[str, dict[str, str]] = json.loads(plain)
        return entries

    def _save(self) -> None:
        salt = os.urandom(16)
        nonce = os.urandom(12)
        key = self._derive(salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
        plain = json.dumps(self._entries).encode()
        ciphertext = AESGCM(key).encrypt(nonce, plain, b"omnitrade-keys-v1")
        blob = {
            "version": 1,
            "kdf": "scrypt",
            "n": _SCRYPT_N,
            "r": _SCRYPT_R,
            "p": _SCRYPT_P,
            "salt": base64.b64encode(salt).decode(),
            "cipher": "AES-256-GCM",
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode(),
        }
        write_private_file(self.path, json.dumps(blob, indent=1) + "\n")

    def get(self, name: str) -> StoredSecrets | None:
        """The secrets stored under ``name``."""
        entry = self._entries.get(name)
        return StoredSecrets.of_entry(entry) if entry else None

    def put(self, name: str, secrets: StoredSecrets) -> None:
        """Store (or replace) a key, re-encrypting the file with a fresh salt and nonce."""
        self._entries[name] = secrets.entry()
        self._save()

    def delete(self, name: str) -> None:
        """Forget a key."""
        if self._entries.pop(name, None) is not None:
            self._save()


class EnvBackend:
    """One read-only key, ``env``, from OMNITRADE_API_KEY and OMNITRADE_API_SECRET[_FILE]."""

    name = "env"

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def key(self) -> ApiKey | None:
        """The key the environment defines, if any."""
        api_key = self._env.get("OMNITRADE_API_KEY")
        if not api_key:
            return None
        secret = self._env.get("OMNITRADE_API_SECRET")
        secret_file = self._env.get("OMNITRADE_API_SECRET_FILE")
        if not secret and secret_file:
            try:
                secret = Path(secret_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise KeyStoreError(
                    f"cannot read OMNITRADE_API_SECRET_FILE {secret_file}: {exc.strerror}"
                ) from None
        if not secret:
            raise KeyStoreError(
                "OMNITRADE_API_KEY is set but neither OMNITRADE_API_SECRET nor "
                "OMNITRADE_API_SECRET_FILE is"
            )
        raw_kind = self._env.get("OMNITRADE_API_KEY_TYPE", "hmac").lower()
        try:
            kind = KeyKind(raw_kind)
        except ValueError:
            raise KeyStoreError(
                f"OMNITRADE_API_KEY_TYPE={raw_kind!r}: expected hmac or ed25519"
            ) from None
        validate_key(kind, api_key, secret)
        api_passphrase = self._env.get("OMNITRADE_API_PASSPHRASE")
        return ApiKey(
            ENV_KEY_NAME,
            kind,
            Secret(api_key),
            Secret(secret),
            Secret(api_passphrase) if api_passphrase else None,
        )


SecretBackend = KeyringBackend | EncryptedFileBackend
#: Opens a backend when a secret is first needed; ``creating`` is true when a key is being
#: stored. Returns ``None`` when there is nothing to open (no key file and nothing to add).
Unlock = Callable[[bool], SecretBackend | None]


# -- the store -----------------------------------------------------------------------------


class KeyStore:
    """Named keys: secrets in a backend, non-secret facts in ``keys.toml``."""

    def __init__(
        self,
        dirs: AppDirs,
        backend: SecretBackend | None,
        env: Mapping[str, str] | None = None,
        unlock: Unlock | None = None,
    ) -> None:
        """``unlock``, when given and ``backend`` is ``None``, opens the backend the first
        time a secret is read or stored (see ``Unlock``), so a run that needs no stored
        secret (the environment's key, a missing key) never asks for a passphrase."""
        self.dirs = dirs
        self.backend = backend
        self._unlock = unlock
        self._env = EnvBackend(os.environ if env is None else env)
        self.index_path = dirs.config / INDEX_FILE

    def _read_index(self) -> dict[str, dict[str, Any]]:
        try:
            data = tomllib.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise KeyStoreError(f"the key index {self.index_path} is damaged: {exc}") from None
        keys = data.get("keys", {})
        return keys if isinstance(keys, dict) else {}

    def _write_index(self, index: dict[str, dict[str, Any]]) -> None:
        header = "# Written by `omnitrade keys`: names and fingerprints only, never secrets.\n"
        write_private_file(self.index_path, header + dump_toml({"keys": index}))

    def _open_backend(self, creating: bool) -> SecretBackend | None:
        if self.backend is None and self._unlock is not None:
            self.backend = self._unlock(creating)
            if self.backend is not None:
                self._unlock = None
        return self.backend

    def _need_backend(self, creating: bool = False) -> SecretBackend:
        backend = self._open_backend(creating)
        if backend is None:
            raise KeyringUnavailableError(_NO_KEYRING)
        return backend

    def add(
        self,
        name: str,
        kind: KeyKind,
        api_key: Secret,
        secret: Secret,
        profile: str | None = None,
        api_passphrase: Secret | None = None,
    ) -> KeyInfo:
        """Validate and store a key under ``name`` (replacing one of the same name), with
        the venue's passphrase when it has one."""
        if name == ENV_KEY_NAME:
            raise KeyStoreError(f"the name {ENV_KEY_NAME!r} is reserved for OMNITRADE_API_KEY")
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise KeyStoreError(f"key name {name!r}: use letters, digits, '-', '_' and '.'")
        validate_key(kind, api_key.reveal(), secret.reveal())
        backend = self._need_backend(creating=True)
        backend.put(
            name,
            StoredSecrets(
                api_key.reveal(),
                secret.reveal(),
                api_passphrase.reveal() if api_passphrase else None,
            ),
        )
        info = KeyInfo(
            name=name,
            kind=kind,
            fingerprint=fingerprint(api_key.reveal()),
            backend=backend.name,
            profile=profile,
            added=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        index = self._read_index()
        index[name] = {
            "kind": info.kind.value,
            "fingerprint": info.fingerprint,
            "backend": info.backend,
            "profile": info.profile,
            "added": info.added,
        }
        self._write_index(index)
        return info

    def list_keys(self) -> list[KeyInfo]:
        """Every known key, by name; the environment's key (if set) as ``env``."""
        out = self._indexed()
        env_key = self._env.key()
        if env_key is not None:
            out.append(KeyInfo(ENV_KEY_NAME, env_key.kind, env_key.fingerprint, "env"))
        return out

    def _indexed(self) -> list[KeyInfo]:
        out = []
        for name, row in sorted(self._read_index().items()):
            try:
                kind = KeyKind(str(row.get("kind", "hmac")))
            except (ValueError, AttributeError):
                raise KeyStoreError(
                    f"the key index {self.index_path} is damaged: key {name!r} has no valid kind"
                ) from None
            out.append(
                KeyInfo(
                    name=name,
                    kind=kind,
                    fingerprint=str(row.get("fingerprint", "?")),
                    backend=str(row.get("backend", "?")),
                    profile=row.get("profile"),
                    added=str(row.get("added", "")),
                )
            )
        return out

    def info(self, name: str) -> KeyInfo:
        """The listed facts of one key."""
        # Only the env key looks at the environment, so a half-set OMNITRADE_API_KEY does
        # not break the use of a stored key.
        infos = self.list_keys() if name == ENV_KEY_NAME else self._indexed()
        for info in infos:
            if info.name == name:
                return info
        raise KeyNotFoundError(f"no key named {name!r} (see `omnitrade keys list`)")

    def get(self, name: str) -> ApiKey:
        """The usable key ``name``, secrets unlocked."""
        if name == ENV_KEY_NAME:
            env_key = self._env.key()
            if env_key is None:
                raise KeyNotFoundError("the key 'env' needs OMNITRADE_API_KEY to be set")
            return env_key
        info = self.info(name)
        backend = self._need_backend()
        stored = backend.get(name)
        if stored is None:
            raise KeyNotFoundError(
                f"key {name!r} is listed (backend {info.backend}) but the {backend.name} "
                "store has no secret for it: add it again with `omnitrade keys add`"
            )
        return ApiKey(
            name,
            info.kind,
            Secret(stored.api_key),
            Secret(stored.secret),
            Secret(stored.api_passphrase) if stored.api_passphrase else None,
        )

    def remove(self, name: str) -> None:
        """Forget a key: its secret and its index entry."""
        index = self._read_index()
        if name not in index:
            raise KeyNotFoundError(f"no key named {name!r} (see `omnitrade keys list`)")
        backend = self._open_backend(creating=False)
        if backend is not None:
            backend.delete(name)
        del index[name]
        self._write_index(index)


def open_key_store(
    dirs: AppDirs,
    choice: str,
    env: Mapping[str, str] | None = None,
    ask_passphrase: Callable[[str], str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> KeyStore:
    """Open the key store with the configured backend (``auto``, ``keyring``, ``file``, ``env``).

    ``auto`` takes the OS keyring when there is one; otherwise the encrypted file when a
    passphrase can be had (environment or prompt), telling ``notice`` why; otherwise only the
    environment's key is available and storing a key fails with a message naming the options.
    """
    env = os.environ if env is None else env
    if choice == "env":
        return KeyStore(dirs, None, env)
    if choice in ("keyring", "auto"):
        try:
            return KeyStore(dirs, KeyringBackend(), env)
        except KeyringUnavailableError:
            if choice == "keyring":
                raise
    passphrase = env.get("OMNITRADE_KEYFILE_PASSPHRASE")
    path = dirs.data / KEY_FILE
    locked = KeyringLockedError(
        f"the key file {path} needs a passphrase: set OMNITRADE_KEYFILE_PASSPHRASE "
        "or run at a terminal to be asked"
    )

    def using_file(passphrase: str) -> EncryptedFileBackend:
        if choice == "auto" and notice is not None:
            notice(f"no OS keyring available; using the encrypted key file {path}")
        return EncryptedFileBackend(path, Secret(passphrase))

    if passphrase:  # no one to bother: open (and check) the file now
        return KeyStore(dirs, using_file(passphrase), env)
    if ask_passphrase is None:
        if choice == "file" and path.exists():
            raise locked  # keys are there, locked, and no one can be asked
        return KeyStore(dirs, None, env)  # nothing stored: the environment's key, if any
    ask = ask_passphrase

    def unlock(creating: bool) -> SecretBackend | None:
        new_file = not path.exists()
        if new_file and not creating:
            return None  # nothing is stored in a file that does not exist: nothing to ask
        answer = ask(f"Passphrase for the key file {path}: ")
        if not answer:
            raise locked
        # A typo in a new passphrase would lock the keys away for good: ask twice.
        if new_file and ask("Repeat the new passphrase: ") != answer:
            raise KeyStoreError("the two passphrases differ; nothing was created")
        return using_file(answer)

    return KeyStore(dirs, None, env, unlock=unlock)


def resolve_key(store: KeyStore, profile: Profile) -> ApiKey | None:
    """The key a run on ``profile`` trades with, or ``None`` for the simulated venue.

    In order: the key the profile names (``key = "..."``); the environment's key; the one
    stored key added ``--for-profile`` this profile.

    Raises:
        KeyNotFoundError: a venue profile with no key to use, or more than one candidate.
    """
    if profile.key:
        return store.get(profile.key)
    if profile.venue == "sim":
        return None
    keys = store.list_keys()
    if any(k.name == ENV_KEY_NAME for k in keys):
        return store.get(ENV_KEY_NAME)
    mine = [k.name for k in keys if k.profile == profile.name]
    if len(mine) == 1:
        return store.get(mine[0])
    if not mine:
        raise KeyNotFoundError(
            f"profile {profile.name!r} needs an API key: add one with "
            f"`omnitrade keys add NAME --for-profile {profile.name}` or set OMNITRADE_API_KEY"
        )
    raise KeyNotFoundError(
        f"profile {profile.name!r} has several keys ({', '.join(mine)}); name one in the "
        f'config: [profiles.{profile.name}] key = "NAME"'
    )
