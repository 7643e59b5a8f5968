"""The command line: help, version, what start-up loads, and usage errors."""

from __future__ import annotations

import argparse
import importlib
import os
import pty
import subprocess
import sys
from collections.abc import Iterator

import pytest

from omnitrade_tui import __version__
from omnitrade_tui.cli import main
from omnitrade_tui.cli.app import NO_TERMINAL
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.main import SUBCOMMANDS, LazySubcommands, build_parser
from omnitrade_tui.config import AppDirs

#: Libraries that only some subcommands need: the bare command must not pay for them.
HEAVY = ("sqlalchemy", "alembic", "aiohttp", "redis", "textual")


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return set(out.split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _heavy(_loaded_after("import omnitrade_tui.cli")) == []


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_subcommand(flag: str) -> None:
    loaded = _loaded_after(
        "import contextlib\n"
        "from omnitrade_tui.cli import main\n"
        f"with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None): main([{flag!r}])"
    )
    assert _heavy(loaded) == []
    assert not {module for _, module, _ in SUBCOMMANDS} & loaded
    assert "omnitrade_tui.cli.app" not in loaded


@pytest.mark.parametrize(("name", "module", "help_line"), SUBCOMMANDS)
def test_the_listing_says_what_each_subcommand_says_of_itself(
    name: str, module: str, help_line: str
) -> None:
    # The top-level help lists a subcommand without importing it: its line must not drift
    # from the help the module registers.
    registered = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(registered)
    (action,) = (a for a in registered._choices_actions if a.dest == name)
    assert action.help == help_line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name, _, help_line in SUBCOMMANDS:
        assert name in out
        assert help_line.split()[0] in out


@pytest.mark.parametrize("sub", [name for name, _, _ in SUBCOMMANDS])
def test_subcommand_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: omnitrade " + sub)


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == ExitCode.USAGE


_RUN_CLI = "import sys; from omnitrade_tui.cli import main; sys.exit(main())"


def test_no_terminal_is_refused_at_once(app_dirs: AppDirs) -> None:
    # cron, a pipe, ``</dev/null``: the app used to wait forever, writing escape codes.
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CLI],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.strip() == NO_TERMINAL
    assert "\x1b" not in done.stderr + done.stdout


def test_output_to_a_pipe_is_no_terminal_either(app_dirs: AppDirs) -> None:
    keyboard, terminal = pty.openpty()  # a keyboard, but the screen goes to a pipe
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUN_CLI],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(keyboard)
        os.close(terminal)
    assert done.returncode == ExitCode.USAGE
    assert NO_TERMINAL in done.stderr


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every subcommand parser under it, loading each subcommand."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if isinstance(action, LazySubcommands):
                for name in list(action.choices):
                    action.load(name)
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


#: Subcommands whose help is held to these rules elsewhere (by their own tests).
ELSEWHERE = ("omnitrade sim", "omnitrade gateway")


def test_every_option_says_what_it_is_for_within_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for parser in _parsers(build_parser()):
        if parser.prog.startswith(ELSEWHERE):
            continue
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{parser.prog} {action.option_strings or action.dest}"
        for line in parser.format_help().splitlines():
            assert len(line) <= 80, f"{parser.prog}: {line!r}"
            assert not line.rstrip().endswith("-"), f"{parser.prog} splits a word: {line!r}"


def test_settling_the_heap_puts_what_lives_out_of_the_collectors_reach() -> None:
    # In a process of its own: frozen objects are never collected, not even a later test's.
    probe = (
        "import gc\n"
        "from omnitrade_tui.cli.app import settle_heap\n"
        "import omnitrade_tui.tui.app\n"
        "before = gc.get_freeze_count()\n"
        "settle_heap()\n"
        "print(before, gc.get_freeze_count(), len(gc.get_objects(2)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    before, frozen, left_in_oldest = map(int, out.stdout.split())
    assert before == 0 and frozen > 20_000  # the modules and classes the app imports
    assert left_in_oldest < frozen // 100  # a full collection now walks almost nothing
