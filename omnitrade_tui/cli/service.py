"""``omnitrade service install|uninstall|status gateway|record``: systemd units for a box.

``install`` writes ``omnitrade-<command>.service`` (a user unit, or a system unit with
``--system``) and its environment file, then, where systemd runs, reloads it and enables
and starts the unit; where it does not (a container, a sandbox), it says so and prints the
commands to run on a box that has it. ``--print`` shows the unit without writing it.
``status`` shows what systemd says (where it runs) and what the run's ``/readyz`` says;
``probe`` asks a run's ``/readyz`` (or ``/livez``) once, for a container's health check.

Exit codes (README's table): 0 done, or installed and ready; 2 a unit that is not installed,
or arguments the command cannot run with; 7 the service does not answer or is not ready.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from omnitrade_tui.cli.errors import CliError
from omnitrade_tui.cli.exit_codes import ExitCode
from omnitrade_tui.cli.startup import overrides_from_args
from omnitrade_tui.config import load_settings
from omnitrade_tui.service_units import (
    COMMANDS,
    DEFAULT_METRICS_PORTS,
    LOG_TARGETS,
    UnitPlan,
    env_file_template,
    metrics_port_of,
    render_unit,
    unit_dir,
)


def systemd_running() -> bool:
    """Whether systemd is the init system here (sd_booted(3)'s test)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def program() -> tuple[str, ...]:
    """The installer's own ``omnitrade``: the script beside this Python, else ``-m``."""
    script = Path(sys.executable).parent / "omnitrade"
    if script.is_file():
        return (str(script),)
    return (sys.executable, "-m", "omnitrade_tui.cli.main")


def _systemctl(system: bool, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["systemctl", *([] if system else ["--user"]), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _plan(args: argparse.Namespace) -> UnitPlan:
    arguments: list[str] = []
    if args.command == "gateway":
        if not args.listen:
            raise CliError(
                "service install gateway needs --listen HOST:PORT (and TLS flags for an "
                "address other than loopback)",
                ExitCode.USAGE,
            )
        arguments += ["--listen", args.listen]
        for flag, value in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
            if value:
                arguments += [flag, str(Path(value).resolve())]
        if args.self_signed:
            arguments.append("--self-signed")
    else:
        if not args.symbols:
            raise CliError(
                "service install record needs --symbols, e.g. --symbols ETHUSDT,BTCUSDT",
                ExitCode.USAGE,
            )
        arguments += ["--symbols", args.symbols]
        if args.db:
            arguments += ["--db", args.db]
        if args.redis:
            arguments += ["--redis", args.redis]
        if args.from_redis:
            if not args.redis:
                raise CliError("--from-redis needs --redis URL", ExitCode.USAGE)
            arguments.append("--from-redis")
        if args.redis_group:
            if not args.from_redis:
                raise CliError("--redis-group shares a feed taken --from-redis", ExitCode.USAGE)
            arguments += ["--redis-group", args.redis_group]
    settings = load_settings(overrides_from_args(args))
    dirs = settings.dirs
    port = args.port if args.port is not None else DEFAULT_METRICS_PORTS[args.command]
    return UnitPlan(
        command=args.command,
        program=program(),
        arguments=tuple(arguments),
        profile=getattr(args, "profile", None),
        metrics_port=port,
        config_dir=dirs.config,
        state_dir=dirs.state,
        data_dir=dirs.data,
        log_dir=dirs.log_dir,
        env_file=dirs.config / f"omnitrade-{args.command}.env",
        config_file=Path(args.config).resolve() if getattr(args, "config", None) else None,
        system=args.system,
        run_as=args.run_as,
        log=args.log,
        watchdog_s=args.watchdog,
    )


def _where(args: argparse.Namespace) -> Path:
    if args.unit_dir is not None:
        return Path(args.unit_dir)
    return unit_dir(args.system, Path.home(), os.environ.get("XDG_CONFIG_HOME"))


def install(args: argparse.Namespace) -> int:
    """Write the unit (and its environment file); enable and start it where systemd runs."""
    plan = _plan(args)
    text = render_unit(plan)
    if args.print:
        sys.stdout.write(text)
        return int(ExitCode.OK)
    folder = _where(args)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / plan.name
    path.write_text(text, encoding="utf-8")
    if not plan.env_file.exists():
        plan.env_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(plan.env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(env_file_template(plan.command))
    plan.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    print(f"service: wrote {path}")
    print(f"service: environment file {plan.env_file} (mode 0600; the key file's passphrase)")
    calls = [["daemon-reload"], ["enable", "--now", plan.name]]
    scope = "" if plan.system else "--user "
    if not systemd_running() or args.no_start:
        why = "not asked to (--no-start)" if args.no_start else "systemd is not running here"
        print(f"service: {why}; to start it on a box with systemd:")
        for call in calls:
            print(f"  systemctl {scope}{' '.join(call)}")
        if not plan.system:
            print("  loginctl enable-linger $USER   # keep it running after you log out")
        return int(ExitCode.OK)
    for call in calls:
        done = _systemctl(plan.system, *call)
        if done.returncode != 0:
            raise CliError(
                f"`systemctl {scope}{' '.join(call)}` failed: {done.stderr.strip()}",
                ExitCode.ERROR,
            )
    print(f"service: {plan.name} enabled and started; `omnitrade service status` shows it")
    return int(ExitCode.OK)


def uninstall(args: argparse.Namespace) -> int:
    """Stop and disable the unit where systemd runs, and remove its file."""
    name = f"omnitrade-{args.command}.service"
    path = _where(args) / name
    if not path.exists():
        raise CliError(f"no {name} installed in {path.parent}", ExitCode.USAGE)
    if systemd_running():
        _systemctl(args.system, "disable", "--now", name)
    path.unlink()
    if systemd_running():
        _systemctl(args.system, "daemon-reload")
    print(f"service: removed {path} (its environment file is kept)")
    return int(ExitCode.OK)


def probe(
    port: int, timeout_s: float = 3.0, path: str = "/readyz"
) -> tuple[int | None, dict[str, Any]]:
    """``path`` (``/readyz``, ``/livez``) on loopback ``port``: its HTTP status (None: no
    answer) and body."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError) as exc:
        return None, {"error": str(exc)}


def status(args: argparse.Namespace) -> int:
    """What systemd says of the unit (where it runs) and what its ``/readyz`` says."""
    name = f"omnitrade-{args.command}.service"
    path = _where(args) / name
    if not path.exists():
        raise CliError(f"no {name} installed in {path.parent}", ExitCode.USAGE)
    print(f"service: {path}")
    if systemd_running():
        shown = _systemctl(args.system, "status", "--no-pager", "--lines=5", name)
        print(shown.stdout.rstrip())
    else:
        print("service: systemd is not running here (no /run/systemd/system)")
    port = metrics_port_of(path.read_text(encoding="utf-8"))
    if port is None:
        raise CliError(f"{name} names no --metrics-port to ask", ExitCode.USAGE)
    code, body = probe(port)
    if code is None:
        raise CliError(
            f"{name}: nothing answers on 127.0.0.1:{port} ({body.get('error')})",
            ExitCode.VENUE_UNREACHABLE,
        )
    for check, result in sorted(body.get("checks", {}).items()):
        mark = "ok  " if result.get("ok") else "FAIL"
        print(f"  {mark} {check}: {result.get('detail', '')}")
    if code != 200:
        raise CliError(f"{name} is running but not ready", ExitCode.VENUE_UNREACHABLE)
    print(f"service: {name} is ready")
    return int(ExitCode.OK)


def check(args: argparse.Namespace) -> int:
    """One probe of a run's ``/readyz`` (``--live``: ``/livez``), for a container's health
    check: exit 0 when it passes, 7 when it fails or nothing answers."""
    port = args.port
    if port is None:
        port = load_settings(overrides_from_args(args)).metrics_port
    if port is None:
        raise CliError("no port to ask: give --port, or set OMNITRADE_METRICS_PORT", ExitCode.USAGE)
    path = "/livez" if args.live else "/readyz"
    code, body = probe(port, path=path)
    if code != 200:
        failing = {
            name: result.get("detail", "")
            for name, result in body.get("checks", {}).items()
            if not result.get("ok")
        }
        raise CliError(
            f"127.0.0.1:{port}{path}: {failing or body.get('error', code)}",
            ExitCode.VENUE_UNREACHABLE,
        )
    print(f"127.0.0.1:{port}{path}: ok")
    return int(ExitCode.OK)


def register(subparsers: Any) -> None:
    """Add the ``service`` subcommand and its ``install``, ``uninstall`` and ``status``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "service",
        help="install, remove or check the systemd units of the gateway and the recorder",
        description="systemd units for a trading box: restart on failure, a watchdog fed "
        "by the process, the key file's passphrase from a private environment file, logs "
        "to the journal or a file. See docs/deploy.md.",
    )
    parser.set_defaults(handler=lambda a: _usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("command", choices=COMMANDS, help="which run the unit starts")
    common.add_argument(
        "--system", action="store_true", help="a system unit (root) instead of a user unit"
    )
    common.add_argument(
        "--unit-dir", default=None, help="write units here instead of systemd's folder"
    )

    inst = actions.add_parser("install", parents=[common], help="write and enable the unit")
    inst.add_argument("--profile", default=argparse.SUPPRESS, help="the profile the service runs")
    inst.add_argument("--listen", default=None, help="gateway: HOST:PORT to serve")
    inst.add_argument("--tls-cert", default=None, help="gateway: TLS certificate (PEM)")
    inst.add_argument("--tls-key", default=None, help="gateway: TLS private key (PEM)")
    inst.add_argument(
        "--self-signed", action="store_true", help="gateway: a development certificate"
    )
    inst.add_argument("--symbols", default=None, help="record: comma-separated symbols")
    inst.add_argument("--db", default=None, help="record: SQLite path or postgresql:// URL")
    inst.add_argument("--redis", default=None, help="record: redis:// URL to share the feed")
    inst.add_argument(
        "--from-redis",
        action="store_true",
        help="record: take market data from the --redis feed instead of the venue",
    )
    inst.add_argument(
        "--redis-group", default=None, help="record: share the feed in this consumer group"
    )
    inst.add_argument(
        "--port",
        type=int,
        default=None,
        help="metrics, /livez and /readyz port (default 9101 gateway, 9102 record)",
    )
    inst.add_argument("--log", choices=LOG_TARGETS, default="journal", help="log target")
    inst.add_argument(
        "--watchdog", type=int, default=30, metavar="SECONDS", help="WatchdogSec (default 30)"
    )
    inst.add_argument("--run-as", default=None, help="User= of a system unit")
    inst.add_argument(
        "--no-start", action="store_true", help="write the unit, do not enable or start it"
    )
    inst.add_argument("--print", action="store_true", help="print the unit instead of writing it")
    inst.set_defaults(handler=install)

    rm = actions.add_parser("uninstall", parents=[common], help="stop, disable, remove")
    rm.set_defaults(handler=uninstall)
    st = actions.add_parser("status", parents=[common], help="systemd's view and /readyz")
    st.set_defaults(handler=status)
    pr = actions.add_parser("probe", help="ask a run's /readyz (or /livez) once: exit 0 ok, 7 not")
    pr.add_argument(
        "--port", type=int, default=None, help="metrics port (default: the configured one)"
    )
    pr.add_argument("--live", action="store_true", help="ask /livez instead of /readyz")
    pr.set_defaults(handler=check)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return int(ExitCode.USAGE)
