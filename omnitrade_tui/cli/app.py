"""``omnitrade`` with no subcommand: the engine for the profile, then the terminal app.

The frame-rate cap and the SSH defaults go into Textual's environment before Textual is
imported (it reads them once, at import).

A few seconds after start the heap is settled (``settle_heap``): the app's long-lived
objects (modules, Textual's styles and widgets, the engine) are most of the heap, and
Python's full collection walked them all, 100-120 ms with the app stopped, once or twice
every 30 s (measured in ``python -m benchmarks tui``'s setting, quiet and at 2,000 msgs/s):
a key pressed then waited that long. Settled, a full collection takes 5-12 ms. Done here,
for the real run only: a test process that froze its heap would never free what later
tests leave.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import sys
from collections.abc import Callable

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import prepare_run
from omnitrade_tui.config import Settings
from omnitrade_tui.logs import current_ring


def configure_textual(settings: Settings, env: dict[str, str] | os._Environ[str]) -> None:
    """Frame-rate cap from the settings; over SSH, no animations (they cost bytes).

    The app's own frame timer runs at ``frame_rate`` and is what caps market-driven redraws.
    Textual's screen-update timer is set to twice that: at the same rate the two timers beat
    against each other and a third of the frames were skipped (14 of 20 a second measured),
    while at twice the rate each of our frames reaches the terminal within half a period.
    """
    env.setdefault("TEXTUAL_FPS", str(2 * settings.ui.frame_rate))
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        env.setdefault("TEXTUAL_ANIMATIONS", "none")


#: Seconds after start when the heap is settled: the engine has connected and the first
#: screen is drawn by then, so what is allocated is what lives as long as the app.
SETTLE_HEAP_AFTER_S = 5.0


def settle_heap() -> None:
    """Collect once, then move every surviving object out of the collector's reach
    (``gc.freeze``): later collections walk only what was allocated since."""
    gc.collect()
    gc.freeze()


NO_TERMINAL = (
    "omnitrade needs a terminal; for headless use see `omnitrade record` and `omnitrade gateway`"
)


def require_terminal() -> None:
    """Refuse at once when standard input or output is not a terminal (cron, a pipe,
    ``</dev/null``): the app would wait for keys that never come and write escape codes
    where nobody reads them."""
    for stream in (sys.stdin, sys.stdout):
        if stream is None or not stream.isatty():
            raise CliError(NO_TERMINAL, ExitCode.USAGE)


def run_app(args: argparse.Namespace) -> int:
    """Start the engine and the app; the exit code when the user quits."""
    # Settings first: a broken config or an unconfirmed LIVE says so even with no terminal.
    settings = prepare_run(args)
    require_terminal()
    if sys.stderr is not None and sys.stderr.isatty():
        # Loading the engine takes a couple of seconds on a small box: say so at once.
        print(f"omnitrade: starting ({settings.profile.label})...", file=sys.stderr, flush=True)
    configure_textual(settings, os.environ)
    return asyncio.run(_run(settings, getpass.getpass))


async def _run(settings: Settings, ask_passphrase: Callable[[str], str]) -> int:
    # Imported here: Textual reads TEXTUAL_FPS at import time, and the engine's libraries
    # (SQLAlchemy, aiohttp, ...) are only loaded by the command that needs them.
    from omnitrade_tui.runtime import Runtime
    from omnitrade_tui.tui.app import OmniTradeApp
    from omnitrade_tui.tui.themes import user_theme_dir

    # The key store asks only if a stored key must be unlocked (not for environment keys).
    async with Runtime.start(settings, ask_passphrase=ask_passphrase, connect=False) as runtime:
        session = runtime.session(
            user_theme_dir=user_theme_dir(settings.dirs.config), log_ring=current_ring()
        )
        app = OmniTradeApp(session)
        settling = asyncio.get_running_loop().call_later(SETTLE_HEAP_AFTER_S, settle_heap)
        try:
            await app.run_async(mouse=settings.ui.mouse)
        finally:
            settling.cancel()
        return app.return_code or 0
