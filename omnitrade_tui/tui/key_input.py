"""Keyboard input without the lone-Escape wait: Escape acts when it is pressed.

A legacy terminal sends the Escape key as one ESC byte, the same byte that starts every
arrow, function-key and Alt sequence. Textual's parser therefore holds a lone ESC for
``ESCDELAY`` (100 ms) to see whether a sequence follows, and its input thread only looks
at the clock when its 100 ms ``select`` runs out, so a ticket or dialog closed with Escape
took 100-200 ms to go: the slowest key on the desk, and the one a trader presses to back
out of an order.

Terminals write a key's sequence in one piece, and a pty or an SSH channel hands it to the
reader in the same piece, so an ESC that ends a read with nothing more waiting is the
Escape key: the rule crossterm applies (helix, gitui and others run on it). When more
bytes are already waiting they are read first and the parser decides as it always did;
only then does a trailing ESC count as the key. Terminals that speak the kitty keyboard
protocol (which Textual asks for) send Escape as ``CSI 27 u`` and never reach this rule.

Textual has no public hook for this: the parser's pending timeout is
``Parser._timeout_time`` (Textual is pinned in ``pyproject.toml``, and
``tests/tui/test_key_input.py`` fails if that attribute stops meaning what it does), and
the input loop below replaces ``LinuxDriver.run_input_thread`` (public) with the same
select-read-feed cycle plus the rule.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Iterable

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

ESC = "\x1b"
# How long the input thread sleeps between looks at the exit flag and the parser's clock.
POLL_S = 0.1
READ_BYTES = 4096


class EagerEscapeParser(XTermParser):
    """Textual's xterm parser, able to settle a held lone ESC at once."""

    def settle_escape(self) -> Iterable[Message]:
        """The events of a held ESC, taken now as the Escape key (none if nothing is held)."""
        if self._timeout_time is not None:
            self._timeout_time = get_time()
        return self.tick()


class EagerEscapeDriver(LinuxDriver):
    """Textual's Linux/macOS driver with an input loop that does not wait on a lone ESC."""

    def run_input_thread(self) -> None:
        """Read the terminal, feed the parser, and settle a trailing ESC when input stops."""
        fileno = self.fileno
        # select(), not the platform default: kqueue cannot watch a tty on macOS.
        selector = selectors.SelectSelector()
        selector.register(fileno, selectors.EVENT_READ)
        parser = EagerEscapeParser(self._debug)
        decode = getincrementaldecoder("utf-8")(errors="replace").decode
        try:
            while not self.exit_event.is_set():
                if not selector.select(POLL_S):
                    self._dispatch(parser.tick())
                    continue
                raw = os.read(fileno, READ_BYTES)
                if not raw:
                    # End of input (a closed pipe): nothing more will come, so do not spin.
                    self.exit_event.wait(POLL_S)
                    continue
                data = decode(raw)
                if not data:
                    continue  # the first bytes of a character: the parser takes "" as the end
                self._dispatch(parser.feed(data))
                if data.endswith(ESC) and not selector.select(0):
                    self._dispatch(parser.settle_escape())
                else:
                    self._dispatch(parser.tick())
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass

    def _dispatch(self, events: Iterable[Message]) -> None:
        for event in events:
            self.process_message(event)
