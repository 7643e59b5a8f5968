"""The gateway login of a terminal in a browser (``omnitrade serve``): user and password.

A browser session has no terminal prompt to ask at before the app starts, so the attached
terminal asks here, inside the app; the password never leaves this process but to the
gateway's login.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from omnitrade_tui.tui.cursor import steady_cursors


class LoginForm(Vertical):
    """User and password fields; posts ``Submitted`` on Enter in the password field."""

    DEFAULT_CSS = """
    LoginForm {
        width: 60;
        height: auto;
        border: round $accent;
        padding: 1 2;
        margin: 4 0 0 0;
    }
    LoginForm #login-error { color: $error; height: auto; }
    """

    class Submitted(Message):
        """The user asked to log in with these credentials."""

        def __init__(self, user: str, password: str) -> None:
            super().__init__()
            self.user = user
            self.password = password

    def __init__(self, gateway: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.gateway = gateway
        self.border_title = "OmniTrade login"

    def compose(self) -> ComposeResult:
        """The gateway's address, the two fields and the line for a refusal."""
        yield Static(f"Log in to the gateway at {self.gateway}")
        yield Input(placeholder="user", id="login-user")
        yield Input(placeholder="password", password=True, id="login-password")
        yield Static("", id="login-error")

    def on_mount(self) -> None:
        """Start in the user field."""
        steady_cursors(self, self.app)
        self.query_one("#login-user", Input).focus()

    @on(Input.Submitted, "#login-user")
    def _to_password(self) -> None:
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-password")
    def _submit(self) -> None:
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if not user:
            self.show_error("give your user name")
            self.query_one("#login-user", Input).focus()
            return
        self.show_error("logging in...")
        self.post_message(self.Submitted(user, password))

    def show_error(self, text: str) -> None:
        """Say why the login did not work (and clear the password)."""
        self.query_one("#login-error", Static).update(text)
        if text != "logging in...":
            self.query_one("#login-password", Input).value = ""
