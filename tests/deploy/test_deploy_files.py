"""``deploy/``: the image definition and the compose file parse and name only commands the
CLI has; Prometheus scrapes the ports the services serve on; every metric the Grafana
dashboard queries is exported by a running gateway's ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from omnitrade_tui.cli.main import build_parser
from omnitrade_tui.domain.commands import PlaceOrder
from omnitrade_tui.domain.enums import OrderType, Side, TimeInForce
from omnitrade_tui.domain.events import BookState
from omnitrade_tui.domain.models import OrderRequest
from omnitrade_tui.engine.risk import RiskRejected
from tests.conftest import REPO_ROOT
from tests.deploy.running import running_gateway
from tests.waiting import until

DEPLOY = REPO_ROOT / "deploy"


def compose() -> dict[str, Any]:
    """``deploy/compose.yaml``, parsed."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def expand(text: str) -> str:
    """Compose's ``${VAR:-default}`` as its default (``${VAR}``, ``${VAR:?...}`` as VAR)."""
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{(\w+)(:\?[^}]*)?\}", r"\1", text)


def containerfile() -> list[tuple[str, str]]:
    """The final stage's instructions as ``(INSTRUCTION, arguments)``, continuations joined."""
    joined = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    instructions = [tuple(line.split(None, 1)) for line in lines if line and line[0] != "#"]
    stages = [i for i, ins in enumerate(instructions) if ins[0] == "FROM"]
    return [(ins[0], ins[1]) for ins in instructions[stages[-1] :]]


def assert_cli_accepts(argv: list[str]) -> None:
    """``omnitrade ARGV`` parses, and its handler is a real command, not a usage printer."""
    assert argv[0] == "omnitrade", argv
    args = build_parser().parse_args(argv[1:])
    assert callable(args.handler), argv


def test_the_image_runs_as_a_user_with_the_state_in_a_volume_and_two_commands() -> None:
    final = containerfile()
    seen = {name for name, _ in final}
    assert {"USER", "VOLUME", "ENTRYPOINT", "CMD", "HEALTHCHECK", "ENV"} <= seen
    user = next(value for name, value in final if name == "USER")
    assert user not in ("root", "0")
    volumes = json.loads(next(value for name, value in final if name == "VOLUME"))
    env = dict(
        pair.split("=", 1) for name, value in final if name == "ENV" for pair in shlex.split(value)
    )
    for var in ("OMNITRADE_STATE_DIR", "OMNITRADE_DATA_DIR", "OMNITRADE_CONFIG_DIR"):
        assert any(env[var].startswith(v.rstrip("/") + "/") for v in volumes), var
    entry = json.loads(next(value for name, value in final if name == "ENTRYPOINT"))
    cmd = json.loads(next(value for name, value in final if name == "CMD"))
    assert_cli_accepts(entry + cmd)
    health = next(value for name, value in final if name == "HEALTHCHECK")
    assert_cli_accepts(json.loads(health.split(" CMD ", 1)[1]))
    # The build copies what the wheel is built from, and nothing the repository lacks.
    for name, value in containerfile_all():
        if name == "COPY" and not value.startswith("--from"):
            for source in shlex.split(value)[:-1]:
                assert (REPO_ROOT / source).exists(), source


def containerfile_all() -> list[tuple[str, str]]:
    """Every stage's instructions."""
    joined = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    pairs = [line.strip().split(None, 1) for line in joined.splitlines()]
    return [(p[0], p[1]) for p in pairs if len(p) == 2 and not p[0].startswith("#")]


def test_compose_parses_and_its_omnitrade_services_name_only_cli_commands() -> None:
    spec = compose()
    services = spec["services"]
    assert {
        "postgres-primary",
        "postgres-replica",
        "redis",
        "prometheus",
        "grafana",
        "filebeat",
        "elasticsearch",
        "kibana",
        "gateway",
        "record",
    } <= set(services)
    ours = {name: s for name, s in services.items() if s.get("image") == "omnitrade:latest"}
    assert set(ours) == {"gateway", "record"}
    assert (REPO_ROOT / ours["record"]["build"]["dockerfile"]).is_file()
    for name, service in ours.items():
        argv = ["omnitrade", *(expand(a) for a in service["command"])]
        assert argv[1] == name
        assert_cli_accepts(argv)
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        assert_cli_accepts(test[1:])
        port = service["environment"]["OMNITRADE_METRICS_PORT"]
        assert test[test.index("--port") + 1] == port
        env = service["environment"]
        # History reads go to the replica, writes to the primary.
        assert "@postgres-primary/" in env["OMNITRADE_DB_URL"]
        assert "@postgres-replica/" in env["OMNITRADE_DB_READ_URL"]
        assert env["OMNITRADE_METRICS_HOST"] == "0.0.0.0"
    # Every volume a service names is declared; every file it mounts exists.
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
            else:
                assert source in spec["volumes"], source


def test_prometheus_scrapes_the_ports_the_services_serve_metrics_on() -> None:
    services = compose()["services"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {
        f"{name}:{services[name]['environment']['OMNITRADE_METRICS_PORT']}"
        for name in ("gateway", "record")
    }


def test_grafana_provisions_the_dashboard_from_prometheus() -> None:
    services = compose()["services"]
    mounts = dict(m.split(":")[:2] for m in services["grafana"]["volumes"])
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/omnitrade.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert mounts["./grafana/dashboards"] == path
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/omnitrade.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]


def dashboard_metrics() -> set[str]:
    """Every metric name the dashboard's queries read."""
    dashboard = json.loads((DEPLOY / "grafana/dashboards/omnitrade.json").read_text())
    names: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"\bomnitrade_[a-z_]+\b", target["expr"]))
    return names


def exported_samples(text: str) -> set[str]:
    """Names of the samples in a Prometheus text exposition."""
    return {
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_every_metric_the_dashboard_queries_is_exported_by_a_running_gateway(
    tmp_path: Path,
) -> None:
    wanted = dashboard_metrics()
    # What the dashboard promises to show (issue 23): each has a query.
    for family in (
        "omnitrade_bus_published_total",  # stream rates
        "omnitrade_book_live",  # book health
        "omnitrade_book_resyncs",
        "omnitrade_latency_seconds_bucket",  # order latency
        "omnitrade_rate_limit_use_ratio",
        "omnitrade_recorder_lag_seconds",
        "omnitrade_gateway_sessions",
    ):
        assert family in wanted, family
    async with running_gateway(tmp_path) as (gw, base):
        rt = gw.runtime
        assert rt.sim is not None
        await until(
            lambda: (
                rt.market_stream.books["BTCUSDT"].state is BookState.LIVE
                and "BTCUSDT" in rt.gate.mids
            ),
            "a live book and a mid",
            fail=False,
        )
        mid = rt.gate.mids["BTCUSDT"]

        def order(factor: str) -> PlaceOrder:
            return PlaceOrder(
                request=OrderRequest(
                    symbol="BTCUSDT",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.01"),
                    price=(mid * Decimal(factor)).quantize(Decimal("0.01")),
                    time_in_force=TimeInForce.GTC,
                )
            )

        await rt.bus.request(order("0.98"))  # a round trip
        with pytest.raises(RiskRejected):
            await rt.bus.request(order("1.5"))  # a reject
        # A dropped stream: a reconnect and a resync, as on a bad day.
        rt.sim.faults.close_every_s = 0.3
        text = ""
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(f"{base}/metrics") as resp:
                    text = await resp.text()
                if not wanted - exported_samples(text):
                    break
                await asyncio.sleep(0.1)
        rt.sim.faults.close_every_s = 0.0
    missing = wanted - exported_samples(text)
    assert not missing, f"the dashboard queries metrics the gateway does not export: {missing}"
