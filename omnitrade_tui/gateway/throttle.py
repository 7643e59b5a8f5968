"""Brute-force and flood protection: failed-login blocking and token-bucket rate limits.

Pure bookkeeping (no I/O, no asyncio) with an injectable clock, so tests move time by hand.
Both structures are bounded: entries that no longer matter (an old failure, a full bucket)
are pruned, and past ``max_keys`` the stalest key is forgotten, so a flood of addresses
cannot grow memory without limit. Hand-written rather than a library: the two algorithms
are a few lines each, and the libraries for them are built around web frameworks.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

Clock = Callable[[], float]


def address_key(address: str) -> str:
    """What identifies a client for blocking and rate limits: its IP without the port.

    Every connection has a port of its own, so counting by ``ip:port`` would count nothing.
    An IPv6 client is counted by its /64, the smallest block a site is given: otherwise one
    machine could try a new address for every guess. Accepts ``ip``, ``ip:port`` and
    ``[ipv6]:port``; anything else (a Unix socket path, a proxy's label) is used as given.
    """
    text = address.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    else:
        host, sep, port = text.rpartition(":")
        if sep and port.isdigit() and host.count(":") == 0:
            text = host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginGuard:
    """Blocks a key (an address, or a user name at an address) after ``max_failures``
    failed logins within ``window_s``.

    The block lasts ``block_s`` seconds from the failure that triggered it, then expires by
    itself (the failures that led to it are forgotten). A successful login clears the
    key's failures.

    Logins that are being checked count too: ``admit`` lets a login wait for a
    password-hashing slot only while the key's recent failures plus the logins already
    admitted stay under ``max_failures``, and ``settle`` records how it ended. Forty wrong
    passwords sent at once are thus at most ``max_failures`` hashes, and the right password
    sent in the same burst is refused like the rest.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        block_s: float = 900.0,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or block_s <= 0:
            raise ValueError("max_failures, window_s and block_s must be positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.clock = clock
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._blocked_until: dict[Hashable, float] = {}
        # Logins admitted and not yet settled, per key (bounded by the logins in progress).
        self._pending: dict[Hashable, int] = {}

    @property
    def tracked_keys(self) -> int:
        """How many keys have recent failures on record (bounded by ``max_keys``)."""
        return len(self._failures)

    def admit(self, key: Hashable) -> float:
        """Count a login in before it waits for a hashing slot; 0.0 if admitted, else the
        seconds to wait (the block left, or 1 s while earlier attempts are being checked).
        An admitted login must be ``settle``-d exactly once."""
        left = self.blocked_for(key)
        if left > 0:
            return left
        pending = self._pending.get(key, 0)
        if self.failures(key) + pending >= self.max_failures:
            return 1.0
        self._pending[key] = pending + 1
        return 0.0

    def settle(self, key: Hashable, ok: bool | None) -> float:
        """End an admitted login: ``True`` succeeded, ``False`` failed (counted, may block:
        the seconds of block are returned), ``None`` abandoned (not counted)."""
        pending = self._pending.pop(key, 0) - 1
        if pending > 0:
            self._pending[key] = pending
        if ok is None:
            return 0.0
        if ok:
            self.record_success(key)
            return 0.0
        return self.record_failure(key)

    def blocked_for(self, address: Hashable) -> float:
        """Seconds the address stays blocked (0.0 when it is not blocked)."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._blocked_until[address]
            return 0.0
        return left

    def record_failure(self, address: Hashable) -> float:
        """Count a failed login; return the seconds of block it caused (0.0 if none)."""
        now = self._clock()
        times = self._failures.pop(address, None) or deque()
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.max_failures:
            self._blocked_until[address] = now + self.block_s
            self._prune_blocks(now)
            return self.block_s
        self._failures[address] = times  # re-inserted last: the most recently active
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)
        return 0.0

    def record_success(self, address: Hashable) -> None:
        """Forget the address's failures after a successful login."""
        self._failures.pop(address, None)

    def failures(self, address: Hashable) -> int:
        """Failed logins of ``address`` still inside the window."""
        times = self._failures.get(address)
        if not times:
            return 0
        cutoff = self._clock() - self.window_s
        return sum(1 for t in times if t > cutoff)

    def _prune_blocks(self, now: float) -> None:
        if len(self._blocked_until) > self._max_keys:
            for address in [a for a, until in self._blocked_until.items() if until <= now]:
                del self._blocked_until[address]


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up.

    Keys are anything hashable (a user name, an address, a pair). ``acquire`` never waits:
    it answers how long the caller would have to, and the gateway refuses the command.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def _refilled(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            return _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        return bucket

    def wait_time(self, key: Hashable, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available to ``key`` (0.0: now). Takes none."""
        bucket = self._refilled(key, self._clock())
        missing = cost - bucket.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def acquire(self, key: Hashable, cost: float = 1.0) -> float:
        """Take ``cost`` tokens if available and return 0.0; else take none and return the
        seconds until they would be."""
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}: it could never pass")
        now = self._clock()
        bucket = self._refilled(key, now)
        if bucket.tokens < cost:
            self._store(key, bucket)
            return (cost - bucket.tokens) / self.rate
        bucket.tokens -= cost
        self._store(key, bucket)
        return 0.0

    def _store(self, key: Hashable, bucket: _Bucket) -> None:
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            # The least recently used bucket goes; a forgotten key restarts full, which
            # errs toward letting a long-idle client through.
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimited(Exception):
    """Too many requests: ``retry_after`` seconds until the next one would pass."""

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(f"too many requests from {what}: retry in {retry_after:.1f} s")
        self.what = what
        self.retry_after = retry_after


class CommandLimiter:
    """Per-user and per-address token buckets: a command passes only if both allow it.

    Two limits, because one user may come from many addresses (a stolen token used in
    parallel) and many users from one address (a shared NAT); neither bucket is drained
    when the other refuses.
    """

    def __init__(
        self,
        per_user: RateLimiter | None = None,
        per_address: RateLimiter | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        # ``is None``, not ``or``: an unused limiter has no keys, so it is falsy.
        if per_user is None:
            per_user = RateLimiter(rate=20.0, burst=40.0, clock=clock)
        if per_address is None:
            per_address = RateLimiter(rate=50.0, burst=100.0, clock=clock)
        self.per_user = per_user
        self.per_address = per_address

    def check(self, username: str, address: str, cost: float = 1.0) -> None:
        """Take one command's tokens from both buckets, or raise ``RateLimited``."""
        user_wait = self.per_user.wait_time(username, cost)
        address_wait = self.per_address.wait_time(address, cost)
        if user_wait > 0:
            raise RateLimited(f"user {username}", user_wait)
        if address_wait > 0:
            raise RateLimited(f"address {address}", address_wait)
        self.per_user.acquire(username, cost)
        self.per_address.acquire(address, cost)
