"""systemd units for the headless runs: ``omnitrade gateway`` and ``omnitrade record``.

``render_unit`` writes the text of one unit from a ``UnitPlan``; ``omnitrade service``
(``cli/service.py``) installs, removes and reports it. What the unit promises:

* ``Type=notify`` with ``WatchdogSec``: the process says ``READY=1`` once its engine runs
  and ``WATCHDOG=1`` from its event loop (``health.py``), so a hung loop is restarted, not
  only a dead process;
* ``Restart=on-failure``, except for the exit codes restarting cannot mend (a wrong flag,
  config, profile or key, or LIVE unconfirmed: ``RestartPreventExitStatus``);
* the key file's passphrase (``OMNITRADE_KEYFILE_PASSPHRASE``) or an environment key from
  an ``EnvironmentFile`` only root and the owner read, never from the unit itself;
* the same config, state and data folders as the user's own runs (written out, since a
  system unit's ``$HOME`` is not the installer's);
* logs to the journal (stdout and stderr; the JSON log stays in the state directory for
  Filebeat) or to an append-only file beside the JSON log;
* ``--metrics-port``, so ``/metrics``, ``/livez`` and ``/readyz`` answer on loopback.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

#: The commands a unit can run.
COMMANDS = ("gateway", "record")

#: Default metrics ports, different so both services run on one box.
DEFAULT_METRICS_PORTS = {"gateway": 9101, "record": 9102}

#: Exit codes a restart cannot mend (README's table): usage, config, profile, keys, LIVE.
NO_RESTART_CODES = (2, 4, 5, 6, 9)

LOG_TARGETS = ("journal", "file")


@dataclass(frozen=True)
class UnitPlan:
    """What one unit runs, as whom, and where it logs."""

    command: str
    #: The program to start, as argv (the installer's own ``omnitrade``).
    program: tuple[str, ...]
    #: The subcommand's own arguments (``--listen ...``, ``--symbols ...``).
    arguments: tuple[str, ...]
    profile: str | None
    metrics_port: int
    config_dir: Path
    state_dir: Path
    data_dir: Path
    log_dir: Path
    env_file: Path
    config_file: Path | None = None
    system: bool = False
    #: ``User=`` of a system unit (a user unit runs as its owner).
    run_as: str | None = None
    log: str = "journal"
    watchdog_s: int = 30
    restart_s: int = 5
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The unit's name, ``omnitrade-<command>.service``."""
        return f"omnitrade-{self.command}.service"

    def argv(self) -> list[str]:
        """The full command line the unit starts."""
        argv = list(self.program)
        if self.config_file is not None:
            argv += ["--config", str(self.config_file)]
        argv += ["--metrics-port", str(self.metrics_port), self.command, *self.arguments]
        if self.profile:
            argv += ["--profile", self.profile]
        return argv


def _quote(arg: str) -> str:
    # systemd's ExecStart splits like a shell for quotes, but expands % and $: escape both.
    return shlex.quote(arg.replace("%", "%%").replace("$", "$$"))


def _env_line(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{name}={escaped}"'


def render_unit(plan: UnitPlan) -> str:
    """The unit file's text."""
    if plan.command not in COMMANDS:
        raise ValueError(f"unknown command {plan.command!r}: one of {', '.join(COMMANDS)}")
    if plan.log not in LOG_TARGETS:
        raise ValueError(f"unknown log target {plan.log!r}: one of {', '.join(LOG_TARGETS)}")
    what = "gateway for attached terminals" if plan.command == "gateway" else "recorder"
    profile = plan.profile or "the config's default"
    lines = [
        "# Written by `omnitrade service install`; `omnitrade service uninstall` removes it.",
        "[Unit]",
        f"Description=OmniTrade {what} (profile {profile})",
        "Documentation=https://github.com/omnitrade/omnitrade-tui/blob/main/docs/deploy.md",
        "Wants=network-online.target",
        "After=network-online.target",
        # Ten failed starts in five minutes: stop trying, and say so in `systemctl status`.
        "StartLimitIntervalSec=300",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(_quote(a) for a in plan.argv()),
        "Restart=on-failure",
        f"RestartSec={plan.restart_s}",
        "RestartPreventExitStatus=" + " ".join(str(c) for c in NO_RESTART_CODES),
        f"WatchdogSec={plan.watchdog_s}",
        # The venue's exchange info and the database's migrations come before READY=1.
        "TimeoutStartSec=120",
        # SIGTERM lets the recorder write (or journal) what it holds before it exits.
        "TimeoutStopSec=30",
        _env_line("OMNITRADE_CONFIG_DIR", str(plan.config_dir)),
        _env_line("OMNITRADE_STATE_DIR", str(plan.state_dir)),
        _env_line("OMNITRADE_DATA_DIR", str(plan.data_dir)),
        *(_env_line(k, v) for k, v in sorted(plan.extra_env.items())),
        # The key file's passphrase (or an environment key) lives here, mode 0600; the
        # leading '-' lets the unit start without one (the sim, a keyring backend).
        f"EnvironmentFile=-{plan.env_file}",
        f"SyslogIdentifier=omnitrade-{plan.command}",
        "NoNewPrivileges=yes",
        "UMask=0077",
    ]
    if plan.log == "journal":
        lines += ["StandardOutput=journal", "StandardError=journal"]
    else:
        out = plan.log_dir / f"omnitrade-{plan.command}.out"
        lines += [f"StandardOutput=append:{out}", f"StandardError=append:{out}"]
    if plan.system:
        lines += [f"User={plan.run_as or 'omnitrade'}", "ProtectSystem=full", "PrivateTmp=yes"]
    target = "multi-user.target" if plan.system else "default.target"
    lines += ["", "[Install]", f"WantedBy={target}", ""]
    return "\n".join(lines)


def env_file_template(command: str) -> str:
    """The first text of a unit's environment file: what may go there, commented out."""
    return (
        f"# Environment of omnitrade-{command}.service (mode 0600: only you and root read it).\n"
        "# The encrypted key file's passphrase, for a profile whose key is in the key file:\n"
        "# OMNITRADE_KEYFILE_PASSPHRASE=...\n"
        "# Or the key itself, with OMNITRADE_KEY_BACKEND=env:\n"
        "# OMNITRADE_API_KEY=...\n"
        "# OMNITRADE_API_SECRET=...\n"
    )


def unit_dir(system: bool, home: Path, xdg_config_home: str | None) -> Path:
    """Where units go: ``/etc/systemd/system``, or the user's ``systemd/user`` folder."""
    if system:
        return Path("/etc/systemd/system")
    base = Path(xdg_config_home) if xdg_config_home else home / ".config"
    return base / "systemd" / "user"


def metrics_port_of(unit_text: str) -> int | None:
    """The ``--metrics-port`` an installed unit's ``ExecStart`` gives (for ``status``)."""
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart="))
            if "--metrics-port" in argv:
                i = argv.index("--metrics-port")
                if i + 1 < len(argv) and argv[i + 1].isdigit():
                    return int(argv[i + 1])
    return None
