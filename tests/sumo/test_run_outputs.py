"""What a run leaves in its folder: the controller's figures in metrics.json, and what was
written before SUMO died when it dies mid-run."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import psutil
import pytest

from signal_opt.controllers.adaptive import AdaptiveController, AdaptiveSettings
from signal_opt.controllers.base import Controller
from signal_opt.runs import format_table
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import SimulationError, run
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


def test_sumo_killed_mid_run_gives_a_clear_error_and_keeps_the_outputs(foreign_scenario, tmp_path):
    """SUMO as its own process (socket TraCI), SIGKILLed 120 s into a 900 s run."""
    sc = from_sumocfg(foreign_scenario).with_window(0, 900)
    kill_at = sc.begin + 120
    killed: list[int] = []

    def sumo_children() -> list[psutil.Process]:
        return [p for p in psutil.Process().children() if p.name().startswith("sumo")]

    others = {p.pid for p in sumo_children()}

    def killer(sim):
        def hook(t: float) -> None:
            if t >= kill_at and not killed:
                sumo = [p for p in sumo_children() if p.pid not in others]
                assert len(sumo) == 1, f"expected one SUMO child process, found {sumo}"
                os.kill(sumo[0].pid, signal.SIGKILL)
                killed.append(sumo[0].pid)

        return hook

    ctl = AdaptiveController(settings=AdaptiveSettings(interval=60.0, first_retiming=60.0))
    (tmp_path / "metrics.json").write_text("{}")  # an earlier run's: must not survive
    with pytest.raises(SimulationError, match=r"SUMO stopped at t=120 s of a 0-900 s run") as err:
        run(sc, ctl, tmp_path, backend="traci", monitors=[killer], progress=False)
    assert killed
    assert "Connection closed by SUMO" in str(err.value)
    assert str(tmp_path) in str(err.value)
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == "zombie"
    # what was written before the kill is kept, line by line valid
    rows = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
    assert len(rows) > 0
    assert all(r["time"] <= kill_at for r in rows)
    assert ctl.retimings >= 1
    assert (tmp_path / "tripinfo.xml").is_file()
    # no metrics pretend the run finished; failed.json says what happened and when
    assert not (tmp_path / "metrics.json").exists()
    failed = json.loads((tmp_path / "failed.json").read_text())
    assert failed["sumo_stopped"] is True
    assert failed["sim_time_reached_s"] == kill_at
    assert (failed["begin_s"], failed["end_s"]) == (0.0, 900.0)
    assert failed["plans_logged"] == len(rows)
    assert failed["kept"] == ["plans.jsonl", "tripinfo.xml"]
    assert failed["controller"]["retimings"] == ctl.retimings
