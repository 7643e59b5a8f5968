"""Run the benchmarks: ``python -m benchmarks [NAME ...] [--quick]``; the connector's
soak: ``python -m benchmarks connector --soak SECONDS``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmark modules (``bench_<name>.py``)."""
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default), printing one JSON line per result."""
    names = available()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {names})")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="connector only: run the fault drill this long (a summary line a minute)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="with --soak: also trace Python memory by file (slows the process a little, and "
        "tracemalloc's own tables add to its RSS)",
    )
    args = parser.parse_args(argv)
    chosen = args.names or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
    if args.soak is not None:
        if chosen != ["connector"]:
            parser.error("--soak goes with the connector benchmark: `connector --soak 1800`")
        from benchmarks.bench_connector import soak

        for result in soak(args.soak, trace=args.trace):
            print(result.to_json(), flush=True)
        return 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        for result in module.run(quick=args.quick):
            print(result.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
