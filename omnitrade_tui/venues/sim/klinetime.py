"""Where Binance's klines open and close: every interval of ``rest-api.md`` (``1s`` to
``1M``), in UTC or in the ``timeZone`` a request names.

Fixed-length intervals open at multiples of their length from the epoch, shifted by the
time zone; weeks open on Monday 00:00 (the epoch was a Thursday); months open on the 1st.
``t`` and ``T`` stay Unix milliseconds whatever the zone, as the documents say. The
domain's candle builder knows only ``1s`` to ``1d``; these are the venue's own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from omnitrade_tui.domain.candles import INTERVAL_MS
from omnitrade_tui.venues.sim.errors import SimError

DAY_MS = 86_400_000
_WEEK_MS = 7 * DAY_MS
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch
STEP_MS: dict[str, int] = {**INTERVAL_MS, "3d": 3 * DAY_MS, "1w": _WEEK_MS, "1M": 28 * DAY_MS}
"""Each interval's length; a month's is its shortest, used only to pick base series."""

INTERVALS = tuple(STEP_MS)
_ZONE = re.compile(r"([+-]?)([0-9]{1,2})(?::([0-9]{2}))?")
_MIN_ZONE_MS, _MAX_ZONE_MS = -12 * 3_600_000, 14 * 3_600_000


def parse_time_zone(raw: str | None) -> int:
    """``timeZone`` (``"8"``, ``"-1:00"``, ``"05:45"``) as an offset in milliseconds.

    Raises:
        SimError: -1130 outside the documents' forms or their range [-12:00, +14:00].
    """
    if raw is None or raw == "":
        return 0
    m = _ZONE.fullmatch(raw)
    if m is None or int(m.group(3) or 0) >= 60:
        raise SimError(-1130, "Data sent for parameter 'timeZone' is not valid.")
    sign = -1 if m.group(1) == "-" else 1
    offset = sign * (int(m.group(2)) * 3_600_000 + int(m.group(3) or 0) * 60_000)
    if not _MIN_ZONE_MS <= offset <= _MAX_ZONE_MS:
        raise SimError(-1130, "Data sent for parameter 'timeZone' is not valid.")
    return offset


def kline_open(time_ms: int, interval: str, zone_ms: int = 0) -> int:
    """The open time of the kline of ``interval`` (in the zone) that holds ``time_ms``."""
    local = time_ms + zone_ms
    if interval == "1M":
        day = datetime.fromtimestamp(local // 1000, UTC)
        start = datetime(day.year, day.month, 1, tzinfo=UTC)
        return int(start.timestamp()) * 1000 - zone_ms
    if interval == "1w":
        return time_ms - (local - _MONDAY_MS) % _WEEK_MS
    return time_ms - local % STEP_MS[interval]


def kline_close(open_ms: int, interval: str, zone_ms: int = 0) -> int:
    """The close time (next open less 1 ms) of the kline opening at ``open_ms``."""
    if interval == "1M":
        day = datetime.fromtimestamp((open_ms + zone_ms) // 1000, UTC)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000 - zone_ms - 1
    return open_ms + STEP_MS[interval] - 1
