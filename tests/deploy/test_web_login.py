"""The browser terminal's app under Pilot, on a real gateway on the sim: its login form
refuses a wrong password, then recomposes into the trading screen with the user's role."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher
from textual.widgets import Input

from omnitrade_tui.cli.attach import gateway_login
from omnitrade_tui.gateway.client import GatewayClient
from omnitrade_tui.gateway.passwords import Passwords
from omnitrade_tui.gateway.service import Listen, run_gateway
from omnitrade_tui.tui.web_app import WebTerminalApp
from omnitrade_tui.tui.widgets.ladder import Ladder
from omnitrade_tui.tui.widgets.login_form import LoginForm
from tests.gateway.conftest import PASSWORD, auth_factory, with_users
from tests.test_runtime import sim_settings
from tests.waiting import until


async def test_the_web_app_logs_in_on_its_form_then_shows_the_ladder(tmp_path: Path) -> None:
    settings = sim_settings(tmp_path)
    cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    where = Listen("127.0.0.1", 0)
    async with run_gateway(settings, where, auth_factory=auth_factory(cheap), record=False) as gw:
        await with_users(gw)
        clients: list[GatewayClient] = []
        app = WebTerminalApp("gateway", gateway_login(settings, gw.url, None, clients), settings.ui)
        try:
            async with app.run_test(size=(160, 48)) as pilot:
                form = app.query_one(LoginForm)
                assert not app.logged_in
                # Before the login the trading keys do nothing (only quitting would).
                assert app.check_action("buy", ()) is False
                await pilot.press(*"tom", "enter")
                await pilot.press(*"wrong", "enter")
                error = form.query_one("#login-error")
                await until(
                    lambda: "wrong user name or password" in str(error.render()),
                    "the refusal",
                    5.0,
                    pause=pilot.pause,
                )
                assert "wrong user name or password" in str(error.render())
                assert form.query_one("#login-password", Input).value == ""
                assert not clients  # the refused client was closed, not kept
                await pilot.press(*PASSWORD, "enter")
                await until(
                    lambda: bool(app.query(Ladder)) and app.logged_in,
                    "the trading screen",
                    10.0,
                    pause=pilot.pause,
                )
                assert app.logged_in
                # mypy keeps app.logged_in narrowed to False from the assert before the login.
                assert not app.query(LoginForm)  # type: ignore[unreachable]
                assert app.query_one(Ladder)
                assert app.session.gateway is not None
                assert app.session.gateway.startswith("tom (trader)")
                # The role applies: the kill switch is an admin's, shown disabled to a trader.
                assert app.check_action("kill_switch", ()) is None
                assert app.check_action("buy", ()) is True
        finally:
            for client in clients:
                await client.aclose()
