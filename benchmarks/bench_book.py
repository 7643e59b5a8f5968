"""Decode + apply of the recorded ETHUSDT depth frames, and top-20 reads.

Ours: msgspec decode of the combined-stream frame into typed structs (floats parsed in the
decoder) and ``domain.OrderBook.apply_diff``. Baseline, same run and same decoder: a book
kept in ``sortedcontainers.SortedDict`` per side, the usual "sorted book" choice.
Goal (issue 2): >= 100,000 messages/s on one core.
"""

from __future__ import annotations

import gzip
import time
from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from benchmarks.harness import Result, best_of, shared_data_dir
from omnitrade_tui.domain import OrderBook
from omnitrade_tui.venues.binance.schemas import (
    DepthSnapshot,
    depth_snapshot_decoder,
    depth_update_decoder,
    stream_frame_decoder,
    stream_kind,
)

GOAL_MSGS_PER_S = 100_000


class SortedDictBook:
    """The baseline: both sides in SortedDict (bids keyed by negated price)."""

    def __init__(self) -> None:
        self.bids: Any = SortedDict()
        self.asks: Any = SortedDict()
        self.last_update_id = 0

    def apply_snapshot(self, snap: DepthSnapshot) -> None:
        self.bids = SortedDict({-p: q for p, q in snap.bids})
        self.asks = SortedDict(dict(snap.asks))
        self.last_update_id = snap.last_update_id

    def apply_diff(self, first: int, final: int, bids: Any, asks: Any) -> None:
        if final <= self.last_update_id or first > self.last_update_id + 1:
            return
        b, a = self.bids, self.asks
        for p, q in bids:
            if q == 0.0:
                b.pop(-p, None)
            else:
                b[-p] = q
        for p, q in asks:
            if q == 0.0:
                a.pop(p, None)
            else:
                a[p] = q
        self.last_update_id = final

    def top(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        b, a = self.bids, self.asks
        return (
            [(-k, b[k]) for k in islice(b.keys(), n)],
            [(k, a[k]) for k in islice(a.keys(), n)],
        )


def load_frames() -> tuple[bytes, list[bytes]]:
    """The REST snapshot and the raw depth frames after it, as received."""
    path = shared_data_dir() / "binance" / "ethusdt_20240808.gz"
    with gzip.open(path, "rb") as fh:
        lines = fh.read().splitlines()
    snapshot = b""
    frames: list[bytes] = []
    for line in lines:
        payload = line.partition(b" ")[2]
        if payload.startswith(b'{"lastUpdateId"'):
            snapshot = payload
        elif b"@depth" in payload[:40] and snapshot:
            frames.append(payload)
    return snapshot, frames


def _replay(frames: list[bytes], apply: Any) -> None:
    """Decode each frame as the connector does and hand it to a book's ``apply_diff``."""
    decode_frame, decode_depth = stream_frame_decoder.decode, depth_update_decoder.decode
    for raw in frames:
        ev = decode_depth(decode_frame(raw).data)
        apply(ev.first_update_id, ev.final_update_id, ev.bids, ev.asks)


def _run_ours(snapshot: bytes, frames: list[bytes]) -> OrderBook:
    snap = depth_snapshot_decoder.decode(snapshot)
    book = OrderBook("ETHUSDT")
    book.apply_snapshot(snap.last_update_id, snap.bids, snap.asks)
    _replay(frames, book.apply_diff)
    return book


def _run_baseline(snapshot: bytes, frames: list[bytes]) -> SortedDictBook:
    book = SortedDictBook()
    book.apply_snapshot(depth_snapshot_decoder.decode(snapshot))
    _replay(frames, book.apply_diff)
    return book


def run(quick: bool = False) -> list[Result]:
    """Decode+apply throughput and top-20 read cost, ours against SortedDict."""
    snapshot, frames = load_frames()
    assert stream_kind("ethusdt@depth@100ms") == "depth"
    repeats = 3 if quick else 15
    # Snapshot load is outside the measured loop: time it once and subtract.
    snap_only = best_of(repeats, lambda: _run_ours(snapshot, []))
    snap_only_base = best_of(repeats, lambda: _run_baseline(snapshot, []))
    ours = best_of(repeats, lambda: _run_ours(snapshot, frames)) - snap_only
    base = best_of(repeats, lambda: _run_baseline(snapshot, frames)) - snap_only_base
    n = len(frames)
    ours_rate, base_rate = n / ours, n / base

    book = _run_ours(snapshot, frames)
    sbook = _run_baseline(snapshot, frames)
    reads = 2_000 if quick else 20_000
    start = time.perf_counter()
    for _ in range(reads):
        book.bids(20)
        book.asks(20)
    top_ours = (time.perf_counter() - start) / reads
    start = time.perf_counter()
    for _ in range(reads):
        sbook.top(20)
    top_base = (time.perf_counter() - start) / reads
    depth = book.depth()
    return [
        Result(
            name="book.decode_apply",
            figures={
                "messages": n,
                "ours_msgs_per_s": round(ours_rate),
                "baseline_msgs_per_s": round(base_rate),
                "ours_us_per_msg": round(ours / n * 1e6, 3),
                "book_levels": {"bids": depth[0], "asks": depth[1]},
            },
            baseline="sortedcontainers.SortedDict book, same msgspec decoder",
            ratio=ours_rate / base_rate,
            goal=f">= {GOAL_MSGS_PER_S:,} msgs/s on one core",
            met=ours_rate >= GOAL_MSGS_PER_S,
        ),
        Result(
            name="book.top20_read",
            figures={
                "ours_us_per_read": round(top_ours * 1e6, 3),
                "baseline_us_per_read": round(top_base * 1e6, 3),
            },
            baseline="SortedDict islice top-20 per side",
            ratio=top_base / top_ours,
            goal="<= 200 us per read (docs/reference/performance.md §4)",
            met=top_ours <= 200e-6,
        ),
    ]
