"""``.ci/run`` leaves nothing behind: its fresh environment goes however the run ends."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import REPO_ROOT


def test_ci_removes_its_environment_when_the_run_fails(tmp_path: Path) -> None:
    # A python3 that makes the environment's folder, writes into it, then fails: the run
    # stops at its first step (set -e), and the trap must still remove the folder.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3"
    shim.write_text('#!/bin/sh\n# python3 -m venv DIR\nmkdir -p "$3" && touch "$3/pip"\nexit 3\n')
    shim.chmod(0o755)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(scratch),
    }
    done = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert list(scratch.iterdir()) == []
