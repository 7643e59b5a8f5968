"""Liveness and readiness of a headless run (gateway, recorder), and systemd's watchdog.

Served beside ``/metrics`` on the metrics port (``MetricsExporter.serve``), so a unit, a
container's health check or a load balancer asks the same endpoint Prometheus scrapes:

* ``GET /livez``: 200 while the event loop answers. The handler itself runs on the loop
  that publishes, and a heartbeat tick measures how late the loop wakes; a loop stalled
  past ``max_loop_lag_s`` answers 503 (if it answers at all).
* ``GET /readyz``: 200 only when the run does its job: the venue's market link is
  connected (and no link seen is down), market data arrived within ``max_silence_s``, the
  recorder (when the run records) writes to the database (state ``ok`` or ``spilling``,
  status fresh) and every check the composition added (``add_check``: the gateway's
  server) passes. The body is JSON naming each check, so an operator sees why.

The heartbeat also feeds systemd (``sdnotify``): ``READY=1`` on the first tick, then
``WATCHDOG=1`` at half the unit's ``WatchdogSec`` while the loop is live, and the readiness
summary as ``STATUS=``. A loop that stops ticking stops the pings, and systemd restarts the
service.

Everything is read from the bus (link states, recorder status) or counted cheaply (one
integer increment per market event); nothing here touches the venue or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from omnitrade_tui.bus import Bus, Subscription, each, topics
from omnitrade_tui.domain.events import ConnectionChanged, LinkState, RecorderStatus
from omnitrade_tui.domain.venue import unqualified
from omnitrade_tui.sdnotify import Notifier

#: Recorder states in which rows reach the database (``degraded``: it refuses writes).
WRITING_STATES = frozenset({"ok", "spilling"})

#: A check the composition adds: ``(passes, detail)``.
Check = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class HealthLimits:
    """How stale is too stale."""

    #: Longest quiet spell of market data a ready run may have.
    max_silence_s: float = 60.0
    #: How late the heartbeat may wake before the loop counts as stalled.
    max_loop_lag_s: float = 5.0
    #: How old the recorder's last status may be (it publishes one a second).
    max_recorder_status_age_s: float = 10.0
    #: Heartbeat period.
    tick_s: float = 1.0


@dataclass(frozen=True)
class Verdict:
    """The answer to a probe: whether it passes, and each check's result."""

    ok: bool
    checks: dict[str, tuple[bool, str]]

    def as_json(self) -> bytes:
        """``{"ok": ..., "checks": {name: {"ok": ..., "detail": ...}}}``."""
        body = {
            "ok": self.ok,
            "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in self.checks.items()},
        }
        return json.dumps(body, sort_keys=True).encode()

    def summary(self) -> str:
        """One line: ``ready`` or what fails."""
        failing = [f"{k}: {d}" for k, (ok, d) in self.checks.items() if not ok]
        return "ready" if not failing else "not ready: " + "; ".join(failing)


class HealthMonitor:
    """Follows a run's bus and answers liveness and readiness."""

    def __init__(
        self,
        bus: Bus,
        limits: HealthLimits | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.limits = limits or HealthLimits()
        self.notifier = notifier if notifier is not None else Notifier.from_env()
        self.clock = clock
        self._links: dict[tuple[str, str], tuple[LinkState, str]] = {}
        self._recorder: RecorderStatus | None = None
        self._recorder_seen = 0.0
        self._market_events = 0
        self._market_counted = 0
        self._market_last: float | None = None
        self._started = clock()
        self._last_tick: float | None = None
        self._loop_lag = 0.0
        self._checks: dict[str, Check] = {}
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._last_watchdog: float | None = None
        self._ready_sent = False
        self._last_status = ""

    # -- following the bus -----------------------------------------------------------------

    def start(self) -> None:
        """Subscribe, and start the heartbeat when a loop runs."""
        if not self._subs:
            self._subs = [
                self.bus.subscribe(topics.CONNECTION, each(self._on_link), name="health:links"),
                self.bus.subscribe(topics.RECORDER, each(self._on_recorder), name="health:rec"),
                self.bus.subscribe("md.>", each(self._on_market), name="health:md"),
            ]
        with contextlib.suppress(RuntimeError):  # no running loop: probes still answer
            asyncio.get_running_loop()
            if self._task is None:
                self._task = asyncio.ensure_future(self._heartbeat())

    def stop(self) -> None:
        """Stop the heartbeat, tell systemd we are stopping, leave the bus."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            if self._ready_sent:
                self.notifier.stopping()
        for sub in self._subs:
            sub.close()
        self._subs = []

    async def aclose(self) -> None:
        """``stop``, and wait for the heartbeat to end."""
        task = self._task
        self.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def add_check(self, name: str, check: Check) -> None:
        """Make readiness also need ``check`` (the composition's own, e.g. a server up)."""
        self._checks[name] = check

    def _on_link(self, topic: str, event: Any) -> None:
        if isinstance(event, ConnectionChanged):
            self._links[(event.venue, event.link)] = (event.state, event.detail)

    def _on_recorder(self, topic: str, event: Any) -> None:
        if isinstance(event, RecorderStatus):
            self._recorder = event
            self._recorder_seen = self.clock()

    def _on_market(self, topic: str, event: Any) -> None:
        # Every market event passes here: count only; the heartbeat turns it into a time.
        self._market_events += 1

    def _sample_market(self) -> None:
        if self._market_events != self._market_counted:
            self._market_counted = self._market_events
            self._market_last = self.clock()

    # -- the heartbeat ---------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        tick = self.limits.tick_s
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + tick
            await asyncio.sleep(tick)
            now = self.clock()
            self._loop_lag = max(0.0, loop.time() - due)
            self._last_tick = now
            self._sample_market()
            self._feed_systemd(now)

    def _feed_systemd(self, now: float) -> None:
        if not self.notifier.enabled:
            return
        summary = self.readiness().summary()
        if not self._ready_sent:
            # Started: the engine is composed and its loop ticks. Readiness to trade is
            # the STATUS line (and /readyz), not a start condition: a venue that is down
            # at boot must not make systemd kill a run that would reconnect.
            self._ready_sent = self.notifier.ready(summary)
            self._last_status = summary
        elif summary != self._last_status:
            self.notifier.status(summary)
            self._last_status = summary
        interval = self.notifier.watchdog_interval_s
        if interval is None or not self.liveness().ok:
            return
        if self._last_watchdog is None or now - self._last_watchdog >= min(interval, 1.0):
            self.notifier.watchdog()
            self._last_watchdog = now

    # -- the probes ------------------------------------------------------------------------

    def liveness(self) -> Verdict:
        """Whether the event loop is live: answering, and its heartbeat not late."""
        now = self.clock()
        lag_limit = self.limits.max_loop_lag_s
        last = self._last_tick if self._last_tick is not None else self._started
        since = now - last
        ok = self._loop_lag <= lag_limit and since <= self.limits.tick_s + lag_limit
        detail = f"heartbeat {since:.1f} s ago, loop lag {self._loop_lag * 1000:.0f} ms"
        return Verdict(ok, {"loop": (ok, detail)})

    def readiness(self) -> Verdict:
        """Whether the run does its job now: venue link, market data, store, added checks."""
        now = self.clock()
        self._sample_market()
        checks: dict[str, tuple[bool, str]] = {"loop": self.liveness().checks["loop"]}
        checks["venue"] = self._venue_check()
        if self._market_last is None:
            checks["market_data"] = (False, "no market data yet")
        else:
            quiet = max(0.0, now - self._market_last)
            checks["market_data"] = (
                quiet <= self.limits.max_silence_s,
                f"last event {quiet:.1f} s ago",
            )
        checks["store"] = self._store_check(now)
        for name, check in self._checks.items():
            try:
                checks[name] = check()
            except Exception as exc:  # a broken check must say so, not break the probe
                checks[name] = (False, f"check failed: {exc}")
        return Verdict(all(ok for ok, _ in checks.values()), checks)

    def _venue_check(self) -> tuple[bool, str]:
        # Every venue's market link counts (``market``, ``market@kraken``).
        market = [s for (_, link), (s, _) in self._links.items() if unqualified(link) == "market"]
        if not market:
            return False, "market link not connected yet"
        down = [
            f"{venue} {link} {state.value}" + (f" ({detail})" if detail else "")
            for (venue, link), (state, detail) in sorted(self._links.items())
            if state is not LinkState.CONNECTED
        ]
        if down:
            return False, ", ".join(down)
        return True, ", ".join(f"{v} {k} connected" for v, k in sorted(self._links))

    def _store_check(self, now: float) -> tuple[bool, str]:
        status = self._recorder
        if status is None:
            return True, "not recording"
        age = now - self._recorder_seen
        if status.state not in WRITING_STATES:
            return False, f"recorder {status.state}" + (
                f": {status.last_error}" if status.last_error else ""
            )
        if age > self.limits.max_recorder_status_age_s:
            return False, f"recorder silent for {age:.0f} s"
        return True, f"recorder {status.state}, lag {status.lag_ms:.0f} ms"

    # -- HTTP ------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """``/livez`` and ``/readyz`` on ``app`` (the metrics server's)."""
        app.router.add_get("/livez", self._handle_live)
        app.router.add_get("/readyz", self._handle_ready)

    @staticmethod
    def _respond(verdict: Verdict) -> web.Response:
        return web.Response(
            body=verdict.as_json(),
            status=200 if verdict.ok else 503,
            content_type="application/json",
        )

    async def _handle_live(self, request: web.Request) -> web.Response:
        return self._respond(self.liveness())

    async def _handle_ready(self, request: web.Request) -> web.Response:
        return self._respond(self.readiness())
