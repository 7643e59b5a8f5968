"""The ``omnitrade`` command: the terminal app by default, and its subcommands.

Each subcommand lives in a module of its own in this package (``sim``, ``record``, ``keys``,
``history``, ...) with a ``register(subparsers)`` function that adds its parser and sets
``handler``. ``cli.main`` lists them by name and imports a module only when its subcommand
is on the command line, so importing this package loads no heavy library.
"""

from omnitrade_tui.cli.main import main

__all__ = ["main"]
