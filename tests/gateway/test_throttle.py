"""Brute-force blocking and rate limits, with a clock moved by hand."""

from __future__ import annotations

import pytest

from omnitrade_tui.gateway.throttle import (
    CommandLimiter,
    LoginGuard,
    RateLimited,
    RateLimiter,
    address_key,
)
from tests.gateway.conftest import FakeClock


def test_repeated_failures_block_the_address_and_the_block_expires(clock: FakeClock) -> None:
    guard = LoginGuard(max_failures=3, window_s=60, block_s=300, clock=clock)
    assert guard.record_failure("10.0.0.1") == 0
    assert guard.record_failure("10.0.0.1") == 0
    assert guard.blocked_for("10.0.0.1") == 0
    assert guard.record_failure("10.0.0.1") == 300
    assert guard.blocked_for("10.0.0.1") == 300
    assert guard.blocked_for("10.0.0.2") == 0  # other addresses are not affected
    clock.advance(299)
    assert guard.blocked_for("10.0.0.1") == pytest.approx(1)
    clock.advance(1)
    assert guard.blocked_for("10.0.0.1") == 0
    # The failures that caused the block are forgotten with it.
    assert guard.failures("10.0.0.1") == 0
    assert guard.record_failure("10.0.0.1") == 0


def test_failures_outside_the_window_do_not_count(clock: FakeClock) -> None:
    guard = LoginGuard(max_failures=3, window_s=60, block_s=300, clock=clock)
    guard.record_failure("a")
    guard.record_failure("a")
    clock.advance(61)
    assert guard.failures("a") == 0
    assert guard.record_failure("a") == 0
    assert guard.record_failure("a") == 0
    assert guard.record_failure("a") == 300


def test_success_clears_failures(clock: FakeClock) -> None:
    guard = LoginGuard(max_failures=2, window_s=60, block_s=300, clock=clock)
    guard.record_failure("a")
    guard.record_success("a")
    assert guard.record_failure("a") == 0


def test_guard_memory_is_bounded(clock: FakeClock) -> None:
    guard = LoginGuard(max_failures=5, clock=clock, max_keys=100)
    for i in range(1000):
        guard.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert guard.tracked_keys <= 100


def test_token_bucket_allows_a_burst_then_the_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=2.0, burst=4.0, clock=clock)
    assert [limiter.acquire("alice") for _ in range(4)] == [0, 0, 0, 0]
    assert limiter.acquire("alice") == pytest.approx(0.5)
    assert limiter.acquire("bob") == 0  # keys are independent
    clock.advance(0.5)
    assert limiter.acquire("alice") == 0
    assert limiter.acquire("alice") == pytest.approx(0.5)
    clock.advance(100)  # refills to the burst, not beyond
    assert [limiter.acquire("alice") for _ in range(5)][-1] > 0


def test_a_refused_acquire_takes_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1.0, clock=clock)
    assert limiter.acquire("k") == 0
    for _ in range(10):
        assert limiter.acquire("k") > 0
    clock.advance(1.0)
    assert limiter.acquire("k") == 0
    with pytest.raises(ValueError):
        limiter.acquire("k", cost=2)


def test_limiter_memory_is_bounded(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=2.0, clock=clock, max_keys=50)
    for i in range(500):
        limiter.acquire(i)
    assert len(limiter) == 50


def test_command_limiter_checks_user_and_address(clock: FakeClock) -> None:
    limits = CommandLimiter(
        per_user=RateLimiter(rate=1.0, burst=2.0, clock=clock),
        per_address=RateLimiter(rate=1.0, burst=3.0, clock=clock),
    )
    limits.check("alice", "10.0.0.1")
    limits.check("alice", "10.0.0.2")
    with pytest.raises(RateLimited, match="user alice") as refused:
        limits.check("alice", "10.0.0.3")
    assert refused.value.retry_after == pytest.approx(1.0)
    # bob shares alice's first address: the address has one token left, then refuses.
    limits.check("bob", "10.0.0.1")
    limits.check("bob", "10.0.0.1")
    with pytest.raises(RateLimited, match=r"address 10\.0\.0\.1"):
        limits.check("carol", "10.0.0.1")
    # carol's refusal did not drain carol's own bucket.
    limits.check("carol", "10.0.0.9")
    limits.check("carol", "10.0.0.9")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("192.0.2.7:40000", "192.0.2.7"),
        ("[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("[::ffff:192.0.2.7]:80", "192.0.2.7"),
        ("::1", "::/64"),
        ("unix:/run/omnitrade.sock", "unix:/run/omnitrade.sock"),
        ("proxy-label", "proxy-label"),
    ],
)
def test_address_key_is_the_ip_without_the_port(address: str, key: str) -> None:
    assert address_key(address) == key


def test_logins_in_progress_count_toward_the_limit(clock: FakeClock) -> None:
    guard = LoginGuard(max_failures=3, window_s=60, block_s=300, clock=clock)
    assert [guard.admit("a") for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert guard.settle("a", None) == 0.0  # abandoned (client gone): not a failure
    assert guard.admit("a") == 0.0
    assert guard.settle("a", False) == 0.0
    assert guard.settle("a", False) == 0.0
    assert guard.settle("a", False) == 300  # the third failure blocks
    assert guard.admit("a") == pytest.approx(300)
    assert guard.admit(("vic", "a")) == 0.0  # another key (a user at that address) is free
