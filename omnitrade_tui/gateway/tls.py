"""TLS for the gateway: its certificate, and the terminal's first-use trust in it.

A trading box rarely has a certificate from a public authority, so the terminal trusts a
gateway the way SSH trusts a host: the first connection shows the certificate's SHA-256
fingerprint and, once accepted, it is remembered in ``known_gateways`` in the config
directory; a later connection whose certificate differs is refused loudly (someone may be
in the middle). The pin is enforced by aiohttp itself (``aiohttp.Fingerprint``) on every
request and on the WebSocket, so no path talks to an unpinned peer.

Certificates are made with ``cryptography`` (already a dependency for key signing): an
ECDSA P-256 key and a self-signed certificate naming the addresses the gateway listens on.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: How long a self-signed development certificate is valid.
SELF_SIGNED_DAYS = 365


def fingerprint(der: bytes) -> str:
    """``SHA256:<base64>`` of a DER certificate, as ``ssh-keygen -l`` prints host keys."""
    digest = hashlib.sha256(der).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def fingerprint_digest(text: str) -> bytes:
    """The raw SHA-256 of a ``SHA256:<base64>`` fingerprint (what aiohttp pins)."""
    if not text.startswith("SHA256:"):
        raise ValueError(f"not a SHA256 fingerprint: {text!r}")
    b64 = text[len("SHA256:") :]
    return base64.b64decode(b64 + "=" * (-len(b64) % 4))


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (plain WebSocket is allowed there)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_self_signed(cert_path: Path, key_path: Path, hosts: list[str]) -> str:
    """Write a new key and a self-signed certificate for ``hosts`` (both mode 0600); its
    fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"omnitrade gateway {hosts[0]}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(key_path, key_pem)
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` owner-only (0600, new folders 0700), whatever mode an old file had."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def certificate_fingerprint(cert_path: Path) -> str:
    """The fingerprint of a PEM certificate file."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """The gateway's TLS context (TLS 1.2 and newer)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _unverified_context() -> ssl.SSLContext:
    # Only to read the certificate the gateway presents, so its fingerprint can be shown
    # and compared; nothing is sent on this connection.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def fetch_fingerprint(host: str, port: int, timeout: float = 10.0) -> str:
    """Connect, complete the TLS handshake and return the certificate's fingerprint."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=_unverified_context()), timeout
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise ConnectionError(f"{host}:{port} presented no certificate")
        return fingerprint(der)
    finally:
        writer.close()


class Trust(StrEnum):
    """What ``known_gateways`` says of a gateway's fingerprint."""

    KNOWN = "known"
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class TrustCheck:
    """A fingerprint checked against the remembered one (``remembered`` if any)."""

    trust: Trust
    address: str
    seen: str
    remembered: str | None = None


class KnownGateways:
    """``known_gateways``: one ``host:port fingerprint`` a line, like SSH's known_hosts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _entries(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        out: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                out[parts[0]] = parts[1]
        return out

    def check(self, address: str, seen: str) -> TrustCheck:
        """Compare ``seen`` with what is remembered for ``address``."""
        remembered = self._entries().get(address)
        if remembered is None:
            return TrustCheck(Trust.NEW, address, seen)
        if remembered == seen:
            return TrustCheck(Trust.KNOWN, address, seen, remembered)
        return TrustCheck(Trust.CHANGED, address, seen, remembered)

    def remember(self, address: str, seen: str) -> None:
        """Trust ``seen`` for ``address`` from now on (replacing nothing: a changed
        fingerprint must be removed by hand first, as SSH asks)."""
        entries = self._entries()
        if address in entries:
            raise ValueError(
                f"{address} is already known with {entries[address]}; remove that line from "
                f"{self.path} first if the gateway's certificate really changed"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"{address} {seen}\n")
