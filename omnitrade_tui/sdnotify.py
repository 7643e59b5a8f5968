"""systemd's notify protocol: ``READY=1``, ``WATCHDOG=1``, ``STATUS=...``, ``STOPPING=1``.

A unit with ``Type=notify`` waits for ``READY=1`` before it calls the service started, and
one with ``WatchdogSec=`` restarts it when ``WATCHDOG=1`` stops arriving. systemd says where
to send them in ``NOTIFY_SOCKET`` (a datagram socket path; ``@name`` for the abstract
namespace) and how often in ``WATCHDOG_USEC`` (for the process ``WATCHDOG_PID`` names).

Written on the standard library's ``socket`` rather than a dependency: the protocol is one
``sendto`` of ``KEY=VALUE`` lines; ``systemd-python`` needs libsystemd's headers to build and
the pure-Python ``sdnotify`` package has had no release since 2017. Outside systemd (no
``NOTIFY_SOCKET``) every call is a no-op, so the same process runs by hand or in a
container.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends state lines to the service manager; a no-op when there is none."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """The manager's socket and watchdog period from the environment systemd sets."""
        env = os.environ if env is None else env
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # A watchdog period meant for another process (a parent that exec'd us) is not ours.
        if raw.isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(env.get("NOTIFY_SOCKET"), usec)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send ``WATCHDOG=1``: half the period, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    def send(self, *lines: str) -> bool:
        """Send ``lines`` in one datagram; whether it was sent (never raises)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode(), target)
        except OSError as exc:
            # The manager went away (or the socket is not ours): the run goes on, unsupervised.
            log.warning("cannot notify the service manager at %s: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """``READY=1``: started (and the status line, if any)."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive."""
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """``STATUS=...``: the line ``systemctl status`` shows."""
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        """``STOPPING=1``: shutting down on purpose."""
        return self.send("STOPPING=1")
