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


class RandomModes(Controller):
    """Moves every light between free mode (random stages) and plan mode at random times."""

    name = "random-modes"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.to_free = 0
        self.to_plan = 0
        self.greens_after_free: list[bool] = []

    def start(self, sim) -> None:
        self.driver = sim.drive()
        self.free_since: dict[str, float] = {}

    def step(self, sim, t: float) -> float:
        for x in sim.intersections:
            free = bool(self.driver.free[self.driver.lights[x.id].index])
            if self.rng.random() < 1 / 60:
                if free:
                    self.driver.request(x.base_plan())
                    self.free_since.pop(x.id, None)
                    self.to_plan += 1
                else:
                    self.driver.set_free(x.id)
                    self.free_since[x.id] = t
                    self.to_free += 1
            elif free and self.rng.random() < 0.2:
                self.driver.request_stage(x.id, int(self.rng.integers(len(x.stages))))
            since = self.free_since.get(x.id)
            # a free light rests in a green, never in a yellow or all-red
            if since is not None and t - since > sum(s.intergreen_time for s in x.stages) + 1:
                stage, _ = self.driver.current_stage(x.id)
                state = sim.conn.trafficlight.getRedYellowGreenState(x.id)
                self.greens_after_free.append(stage >= 0 or "y" in state.lower())
        return t + 1


def test_switching_between_free_and_plan_mode_is_safe(foreign_scenario, tmp_path):
    """Free -> plan clears into the plan's first stage; plan -> free never rests on red."""
    sc = from_sumocfg(foreign_scenario).with_window(0, 1800)
    ctl = RandomModes()
    metrics, monitor = _monitored(sc, ctl, tmp_path)
    assert ctl.to_free > 5 and ctl.to_plan > 5
    assert monitor.violations == []
    assert ctl.greens_after_free and all(ctl.greens_after_free)
    assert metrics.vehicles_arrived > 0


class FreeOnly(Controller):
    """Sets every light free at take-over and never asks for a stage; records the stage
    each light shows at every step (-1 in an intergreen)."""

    name = "free-only"

    def start(self, sim):
        self.driver = sim.drive()
        for tls_id in self.driver.lights:
            self.driver.set_free(tls_id)
        self.stages: dict[str, list[int]] = {tls_id: [] for tls_id in self.driver.lights}

    def step(self, sim, t):
        for tls_id, shown in self.stages.items():
            shown.append(self.driver.current_stage(tls_id)[0])
        return t + 1


def test_free_light_without_requests_ends_in_a_green(foreign_scenario, tmp_path):
    """Set free mid-cycle and never asked for a stage: the light must not stay in all-red."""
    ctl = FreeOnly()
    sc = from_sumocfg(foreign_scenario).with_window(0, 400)
    _, monitor = _monitored(sc, ctl, tmp_path)
    assert monitor.violations == []
    assert all(s >= 0 for shown in ctl.stages.values() for s in shown[-50:]), (
        "a free light rests in a green"
    )


def test_free_light_keeps_its_green_until_asked(foreign_scenario, tmp_path):
    """Free from take-over, never asked for a stage: the first green shown stays green
    (the rest of the network's cycle is not run behind the controller's back)."""
    ctl = FreeOnly()
    sc = from_sumocfg(foreign_scenario).with_window(0, 400)
    _, monitor = _monitored(sc, ctl, tmp_path)
    assert monitor.violations == []
    greens = {tls_id: {s for s in shown if s >= 0} for tls_id, shown in ctl.stages.items()}
    assert all(len(g) == 1 for g in greens.values()), greens
