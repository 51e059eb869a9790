"""/metrics: every metric is exposed, values are exact, and the dashboard queries only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import NETWORK, REPO

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def _exposed(client: TestClient) -> dict[str, str]:
    """Every series name /metrics can carry -> its family's type."""
    text = client.get("/metrics").text
    names: dict[str, str] = {}
    for fam in text_string_to_metric_families(text):
        names[fam.name] = fam.type
        for suffix in SUFFIXES.get(fam.type, ("",)):
            names[fam.name + suffix] = fam.type
    return names


def _sample(client: TestClient, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(client.get("/metrics").text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def test_families_and_exact_values(client: TestClient, operator: dict[str, str]) -> None:
    names = _exposed(client)
    for family in (
        "signal_opt_build_info",
        "signal_opt_http_request_duration_seconds",
        "signal_opt_retiming_runs",
        "signal_opt_retiming_intersections",
        "signal_opt_retiming_optimization_duration_seconds",
        "signal_opt_retiming_fallback_intersections",
        "signal_opt_detector_faults",
        "signal_opt_detector_faulty_detectors",
        "signal_opt_plan_cycle_seconds",
        "signal_opt_plan_degree_of_saturation_ratio",
        "signal_opt_detector_readings",
        "signal_opt_scheduler_last_run_timestamp_seconds",
        "signal_opt_scheduler_errors",
    ):
        assert family in names, family
    xs = client.app.state.service.network(NETWORK).intersections
    x = xs[0]
    # cycle gauges start at every intersection's base cycle
    assert _sample(client, "signal_opt_plan_cycle_seconds", intersection=x.id) == x.base_cycle
    demand = {g.id: 200.0 for g in x.lane_groups}
    plan = client.post(
        f"/v1/networks/{NETWORK}/intersections/{x.id}/retime",
        headers=operator,
        json={"demand": demand},
    ).json()["plans"][0]
    assert _sample(client, "signal_opt_plan_cycle_seconds", intersection=x.id) == plan["cycle_s"]
    dos = _sample(client, "signal_opt_plan_degree_of_saturation_ratio", intersection=x.id)
    assert dos == max(plan["degree_of_saturation"].values())
    assert (
        _sample(
            client, "signal_opt_retiming_runs_total", network=NETWORK, trigger="api", outcome="ok"
        )
        == 1.0
    )
    assert _sample(client, "signal_opt_retiming_intersections_total", outcome="optimized") == 1.0
    assert _sample(client, "signal_opt_retiming_optimization_duration_seconds_count") == 1.0
    # no detector data: a fallback, counted
    client.post(f"/v1/networks/{NETWORK}/intersections/{xs[1].id}/retime", headers=operator)
    assert _sample(client, "signal_opt_retiming_fallback_intersections", network=NETWORK) == 1.0
    route = "/v1/networks/{network}/intersections/{intersection_id}/retime"
    assert (
        _sample(
            client,
            "signal_opt_http_request_duration_seconds_count",
            route=route,
            method="POST",
            status="200",
        )
        == 2.0
    )
    client.get("/no/such/path")
    assert (
        _sample(
            client,
            "signal_opt_http_request_duration_seconds_count",
            route="unmatched",
            status="404",
        )
        == 1.0
    )


def test_per_intersection_series_are_bounded(make_client, settings) -> None:  # type: ignore[no-untyped-def]
    client = make_client(settings=settings.model_copy(update={"metrics_max_intersections": 3}))
    text = client.get("/metrics").text
    assert text.count("signal_opt_plan_cycle_seconds{") == 3


def _dashboard_metrics(path: Path) -> set[str]:
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str):
                    found.update(re.findall(r"\bsignal_opt_[a-z0-9_]+", value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(path.read_text()))
    return found


def test_every_dashboard_metric_is_exposed(client: TestClient) -> None:
    dashboards = sorted((REPO / "configs" / "grafana" / "dashboards").glob("*.json"))
    assert dashboards
    exposed = _exposed(client)
    for path in dashboards:
        queried = _dashboard_metrics(path)
        assert len(queried) >= 10, f"{path.name} queries too few signal-opt metrics"
        missing = sorted(queried - set(exposed))
        assert not missing, f"{path.name} queries metrics the service does not expose: {missing}"
        panels = json.loads(path.read_text())["panels"]
        assert all(p.get("targets") for p in panels), "a panel without a query"
