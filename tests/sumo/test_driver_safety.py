"""Plan changes at run time keep yellow and all-red and never show conflicting greens."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signal_opt.controllers.base import Controller
from signal_opt.model import Plan
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import run

pytestmark = pytest.mark.sumo


class RandomPlans(Controller):
    """Asks for a new random (valid) plan with a random offset every 97 s."""

    name = "random-plans"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.requested = 0

    def start(self, sim) -> None:
        sim.drive()

    def step(self, sim, t: float) -> float:
        if int(t) % 97 == 0:
            for x in sim.intersections:
                mins = np.array([s.min_green for s in x.stages])
                extra = self.rng.uniform(0, 40, len(mins))
                greens_l = [float(v) for v in np.ceil(mins + extra)]
                greens_l[0] += max(0.0, x.cycle_min - sum(greens_l) - x.lost_time)
                greens = tuple(greens_l)
                cycle = sum(greens) + x.lost_time
                offset = float(self.rng.uniform(0, cycle))
                sim.driver.request(Plan(x.id, cycle, greens, offset, source="random"))
                self.requested += 1
        return t + 1


class Rogue(Controller):
    """Breaks the rules on purpose: cuts greens straight to red, to prove the monitor works."""

    name = "rogue"

    def step(self, sim, t: float) -> float:
        if int(t) % 10 == 0:
            for x in sim.intersections:
                state = x.stages[int(t // 10) % len(x.stages)].state
                sim.conn.trafficlight.setRedYellowGreenState(x.id, state)
        return t + 1


def _monitored(scenario, controller, out):
    monitors: list[SafetyMonitor] = []

    def attach(sim):
        m = SafetyMonitor(sim.intersections).attach(sim)
        monitors.append(m)
        return m

    metrics = run(scenario, controller, out, monitors=[attach], progress=False)
    return metrics, monitors[0]


def test_plan_changes_are_safe(foreign_scenario, tmp_path):
    sc = from_sumocfg(foreign_scenario).with_window(0, 900)
    ctl = RandomPlans()
    metrics, monitor = _monitored(sc, ctl, tmp_path)
    assert ctl.requested > 0
    assert monitor.steps >= 899
    assert monitor.violations == []
    applied = (tmp_path / "plans.jsonl").read_text().splitlines()
    assert len(applied) > 6, "plans must actually be applied at cycle boundaries"
    assert metrics.vehicles_arrived > 0


def test_monitor_catches_unsafe_switching(foreign_scenario, tmp_path):
    sc = from_sumocfg(foreign_scenario).with_window(0, 200)
    _, monitor = _monitored(sc, Rogue(), tmp_path)
    assert any("without yellow" in v for v in monitor.violations)


def test_offset_is_reached_over_several_cycles(foreign_scenario, tmp_path):
    """A new offset is approached by bounded cycle changes, then held exactly."""

    class OneChange(Controller):
        name = "one-change"

        def start(self, sim):
            self.driver = sim.drive()
            x = sim.intersections[0]
            base = x.base_plan()
            self.target = Plan(x.id, base.cycle, base.greens, offset=base.cycle / 2, source="t")
            self.driver.request(self.target)
            self.starts: list[float] = []

        def step(self, sim, t):
            light = self.driver.lights[self.target.intersection_id]
            if light.position == 0 and (not self.starts or self.starts[-1] != light.cycle_start):
                self.starts.append(light.cycle_start)
            return t + 1

    ctl = OneChange()
    sc = from_sumocfg(foreign_scenario).with_window(0, 900)
    run(sc, ctl, tmp_path, progress=False)
    cycle = ctl.target.cycle
    lengths = np.diff(ctl.starts)
    assert len(lengths) > 4
    # no cycle is stretched by more than 20 % or squeezed by more than 15 %
    assert lengths.max() <= cycle * 1.2 + 1 and lengths.min() >= cycle * 0.85 - 1
    # ...and at the end cycles start on the requested offset
    assert math.isclose(
        (ctl.starts[-1] - ctl.target.offset) % cycle, 0, abs_tol=1.0
    ) or math.isclose((ctl.starts[-1] - ctl.target.offset) % cycle, cycle, abs_tol=1.0)
