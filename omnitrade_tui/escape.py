"""Showing text a stranger chose: control characters made visible, so it cannot forge lines.

A user name, a frame's detail or a refusal's reason may hold a newline, a carriage return,
an ANSI escape sequence or a right-to-left override. Printed raw in ``gateway audit`` or in
a log line, such text could start a fake entry ("ok ann login") or repaint the operator's
terminal. ``shown`` keeps every printable character as it is (accents and CJK included) and
writes everything else as Python would in a ``repr``: ``\\n``, ``\\x1b``, ``\\u202e``. The
backslash itself is doubled, so an escape typed literally cannot pass for one made here.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def shown(text: str) -> str:
    """``text`` with every non-printable character (and ``\\``) escaped, repr-like."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case, without building a new string
    out: list[str] = []
    for ch in text:
        named = _NAMED.get(ch)
        if named is not None:
            out.append(named)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return "".join(out)
