"""The attached terminal for a browser (``omnitrade serve``): the gateway login first, then
the same app as ``omnitrade attach``, with the role's refusals.

``WebTerminalApp`` is ``OmniTradeApp`` started on a placeholder session showing only a
``LoginForm``; the login (given by the command line, which knows the gateway) returns the
real session, and the app recomposes into the trading screen on it. Until then no action
but quitting runs: the trading keys have no market to act on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import events, on
from textual.app import ComposeResult

from omnitrade_tui.bus import Bus
from omnitrade_tui.config import UISettings
from omnitrade_tui.tui.app import OmniTradeApp
from omnitrade_tui.tui.session import TerminalSession
from omnitrade_tui.tui.state import TerminalState
from omnitrade_tui.tui.widgets.login_form import LoginForm

#: Logs in with ``(user, password)`` and returns the attached session; raises with a
#: message a person reads when refused.
Login = Callable[[str, str], Awaitable[TerminalSession]]


class WebTerminalApp(OmniTradeApp):
    """``OmniTradeApp`` behind a login form."""

    def __init__(self, gateway: str, login: Login, ui: UISettings) -> None:
        # The placeholder session: one symbol so the state is well formed, nothing else.
        super().__init__(TerminalSession(bus=Bus(), instruments={}, watchlist=("-",), ui=ui))
        self.gateway = gateway
        self._login = login
        self.logged_in = False

    def compose(self) -> ComposeResult:
        """The login form, then (recomposed) the trading screen."""
        if self.logged_in:
            yield from super().compose()
        else:
            yield LoginForm(self.gateway, id="login")

    @on(events.Mount)
    def _before_login(self, event: events.Mount) -> None:
        """Before the login: nothing of the trading screen's start (``OmniTradeApp``'s)."""
        if not self.logged_in:
            event.prevent_default()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only quitting before the login."""
        if not self.logged_in:
            return action == "quit"
        return super().check_action(action, parameters)

    @on(LoginForm.Submitted)
    async def _log_in(self, message: LoginForm.Submitted) -> None:
        form = self.query_one(LoginForm)
        try:
            session = await self._login(message.user, message.password)
        except Exception as exc:  # refused, unreachable: the form says it, the user retries
            form.show_error(str(exc) or type(exc).__name__)
            return
        self.session = session
        self.bus = session.bus
        self.state = TerminalState(session.bus, session.instruments, session.watchlist)
        self.logged_in = True
        await self.recompose()
        OmniTradeApp.on_mount(self)
