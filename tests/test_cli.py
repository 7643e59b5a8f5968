"""The command line: help, version, and honest refusals of unbuilt subcommands."""

from __future__ import annotations

import pytest

from omnitrade_tui import __version__
from omnitrade_tui.cli import main
from omnitrade_tui.cli.exit_codes import ExitCode


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("sim", "record", "keys", "history"):
        assert name in out


@pytest.mark.parametrize("sub", ["sim", "record", "keys", "history"])
def test_subcommand_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: omnitrade " + sub)


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == ExitCode.USAGE
