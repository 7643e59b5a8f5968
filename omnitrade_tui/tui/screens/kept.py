"""A modal the app builds once and shows again (the order ticket, the help).

Textual restyles every widget of a screen each time it comes back (``ScreenResume``), in
case the theme changed while it was away: for the ticket's forty widgets that was the
largest part of reopening it. A kept screen skips it when the app looks as it did the last
time (same theme, same classes): its own class changes restyle their widgets as they
happen.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.message import Message
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class KeptScreen(ModalScreen[ResultT]):
    """A modal screen shown again and again; restyled on return only when the app's look
    (theme, classes, pseudo-classes) changed since it was last styled."""

    def __init__(self) -> None:
        super().__init__()
        self._styled_look: tuple[object, ...] | None = None

    def _look(self) -> tuple[object, ...]:
        app = self.app
        return (app.theme, app.classes, app.pseudo_classes)

    def post_message(self, message: Message) -> bool:
        """See the module: a return to the same look keeps the styles it has."""
        if isinstance(message, events.ScreenResume):
            look = self._look()
            if look == self._styled_look:
                message.refresh_styles = False
            self._styled_look = look
        return super().post_message(message)
