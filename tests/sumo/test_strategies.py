"""Every strategy runs a short simulation of a network nobody here wrote, safely."""

from __future__ import annotations

import json

import pytest

from signal_opt.model import Plan, check_plan
from signal_opt.strategies import STRATEGIES, make_controller
from signal_opt.sumo.network import load_intersections
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import run

pytestmark = pytest.mark.sumo


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_runs_safely(strategy, foreign_scenario, tmp_path):
    sc = from_sumocfg(foreign_scenario).with_window(0, 600)
    monitors: list[SafetyMonitor] = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        return monitors[-1]

    metrics = run(sc, make_controller(strategy), tmp_path, monitors=[attach], progress=False)
    assert monitors[0].violations == []
    assert metrics.vehicles_arrived > 0
    assert metrics.vehicles_loaded == metrics.vehicles_inserted + metrics.vehicles_never_inserted
    # every plan logged is one the intersection's rules allow
    by_id = {x.id: x for x in load_intersections(sc.net_file)}
    rows = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
    for r in rows:
        check_plan(
            by_id[r["intersection"]],
            Plan(r["intersection"], r["cycle"], tuple(r["greens"]), r["offset"], r["source"]),
        )
    assert json.loads((tmp_path / "metrics.json").read_text())["mean_time_loss_s"] >= 0
