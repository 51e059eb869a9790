"""A real Prometheus scrapes the running service; the series and the dashboard's queries
are checked through Prometheus' own query API; the shipped alert rules pass `promtool`
(syntax and their unit tests) and are evaluated by the real Prometheus against the
running service."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from signal_opt.api import create_app
from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, REPO
from tests.api.servers import HOW, prometheus_binary, prometheus_server, serve_in_thread

pytestmark = pytest.mark.prometheus


def _query(prom: str, expr: str) -> dict[str, Any]:
    r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]  # type: ignore[no-any-return]


def _wait_for(prom: str, expr: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = _query(prom, expr)["result"]
        if result:
            return result  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never had {expr!r}")


def test_prometheus_scrapes_the_service(settings: Settings, tmp_path: Path) -> None:
    if prometheus_binary() is None:
        pytest.skip(f"Prometheus is not installed: {HOW}")
    app = create_app(
        settings.model_copy(update={"scheduler_enabled": True, "retime_interval_s": 1.0}),
        registry=CollectorRegistry(),
    )
    with serve_in_thread(app) as base:
        _, token = app.state.service.repo.create_key("operator")
        h = {"Authorization": f"Bearer {token}"}
        x = app.state.service.network(NETWORK).intersections[0]
        r = httpx.post(
            f"{base}/v1/networks/{NETWORK}/intersections/{x.id}/retime",
            headers=h,
            json={"demand": {g.id: 250.0 for g in x.lane_groups}},
            timeout=30,
        )
        assert r.status_code == 200
        cycle = r.json()["plans"][0]["cycle_s"]
        with prometheus_server(base.removeprefix("http://"), tmp_path) as prom:
            up = _wait_for(prom, 'up{job="signal-opt"} == 1')
            assert up[0]["value"][1] == "1"
            info = _wait_for(prom, "signal_opt_build_info")
            assert info[0]["metric"]["version"]
            got = _wait_for(prom, f'signal_opt_plan_cycle_seconds{{intersection="{x.id}"}}')
            assert float(got[0]["value"][1]) == pytest.approx(cycle)
            _wait_for(prom, 'signal_opt_retiming_runs_total{trigger="api",outcome="ok"}')
            _wait_for(prom, 'signal_opt_retiming_runs_total{trigger="schedule"}')
            _wait_for(prom, "signal_opt_http_request_duration_seconds_bucket")
            # every query of the dashboard is valid PromQL for this Prometheus
            dash = json.loads((REPO / "configs/grafana/dashboards/signal-opt.json").read_text())
            for panel in dash["panels"]:
                for target in panel["targets"]:
                    _query(prom, target["expr"].replace("$network", ".*"))


RULES = REPO / "configs" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(f"promtool (Prometheus) is not installed: {HOW}")
    return found


def test_promtool_checks_the_alert_rules_and_their_unit_tests() -> None:
    promtool = _promtool()
    for args in (
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        r = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert "SUCCESS" in r.stdout + r.stderr


def test_prometheus_evaluates_the_alert_rules_against_the_service(
    settings: Settings, tmp_path: Path
) -> None:
    if prometheus_binary() is None:
        pytest.skip(f"Prometheus is not installed: {HOW}")
    app = create_app(
        settings.model_copy(update={"scheduler_enabled": True, "retime_interval_s": 1.0}),
        registry=CollectorRegistry(),
    )
    with (
        serve_in_thread(app) as base,
        prometheus_server(base.removeprefix("http://"), tmp_path, (RULES / "alerts.yml",)) as prom,
    ):
        # no detector data: every scheduled retiming falls back, so the fallback alert
        # goes pending (its `for` is 30 minutes); nothing else does
        _wait_for(
            prom,
            'ALERTS{alertname="SignalOptIntersectionsOnFallback",network="yizhuang_core"}',
        )
        groups = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == 8
        for rule in rules:
            assert rule["health"] == "ok", rule
        states = {r["name"]: r["state"] for r in rules}
        assert states["SignalOptIntersectionsOnFallback"] == "pending"
        for name in ("SignalOptDown", "SignalOptSchedulerNotRunning",
                     "SignalOptScheduleOverdue", "SignalOptDetectorDataStale",
                     "SignalOptStorageDown"):  # fmt: skip
            assert states[name] == "inactive", (name, states)
        # the expressions the alerts rest on have data (not silently absent)
        for expr in (
            "max by (network) (signal_opt_detector_data_age_seconds)",
            "max by (network) (signal_opt_scheduler_next_run_timestamp_seconds)",
            "sum(signal_opt_scheduler_running)",
            "max by (network) (signal_opt_holds_active)",
        ):
            assert _query(prom, expr)["result"], expr
