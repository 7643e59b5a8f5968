"""RecentKeys: a set bounded to its newest keys."""

from __future__ import annotations

from omnitrade_tui.domain.recent import RecentKeys, SeenTrades


def test_the_oldest_key_is_let_go_first_and_a_repeat_does_not_renew() -> None:
    keys: RecentKeys[str] = RecentKeys(3)
    for key in ("a", "b", "c", "a", "d"):
        keys.add(key)
    assert len(keys) == 3
    assert "a" not in keys  # added again while held: still the oldest, so let go first
    assert all(k in keys for k in ("b", "c", "d"))


def test_add_says_which_key_it_let_go() -> None:
    keys: RecentKeys[str] = RecentKeys(2)
    assert keys.add("a") is None
    assert keys.add("b") is None
    assert keys.add("c") == "a"


def test_seen_trades_remember_a_mark_per_symbol_below_which_all_count_as_seen() -> None:
    seen = SeenTrades(2)
    assert seen.add("BTCUSDT", 5) and seen.add("ETHUSDT", 9) and seen.add("BTCUSDT", 7)
    assert len(seen) == 2
    assert ("BTCUSDT", 5) in seen  # let go, but at the symbol's mark
    assert ("BTCUSDT", 4) in seen
    assert ("BTCUSDT", 6) not in seen  # above the mark and never seen
    assert not seen.add("BTCUSDT", 5)
    assert seen.add("BTCUSDT", 6)
    assert ("ETHUSDT", 8) in seen  # ETHUSDT 9 was let go when BTCUSDT 6 came
