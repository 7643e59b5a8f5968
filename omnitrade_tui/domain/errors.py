"""Errors every layer may meet, named once so the engine can tell them apart without knowing
which venue raised them."""

from __future__ import annotations


class OutcomeUnknownError(Exception):
    """A request reached (or may have reached) the venue and its answer was lost: a timeout,
    a 5xx, a connection cut mid-request. It may or may not have been done; the venue is
    asked what happened, never sent the request again."""
