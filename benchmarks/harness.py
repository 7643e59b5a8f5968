"""What every benchmark shares: the result shape, timing, and where the recorded data is."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One benchmark's outcome.

    ``ratio`` is ours divided by the baseline's figure of merit, oriented so that > 1 means
    we are better (faster, more throughput); ``goal`` states the target in words and
    ``met`` whether this run reached it.
    """

    name: str
    figures: dict[str, Any]
    baseline: str
    ratio: float
    goal: str = ""
    met: bool | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One JSON line."""
        data = asdict(self)
        data["ratio"] = round(self.ratio, 3)
        return json.dumps(data, sort_keys=False, default=str)


def shared_data_dir() -> Path:
    """The recorded-data folder: ``$OMNITRADE_SHARED_DATA``, else the repository's own
    ``tests/data``."""
    env = os.environ.get("OMNITRADE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT / "tests" / "data"


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    """The fastest of ``repeats`` timed calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_seconds() -> float:
    """CPU time used by this process so far (user + system)."""
    return time.process_time()
