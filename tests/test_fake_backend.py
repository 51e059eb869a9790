"""The driver's transitions and the controllers' whole paths, on a fake simulation.

:class:`signal_opt.sumo.fake.FakeSumo` answers the calls a connection gets, with a crude
queue model; the harness's own loop, driver, detector reader, kernel, retiming and
safety monitor run unchanged, in well under a second of simulated-hour-scale work each.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from signal_opt.controllers.adaptive import AdaptiveController, AdaptiveSettings
from signal_opt.controllers.base import Controller
from signal_opt.controllers.kernel import FreeSettings
from signal_opt.controllers.max_pressure import MaxPressureController
from signal_opt.model import Plan, check_plan
from signal_opt.sumo.fake import run_fake
from signal_opt.sumo.safety import SafetyMonitor

NET = Path(__file__).resolve().parents[1] / "networks/yizhuang_core"
NET_FILE, DETECTORS = NET / "yizhuang_core.net.xml", NET / "yizhuang_core.det.add.xml"


class _Watch:
    """A safety monitor per run (every step checked)."""

    def __init__(self) -> None:
        self.monitors: list[SafetyMonitor] = []

    def __call__(self, sim):
        self.monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        return self.monitors[-1]


class RandomModes(Controller):
    """Moves every light between free mode (random stages, with and without walks) and
    plan mode (random valid plans with random offsets) at random times."""

    name = "random-modes"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.to_free = self.to_plan = 0

    def start(self, sim) -> None:
        self.driver = sim.drive()

    def step(self, sim, t: float) -> float:
        for x in sim.intersections:
            free = bool(self.driver.free[self.driver.lights[x.id].index])
            if self.rng.random() < 1 / 90:
                if free:
                    mins = [s.min_green for s in x.stages]
                    room = x.cycle_max - sum(mins) - x.lost_time  # within the cycle bounds
                    extra = self.rng.dirichlet(np.ones(len(mins))) * self.rng.uniform(0, room)
                    greens = tuple(float(m + e) for m, e in zip(mins, extra))
                    cycle = sum(greens) + x.lost_time
                    if cycle < x.cycle_min:
                        greens = (greens[0] + x.cycle_min - cycle, *greens[1:])
                        cycle = x.cycle_min
                    offset = float(self.rng.uniform(0, cycle))
                    self.driver.request(Plan(x.id, cycle, greens, offset, source="random"))
                    self.to_plan += 1
                else:
                    self.driver.set_free(x.id)
                    self.to_free += 1
            elif free and self.rng.random() < 0.2:
                stage = int(self.rng.integers(len(x.stages)))
                self.driver.request_stage(x.id, stage, walk=bool(self.rng.random() < 0.5))
        return t + 1


def test_driver_transitions_are_safe_on_a_fake_simulation(tmp_path):
    watch = _Watch()
    ctl = RandomModes(seed=4)
    _, fake = run_fake(ctl, NET_FILE, DETECTORS, tmp_path, 3600, monitors=[watch], rate=0.1)
    monitor = watch.monitors[0]
    assert monitor.violations == []
    assert monitor.signal_steps >= 3600 * 16
    assert ctl.to_free > 100 and ctl.to_plan > 100
    assert fake.changes > 3000  # the lights really changed


def test_adaptive_retimes_and_serves_demand_on_a_fake_simulation(tmp_path):
    watch = _Watch()
    settings = AdaptiveSettings(interval=300.0, first_retiming=300.0)
    ctl = AdaptiveController(settings=settings)
    sim, fake = run_fake(ctl, NET_FILE, DETECTORS, tmp_path, 1500, monitors=[watch], rate=0.12)
    assert watch.monitors[0].violations == []
    assert ctl.retimings == 5  # at 300, 600, ... 1500 s
    by_id = {x.id: x for x in sim.intersections}
    rows = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
    retimed = [r for r in rows if r["time"] > 0]
    assert len(retimed) == 5 * len(by_id)
    for r in retimed:
        x = by_id[r["intersection"]]
        cycle = sum(r["greens"]) + x.lost_time  # plans.jsonl rounds to 0.01 s
        assert abs(cycle - r["cycle"]) < 0.05
        plan = Plan(x.id, cycle, tuple(r["greens"]), r["offset"] % cycle, r["source"])
        check_plan(x, plan, tol=0.05)
    # free operation switched stages on demand, and queues did not grow without bound
    assert fake.changes > 16 * 1500 / 60
    assert fake.queue.max() < 60


def test_max_pressure_on_a_fake_simulation(tmp_path):
    watch = _Watch()
    ctl = MaxPressureController()
    _, fake = run_fake(ctl, NET_FILE, DETECTORS, tmp_path, 1200, monitors=[watch], rate=0.12)
    assert watch.monitors[0].violations == []
    assert fake.changes > 16 * 1200 / 90


def test_change_limits_are_measured_from_the_plan_in_force(tmp_path):
    """Under sustained heavy demand each retiming may move a cycle by at most the change
    limit from the plan the signal runs now, and successive retimings keep moving it:
    the cycle is not held within the limit of the network's own program all day."""
    settings = AdaptiveSettings(interval=300.0, first_retiming=300.0)
    ctl = AdaptiveController(settings=settings)
    sim, _ = run_fake(ctl, NET_FILE, DETECTORS, tmp_path, 2400, rate=0.25)
    rows = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
    limit = settings.max_cycle_change
    moved_past = 0
    for x in sim.intersections:
        cycles = [r["cycle"] for r in rows if r["intersection"] == x.id]
        assert len(cycles) == 9  # the base plan, then 8 retimings
        steps = [abs(b - a) for a, b in itertools.pairwise(cycles)]
        assert max(steps) <= limit + 0.05, (x.id, cycles)
        moved_past += max(cycles) > x.base_cycle + limit + 0.05
    assert moved_past == len(sim.intersections)


def test_adaptive_reading_only_what_it_needs_decides_as_reading_everything(tmp_path, monkeypatch):
    """Each step adaptive reads only the detectors its decisions use (the zones of the
    signals that may change stage; the standing vehicles and gaps of the greens of those
    for which someone waits elsewhere, ...); reading every detector every step must give
    the very same stages, step by step."""
    import signal_opt.controllers.adaptive as adaptive

    def stages(folder: Path) -> np.ndarray:
        shown: list[np.ndarray] = []

        def record(sim):
            return lambda t: shown.append(sim.driver.stage.copy())

        free = replace(FreeSettings(), exit_blocking=True, saturated_share=0.5)
        ctl = AdaptiveController(settings=AdaptiveSettings(interval=300.0, free=free))
        run_fake(ctl, NET_FILE, DETECTORS, folder, 900, monitors=[record], rate=0.15)
        return np.array(shown)  # (steps, N)

    needed = stages(tmp_path / "needed")
    monkeypatch.setattr(adaptive, "first_zones", lambda layout, *a: np.arange(len(layout.zone_ids)))
    monkeypatch.setattr(adaptive, "detail_rows", lambda *a: (np.arange(0), None, None))
    everything = stages(tmp_path / "everything")
    assert needed.shape == everything.shape and needed.shape[0] >= 899
    assert (needed == everything).all()
    assert len(np.unique(needed)) > 3  # stages really changed


def test_adaptive_marks_signals_congested_from_interval_queues(tmp_path):
    """A signal counts as congested when, in the last minute, a queue reached past one
    of its queue zones: never under light demand, at some signals under demand the
    signals cannot serve. Holding saturated greens there stays safe."""
    congested = {}
    for name, rate in (("light", 0.02), ("heavy", 0.5)):
        watch = _Watch()
        free = replace(FreeSettings(), saturated_share=0.5)
        ctl = AdaptiveController(settings=AdaptiveSettings(interval=300.0, free=free))
        run_fake(ctl, NET_FILE, DETECTORS, tmp_path / name, 900, monitors=[watch], rate=rate)
        assert watch.monitors[0].violations == []
        congested[name] = int(ctl.state.congested.sum())
    assert congested["light"] == 0
    assert congested["heavy"] > 0
