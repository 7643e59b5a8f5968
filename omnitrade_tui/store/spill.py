"""The recorder's overflow: batches written to local files while the database is away.

Each segment file is a sequence of frames (4-byte big-endian length, then a msgpack batch).
A frame cut short by a crash is detected on read and reported, never mistaken for data.
Segments are replayed oldest first and deleted once the database has them.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from omnitrade_tui.store.rows import Batch, batch_size

_LEN = struct.Struct(">I")
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(dict[str, list[tuple[Any, ...]]]).decode


class SpillFiles:
    """Append batches to the current segment; hand closed segments back for replay."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._current: Path | None = None
        self._file: Any = None
        self.rows_on_disk = sum(self._count(p) for p in self.segments())
        self.truncated_frames = 0

    def segments(self) -> list[Path]:
        """Segment files on disk, oldest first (including the open one)."""
        return sorted(self.folder.glob("spill-*.bin"))

    def _count(self, path: Path) -> int:
        return sum(batch_size(b) for b in self._frames(path, count_only=True))

    def append(self, batch: Batch) -> int:
        """Write one batch to the open segment (flushed to the OS); return its rows."""
        if self._file is None:
            self._current = self.folder / f"spill-{time.time_ns():020d}.bin"
            self._file = self._current.open("ab")
        payload = _encode(dict(batch))
        self._file.write(_LEN.pack(len(payload)) + payload)
        self._file.flush()
        rows = batch_size(batch)
        self.rows_on_disk += rows
        return rows

    def rotate(self) -> None:
        """Close the open segment so it can be replayed; the next append starts another."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            self._current = None

    def closed_segments(self) -> list[Path]:
        """Segments ready for replay (not the one being appended to)."""
        return [p for p in self.segments() if p != self._current]

    def read(self, path: Path) -> Iterator[Batch]:
        """The batches of one segment, in order."""
        return self._frames(path, count_only=False)

    def _frames(self, path: Path, count_only: bool) -> Iterator[Batch]:
        data = path.read_bytes()
        pos = 0
        while pos + _LEN.size <= len(data):
            (size,) = _LEN.unpack_from(data, pos)
            start = pos + _LEN.size
            if start + size > len(data):
                break
            try:
                yield _decode(data[start : start + size])
            except msgspec.DecodeError:
                break
            pos = start + size
        if pos != len(data) and not count_only:
            # The process died in the middle of a write: the tail is not a whole batch.
            self.truncated_frames += 1

    def done(self, path: Path, rows: int) -> None:
        """The database has every batch of ``path``: delete it."""
        path.unlink(missing_ok=True)
        self.rows_on_disk = max(0, self.rows_on_disk - rows)

    def close(self) -> None:
        """Close the open segment (what is in it stays for the next start)."""
        self.rotate()
