"""``omnitrade serve``'s refusals, and the command each browser session runs."""

from __future__ import annotations

import shlex

import pytest

from omnitrade_tui.cli.main import build_parser, main
from omnitrade_tui.cli.serve import session_command
from omnitrade_tui.config import AppDirs


def test_serve_refuses_a_public_address_without_tls(
    app_dirs: AppDirs, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--gateway", "http://127.0.0.1:1", "--listen", "0.0.0.0:8000"]
    assert main(argv) == 2
    assert "only over TLS" in capsys.readouterr().err
    assert main([*argv, "--tls-cert", "c.pem"]) == 2  # a certificate without its key
    assert main(["serve", "--gateway", "http://tradebox:8765"]) == 2  # clear text off-box


def test_each_browser_session_runs_attach_with_the_in_app_login() -> None:
    command = session_command(("/v/bin/omnitrade",), "https://box:8765", "SHA256:ab", None)
    argv = shlex.split(command)
    assert argv[1:] == ["attach", "https://box:8765", "--in-app-login", "--trust", "SHA256:ab"]
    parsed = build_parser().parse_args(argv[1:])
    assert parsed.in_app_login and parsed.user is None and parsed.trust == "SHA256:ab"


def test_attach_still_needs_a_user_at_a_terminal(app_dirs: AppDirs) -> None:
    assert main(["attach", "http://127.0.0.1:1"]) == 2
