"""A lone Escape acts when pressed; escape sequences still parse as their keys.

The driver reads a real pseudo-terminal here, as it reads the user's. Textual's own escape
delay is raised to a minute for these tests, so an Escape that arrives at all arrived by
the lone-ESC rule, not by Textual's timeout.
"""

from __future__ import annotations

import asyncio
import os
import pty
import queue
import signal
import threading
import tty
from collections.abc import Iterator

import pytest
from textual import constants, events
from textual.app import App
from textual.message import Message

from omnitrade_tui.tui.key_input import EagerEscapeDriver, EagerEscapeParser

WAIT_S = 10.0


class RecordingDriver(EagerEscapeDriver):
    """The driver with what it would post to the app kept in a queue instead."""

    def __init__(self, app: App[None], fileno: int) -> None:
        super().__init__(app)
        self.fileno = fileno
        self.received: queue.Queue[Message] = queue.Queue()

    def process_message(self, message: Message) -> None:
        self.received.put(message)

    def next_key(self) -> str:
        """The next key the driver produced (other messages skipped)."""
        while True:
            message = self.received.get(timeout=WAIT_S)
            if isinstance(message, events.Key):
                return message.key


@pytest.fixture
def no_escape_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 60.0)


@pytest.fixture
def terminal(no_escape_timeout: None) -> Iterator[tuple[int, RecordingDriver]]:
    """(the terminal's end of a pty, the driver reading the app's end on its thread)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}
    master, slave = pty.openpty()
    tty.setraw(slave)
    loop = asyncio.new_event_loop()
    try:

        async def make() -> RecordingDriver:
            return RecordingDriver(App(), slave)

        driver = loop.run_until_complete(make())
        reader = threading.Thread(target=driver.run_input_thread, daemon=True)
        reader.start()
        yield master, driver
        driver.exit_event.set()
        reader.join(timeout=WAIT_S)
        assert not reader.is_alive()
    finally:
        loop.close()
        os.close(master)
        os.close(slave)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_lone_escape_is_the_key_without_waiting_for_a_sequence(
    terminal: tuple[int, RecordingDriver],
) -> None:
    master, driver = terminal
    os.write(master, b"\x1b")
    assert driver.next_key() == "escape"
    os.write(master, b"b\x1b")  # a key, then Escape, in one read
    assert driver.next_key() == "b"
    assert driver.next_key() == "escape"


def test_sequences_that_start_with_escape_are_still_their_keys(
    terminal: tuple[int, RecordingDriver],
) -> None:
    master, driver = terminal
    os.write(master, b"\x1b[A")  # up arrow
    assert driver.next_key() == "up"
    os.write(master, b"\x1b[27u")  # Escape under the kitty keyboard protocol
    assert driver.next_key() == "escape"
    os.write(master, b"\x1b[B\x1b")  # down arrow, then a lone Escape, in one read
    assert driver.next_key() == "down"
    assert driver.next_key() == "escape"
    os.write(master, b"\x1b\x1b")  # Escape pressed twice before the app read either
    assert driver.next_key() == "escape"
    assert driver.next_key() == "escape"


def test_the_parser_settles_only_a_held_escape(no_escape_timeout: None) -> None:
    parser = EagerEscapeParser()
    assert list(parser.settle_escape()) == []
    assert list(parser.feed("\x1b")) == []  # held: it could start a sequence
    settled = list(parser.settle_escape())
    assert [e.key for e in settled if isinstance(e, events.Key)] == ["escape"]
    assert list(parser.settle_escape()) == []  # nothing held twice
    keys = [e.key for e in parser.feed("\x1b[A") if isinstance(e, events.Key)]
    assert keys == ["up"]
    assert list(parser.settle_escape()) == []
