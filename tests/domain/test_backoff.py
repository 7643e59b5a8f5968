"""The one backoff: waits double up to a cap, start over on reset, and jitter stays within
half to one and a half times the wait."""

from __future__ import annotations

import pytest

from omnitrade_tui.domain.backoff import Backoff


def test_waits_double_up_to_the_cap_and_start_over() -> None:
    waits = Backoff(0.5, 3.0)
    assert [waits.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    waits.reset()
    assert waits.next() == 0.5


def test_jitter_spreads_each_wait_around_its_value() -> None:
    waits = Backoff(1.0, 4.0, jitter=True)
    seen = [waits.next() for _ in range(200)]
    assert all(0.5 <= w <= 6.0 for w in seen)
    assert 0.5 <= seen[0] <= 1.5 and len(set(seen)) > 100


def test_a_cap_below_the_first_wait_is_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
