"""Distinct process exit codes, so scripts and supervisors can tell failures apart."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``omnitrade`` returns to the shell."""

    OK = 0
    ERROR = 1  # an unexpected failure (a bug: please report it)
    USAGE = 2  # bad command line (argparse's own code)
    NOT_BUILT = 3  # the subcommand exists in the plan but not yet in this version
    CONFIG = 4  # the config file is unreadable or invalid
    PROFILE = 5  # unknown profile
    KEYS = 6  # a key is missing, wrong, revoked, or the keyring is locked
    VENUE_UNREACHABLE = 7  # the venue could not be reached
    DATABASE = 8  # the database could not be opened or migrated
    LIVE_NOT_CONFIRMED = 9  # LIVE was asked for without the typed confirmation
    INTERRUPTED = 130  # Ctrl-C
