"""The store's one error type: what went wrong with the database, and what to do about it."""

from __future__ import annotations


class StoreError(Exception):
    """The history database could not be opened, migrated, read or written.

    The message is one line a person can act on (which database, what failed, what to
    check); the original exception is chained as ``__cause__``.
    """
