"""``omnitrade serve`` in a real browser: headless Chromium (Debian's package) opens the
page, logs in to the gateway through the app's form (a wrong password first), and finds the
ladder and the user's role on the screen; a screenshot is kept.

Chromium is driven over its DevTools protocol with aiohttp (already a dependency). The
terminal in the page draws on a canvas, so what the page shows is read from what the
served app sent it: a script added before the page loads keeps the WebSocket's frames.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.waiting import until

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"

#: Keeps every frame the page's WebSockets receive, as text, in ``window.__omt``.
RECORD_FRAMES = """
window.__omt = [];
const Native = window.WebSocket;
class Recorded extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => {
      const d = e.data;
      if (typeof d === "string") window.__omt.push(d);
      else if (d instanceof ArrayBuffer) window.__omt.push(new TextDecoder().decode(d));
      else if (d instanceof Blob) d.text().then((t) => window.__omt.push(t));
    });
  }
}
window.WebSocket = Recorded;
"""

_ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


def chromium() -> str:
    """Debian's Chromium, or skip."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def omnitrade(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    """``omnitrade ARGS`` in a process of its own."""
    argv = [sys.executable, "-c", "from omnitrade_tui.cli import main; raise SystemExit(main())"]
    return subprocess.Popen(
        [*argv, *args],
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float = 60) -> None:
    """Read the process's output until a line holds ``text``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {text!r} from the process: {''.join(seen)[-2000:]}")


@contextlib.contextmanager
def stopped_at_exit(*procs: subprocess.Popen[str]) -> Iterator[None]:
    """SIGTERM (then kill) the processes when done."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


class Page:
    """One Chromium tab over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        call_id = next(self._ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=30)
            if message.get("id") == call_id:
                assert "error" not in message, message
                result: dict[str, Any] = message.get("result", {})
                return result

    async def screen_text(self) -> str:
        """What the served app has sent the page so far, escape sequences removed."""
        answer = await self.call(
            "Runtime.evaluate", expression="window.__omt.join('')", returnByValue=True
        )
        return _ANSI.sub("", str(answer["result"].get("value", "")))

    async def wait_for_text(self, text: str, timeout: float = 40) -> str:
        """The screen text once it holds ``text``."""
        shown = ""

        async def holds() -> bool:
            nonlocal shown
            shown = await self.screen_text()
            return text in shown

        if await until(holds, repr(text), timeout, interval=0.2, fail=False):
            return shown
        said = sorted(
            {
                m
                for m in re.findall(r"[a-z][a-z ,:'()]{12,}", shown)
                if "password" not in m or "wrong" in m
            }
        )
        raise AssertionError(f"{text!r} never shown; the page said: {said}")

    async def type(self, text: str, echo: str) -> None:
        """Type ``text`` into the focused terminal, wait until the field shows ``echo``
        (keys are not lost to a redraw), then press Enter."""
        before = len(await self.screen_text())
        await self.call("Input.insertText", text=text)

        async def echoed() -> bool:
            return echo in (await self.screen_text())[before:]

        await until(echoed, f"{echo!r} echoed", 20.0, interval=0.1)
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                text="\r" if kind == "keyDown" else "",
            )


@contextlib.asynccontextmanager
async def browser(url: str) -> AsyncIterator[Page]:
    """Headless Chromium on ``url`` with the frame recorder installed."""
    profile = Path(tempfile.mkdtemp(prefix="omt-chromium-"))
    proc = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--window-size=1400,900",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        await until(
            lambda: port_file.exists() and bool(port_file.read_text().strip()),
            "the DevTools port",
            fail=False,
        )
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = await resp.json()
            target = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                await page.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_FRAMES)
                await page.call("Page.navigate", url=url)
                yield page
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        shutil.rmtree(profile, ignore_errors=True)


async def test_the_browser_terminal_logs_in_to_the_gateway_and_shows_the_ladder(
    tmp_path: Path,
) -> None:
    chromium()
    env = {
        **os.environ,
        "OMNITRADE_CONFIG_DIR": str(tmp_path / "config"),
        "OMNITRADE_STATE_DIR": str(tmp_path / "state"),
        "OMNITRADE_DATA_DIR": str(tmp_path / "data"),
        "OMNITRADE_DB_URL": f"sqlite:///{tmp_path / 'h.db'}",
    }
    add = omnitrade(
        env,
        "gateway",
        "users",
        "add",
        "ann",
        "--role",
        "trader",
        "--password-stdin",
        stdin=PASSWORD,
    )
    add.communicate(PASSWORD + "\n", timeout=60)
    assert add.returncode == 0
    gateway_port, page_port = free_port(), free_port()
    gateway = omnitrade(env, "gateway", "--listen", f"127.0.0.1:{gateway_port}")
    served = omnitrade(
        env,
        "serve",
        "--gateway",
        f"http://127.0.0.1:{gateway_port}",
        "--listen",
        f"127.0.0.1:{page_port}",
    )
    with stopped_at_exit(served, gateway):
        wait_for_line(gateway, "attach with")
        wait_for_line(served, "the terminal at")
        async with browser(f"http://127.0.0.1:{page_port}/") as page:
            await page.wait_for_text("OmniTrade login")
            # The terminal takes the keys once clicked.
            for kind in ("mousePressed", "mouseReleased"):
                await page.call(
                    "Input.dispatchMouseEvent", type=kind, x=700, y=450, button="left", clickCount=1
                )
            await page.type("ann", "ann")
            await page.type("not the password", "•" * 16)
            refused = await page.wait_for_text("wrong user name or password")
            assert "group 1x" not in refused, "a wrong password reached the trading screen"
            await page.type(PASSWORD, "•" * len(PASSWORD))
            shown = await page.wait_for_text("group 1x")  # the ladder's title line
            assert "ann (trader)" in shown  # who is attached, with the role that applies
            await asyncio.sleep(1.0)
            shot = await page.call("Page.captureScreenshot", format="png")
            folder = Path(os.environ.get("OMNITRADE_TEST_SCREENSHOTS", tmp_path))
            (folder / "serve-ladder.png").write_bytes(base64.b64decode(shot["data"]))
