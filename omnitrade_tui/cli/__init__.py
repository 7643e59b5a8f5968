"""The ``omnitrade`` command: the terminal app by default, and its subcommands.

Each subcommand lives in a module of its own in this package (``sim``, ``record``, ``keys``,
``history``) with a ``register(subparsers)`` function that adds its parser and sets
``handler``. A subcommand that is not built yet says so and exits with ``EXIT_NOT_BUILT``.
"""

from omnitrade_tui.cli.main import main

__all__ = ["main"]
