"""Steady text cursors where the app runs without animation.

Over SSH (and in the snapshot tests) a blinking cursor is two redraws a second for nothing,
and a picture taken mid-blink differs from one taken a half second later.
"""

from __future__ import annotations

from textual.app import App
from textual.dom import DOMNode
from textual.widgets import Input


def steady_cursors(node: DOMNode, app: App[object]) -> None:
    """Stop every input under ``node`` from blinking when ``app`` runs without animation."""
    if app.animation_level != "none":
        return
    for field in node.query(Input):
        field.cursor_blink = False
