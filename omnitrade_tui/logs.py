"""Logging: JSON lines to a rotating file, a readable console format, and an in-memory ring.

* The file (``<state dir>/logs/omnitrade.jsonl``) holds one JSON object per line
  (``ts``, ``level``, ``logger``, ``msg``, then any ``extra=`` fields and ``exc``), which
  Filebeat/Logstash ingest as they are (``json`` codec) into Elasticsearch.
* The console format is for development and the headless subcommands.
* ``RingHandler`` keeps the last N records in memory for the app's log screen.

Every handler installed here carries ``SecretRedactionFilter``: any registered secret
(``redaction.register_secret``, done by every ``Secret``) is masked in the message, the
extra fields and the formatted traceback before anything is written.

Built on the standard library's ``logging``: every library we use already logs through it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from omnitrade_tui.escape import shown
from omnitrade_tui.redaction import redact

LOG_FILE_NAME = "omnitrade.jsonl"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class SecretRedactionFilter(logging.Filter):
    """Masks registered secrets in a record before any handler formats it.

    The message is rendered here (``msg % args``) so a secret passed as an argument is
    caught too; the traceback is rendered here for the same reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        if getattr(record, "_omnitrade_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # The rendered traceback replaces the live exception: it holds frames whose locals
        # could reach a secret, and no formatter may render it again unredacted.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif not isinstance(value, int | float | bool | type(None)):
                setattr(record, key, redact(str(value)))
        record._omnitrade_redacted = True
        return True


def _iso(created: float) -> str:
    return (
        datetime.fromtimestamp(created, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        data: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            if key.startswith("_omnitrade"):
                continue
            data.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01.234 WARNING omnitrade_tui.engine.risk: message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one readable line (plus a traceback, if any)."""
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        # A message or value may carry text from outside (an order's reason, a user name):
        # escaped, it cannot start a forged line or repaint the terminal. The traceback
        # below is ours and keeps its lines.
        extras = " ".join(
            f"{k}={shown(str(v))}"
            for k, v in _extras(record).items()
            if not k.startswith("_omnitrade")
        )
        line = f"{when} {record.levelname:<7} {record.name}: {shown(record.getMessage())}"
        if extras:
            line += f"  {extras}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file created owner-only (0600): it names users, addresses and what
    they did. Each new file after a rotation is created the same way."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # a file an older version created readable by others
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One record as the log screen shows it."""

    ts: float
    level: str
    levelno: int
    logger: str
    msg: str
    extra: dict[str, Any]
    exc: str | None = None


class RingHandler(logging.Handler):
    """The last ``capacity`` records, in memory, for the in-app log screen.

    ``version`` grows with every record, so a screen polling at its frame rate can tell
    whether anything is new without copying the ring.
    """

    def __init__(self, capacity: int = 2000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self._ring: deque[LogEntry] = deque(maxlen=capacity)
        self._ring_lock = threading.Lock()
        self.version = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record (already redacted by the filter)."""
        entry = LogEntry(
            ts=record.created,
            level=record.levelname,
            levelno=record.levelno,
            logger=record.name,
            msg=record.getMessage(),
            extra={k: v for k, v in _extras(record).items() if not k.startswith("_omnitrade")},
            exc=record.exc_text,
        )
        with self._ring_lock:
            self._ring.append(entry)
            self.version += 1

    def entries(self, min_level: int = logging.NOTSET) -> list[LogEntry]:
        """A copy of the ring, oldest first, at ``min_level`` or above."""
        with self._ring_lock:
            return [e for e in self._ring if e.levelno >= min_level]


@dataclass(frozen=True)
class LoggingSetup:
    """What ``configure_logging`` installed."""

    file: Path | None
    ring: RingHandler
    handlers: tuple[logging.Handler, ...]


_installed: list[logging.Handler] = []


def configure_logging(
    log_dir: Path | None,
    level: str | int = "INFO",
    console: bool = False,
    console_json: bool = False,
    console_stream: TextIO | None = None,
    ring_capacity: int = 2000,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> LoggingSetup:
    """Install the app's handlers on the root logger (replacing ones installed before).

    ``log_dir`` ``None`` writes no file. ``console`` adds a stderr handler (off while the
    terminal app owns the screen).
    """
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()

    redactor = SecretRedactionFilter()
    handlers: list[logging.Handler] = []
    path: Path | None = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = log_dir / LOG_FILE_NAME
        file_handler = PrivateRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(JsonFormatter())
        handlers.append(file_handler)
    if console:
        stream_handler = logging.StreamHandler(console_stream or sys.stderr)
        stream_handler.setFormatter(JsonFormatter() if console_json else ConsoleFormatter())
        handlers.append(stream_handler)
    ring = RingHandler(ring_capacity)
    handlers.append(ring)
    for handler in handlers:
        handler.addFilter(redactor)
        root.addHandler(handler)
        _installed.append(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # These log every request and frame at INFO: noise in the log screen and file.
    for chatty in ("httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    return LoggingSetup(file=path, ring=ring, handlers=tuple(handlers))


def current_ring() -> RingHandler | None:
    """The in-memory ring ``configure_logging`` installed (for the log screen), if any."""
    for handler in _installed:
        if isinstance(handler, RingHandler):
            return handler
    return None


def shutdown_logging() -> None:
    """Flush and remove the handlers ``configure_logging`` installed."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()


# -- crash reports ---------------------------------------------------------------------------

_crash_log = logging.getLogger("omnitrade_tui.crash")


def crash_report(exc: BaseException) -> str:
    """The traceback of ``exc`` without local variables, secrets masked: safe to show or paste.

    Rich/Textual crash screens show locals by default; a frame that was handling a key
    would show it. The app's crash screen should print this instead.
    """
    return redact("".join(traceback.format_exception(exc)))


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: Any, stream: TextIO | None = None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        return
    _crash_log.critical("unhandled exception", exc_info=(exc_type, exc, tb))
    print(
        f"omnitrade: crashed with {exc_type.__name__}: {redact(str(exc))} "
        "(the traceback is in the log file)",
        file=stream or sys.stderr,
    )


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    _crash_log.critical(
        "unhandled exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _asyncio_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    message = str(context.get("message", "unhandled error in the event loop"))
    if isinstance(exc, BaseException):
        _crash_log.error(message, exc_info=(type(exc), exc, exc.__traceback__))
    else:
        _crash_log.error(message, extra={"context": repr(context)})


def install_crash_handlers(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Send unhandled exceptions (main thread, other threads, the event loop) to the log.

    They pass through the redacting handlers like any record; the terminal gets one line.
    """
    sys.excepthook = _excepthook
    threading.excepthook = _thread_hook
    if loop is not None:
        set_loop_crash_handler(loop)


def set_loop_crash_handler(loop: asyncio.AbstractEventLoop) -> None:
    """Send the event loop's unhandled errors (a task's exception nobody awaited) to the log
    (``Runtime.start`` sets it on the loop the engine runs on)."""
    loop.set_exception_handler(_asyncio_handler)
