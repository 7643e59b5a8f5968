"""Desktop notifications through the terminal: OSC 9 and OSC 777.

A terminal that understands one of these escape sequences turns it into a notification on
the trader's own desktop, which is what makes it work over SSH: the sequence travels with
the screen's output. A terminal that does not understand it may print it as garbage, so a
sequence is written only where the terminal is known to take it: by ``[ui] desktop_notify``
(``osc9``, ``osc777`` or ``off``), or, with ``auto``, by what the terminal says it is
(``TERM_PROGRAM``, ``LC_TERMINAL``, ``TERM``). Inside tmux the sequence is wrapped for
tmux's passthrough (which needs ``set -g allow-passthrough on``).

Hand-written: no library covers these two sequences and their detection; they are a few
bytes each.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Terminals known to show OSC 9 ("\\e]9;text\\a") as a desktop notification.
OSC9_TERMINALS = ("iTerm.app", "iTerm2", "WezTerm", "ghostty", "WindowsTerminal", "kitty")
#: Terminals known to show OSC 777 ("\\e]777;notify;title;body\\a").
OSC777_TERMINALS = ("foot", "contour", "rxvt-unicode")
MODES = ("auto", "osc9", "osc777", "off")

_MAX_TEXT = 200


def _clean(text: str) -> str:
    """Text safe inside an OSC string: no control characters (an ESC or BEL would end it
    early and let the rest be read as commands), no ``;`` for OSC 777's fields."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:_MAX_TEXT]


def detect(env: Mapping[str, str]) -> str:
    """Which sequence this terminal takes: ``osc9``, ``osc777`` or ``off``."""
    names = (
        env.get("TERM_PROGRAM", ""),
        env.get("LC_TERMINAL", ""),
        env.get("TERM", ""),
    )
    if env.get("WT_SESSION") or env.get("KITTY_WINDOW_ID"):
        return "osc9"
    for name in names:
        if any(known.lower() in name.lower() for known in OSC9_TERMINALS):
            return "osc9"
        if any(known.lower() in name.lower() for known in OSC777_TERMINALS):
            return "osc777"
    return "off"


def notification(title: str, body: str, mode: str, env: Mapping[str, str]) -> str | None:
    """The escape sequence that shows ``title``/``body`` on the desktop, or None where the
    terminal is not known to take one (``mode`` from the config; ``auto`` detects)."""
    if mode not in MODES:
        raise ValueError(f"desktop_notify must be one of {', '.join(MODES)}")
    kind = detect(env) if mode == "auto" else mode
    if kind == "off":
        return None
    if kind == "osc9":
        sequence = f"\x1b]9;{_clean(title)}: {_clean(body)}\x07"
    else:
        title_777 = _clean(title).replace(";", ",")
        sequence = f"\x1b]777;notify;{title_777};{_clean(body).replace(';', ',')}\x07"
    if env.get("TMUX"):
        # tmux passes a sequence through to the outer terminal inside a DCS, ESCs doubled.
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence
