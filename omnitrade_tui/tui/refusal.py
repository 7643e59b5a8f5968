"""How a refused command reads on screen: the venue's code (if any) and its reason."""

from __future__ import annotations


def refusal_text(exc: BaseException) -> str:
    """``[code] reason`` for a venue's refusal, the reason alone for a risk check's."""
    code = getattr(exc, "code", None)
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"[{code}] {reason}" if code is not None else str(reason)
