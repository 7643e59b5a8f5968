"""Reproducible performance runs. ``python -m benchmarks [NAME ...] [--quick]``.

Each ``bench_<name>.py`` module defines ``run(quick: bool) -> list[Result]``. Every result
is printed as one JSON line with its figures and a ``ratio`` against a baseline that ran in
the same process, because only same-run ratios survive a noisy machine.
"""
