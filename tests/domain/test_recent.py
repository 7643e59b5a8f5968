"""RecentKeys: a set bounded to its newest keys."""

from __future__ import annotations

from omnitrade_tui.domain.recent import RecentKeys


def test_the_oldest_key_is_let_go_first_and_a_repeat_does_not_renew() -> None:
    keys: RecentKeys[str] = RecentKeys(3)
    for key in ("a", "b", "c", "a", "d"):
        keys.add(key)
    assert len(keys) == 3
    assert "a" not in keys  # added again while held: still the oldest, so let go first
    assert all(k in keys for k in ("b", "c", "d"))
