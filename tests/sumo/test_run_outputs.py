"""What a run leaves in its folder: the controller's figures in metrics.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signal_opt.controllers.base import Controller
from signal_opt.runs import format_table
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import run
from signal_opt.sweep.store import METRICS

pytestmark = pytest.mark.sumo


class Counting(Controller):
    """Does nothing to the signals; counts its calls and reports them as its summary."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def step(self, sim, t: float) -> float:
        self.calls += 1
        return t + 10.0

    def summary(self) -> dict[str, Any]:
        return {"calls": self.calls, "by_kind": {"a": 1}, "ids": ["x", "y"]}


def test_controller_summary_lands_in_metrics_json(foreign_scenario, tmp_path):
    sc = from_sumocfg(foreign_scenario).with_window(0, 120)
    ctl = Counting()
    metrics = run(sc, ctl, tmp_path, progress=False)
    assert ctl.calls >= 12
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["controller"] == {"calls": ctl.calls, "by_kind": {"a": 1}, "ids": ["x", "y"]}
    assert metrics.controller == saved["controller"]
    assert metrics.to_dict()["controller"] == saved["controller"]
    # the tables read the numbers only
    assert "controller" not in METRICS
    row = {"label": "counting", "scale": 1.0, **metrics.to_dict()}
    assert "counting" in format_table([row])


def test_a_strategy_without_figures_writes_an_empty_summary(foreign_scenario, tmp_path):
    sc = from_sumocfg(foreign_scenario).with_window(0, 60)
    run(sc, Controller(), tmp_path, progress=False)
    assert json.loads((tmp_path / "metrics.json").read_text())["controller"] == {}
