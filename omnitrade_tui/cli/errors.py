"""The one error type a subcommand raises to end the run with a message and an exit code."""

from __future__ import annotations

from omnitrade_tui.cli.exit_codes import ExitCode


class CliError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.code = code
