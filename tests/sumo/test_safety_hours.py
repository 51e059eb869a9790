"""No conflicting greens over simulated hours of adaptive control on every bundled network.

Every step of every signal is checked by :class:`SafetyMonitor` against the junction's
foe relations, yellow, all-red and minimum green.
"""

from __future__ import annotations

import json

import pytest

from signal_opt.controllers.adaptive import AdaptiveController
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import DEFAULT_DAY_SECONDS, bundled, bundled_networks
from signal_opt.sumo.simulation import run

SIMULATED_SECONDS = {
    "yizhuang_core": DEFAULT_DAY_SECONDS,  # the whole compressed day: 4 h
    "yizhuang_corridor": DEFAULT_DAY_SECONDS,
    "yizhuang_district": 7200.0,  # 100 signals: 2 h, the morning peak and the midday
}
"""Simulated seconds per bundled network (at least 2 h each)."""


def test_every_bundled_network_is_covered():
    assert set(SIMULATED_SECONDS) == set(bundled_networks())
    assert min(SIMULATED_SECONDS.values()) >= 7200.0


@pytest.mark.slow
@pytest.mark.sumo
@pytest.mark.parametrize("network", sorted(SIMULATED_SECONDS))
def test_no_conflicting_greens_over_hours_of_adaptive_control(network, tmp_path):
    seconds = SIMULATED_SECONDS[network]
    sc = bundled(network, tmp_path / "demand", scale=1.0, seed=0).with_window(0, seconds)
    ctl = AdaptiveController()
    monitors: list[SafetyMonitor] = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        return monitors[-1]

    metrics = run(sc, ctl, tmp_path, monitors=[attach], progress=False)
    monitor = monitors[0]
    print(
        f"\n{network}: {seconds:.0f} s simulated, {len(monitor.watch)} signals, "
        f"{monitor.steps} steps and {monitor.signal_steps} signal-steps checked, "
        f"{len(monitor.violations)} violations, {ctl.retimings} retimings, "
        f"wall {metrics.sim_wall_s:.0f} s"
    )
    assert monitor.violations == [], monitor.violations[:20]
    # every step of every signal was looked at
    assert monitor.steps >= seconds - 1
    assert monitor.signal_steps >= monitor.steps * len(monitor.watch)
    # ...while adaptive control was really retiming them
    assert ctl.retimings >= (seconds - 300.0) // 640.0
    plans = [json.loads(line) for line in (tmp_path / "plans.jsonl").read_text().splitlines()]
    retimed = {p["intersection"] for p in plans if p["source"] == "adaptive"}
    assert len(retimed) == len(monitor.watch), "every signal must have run retimed plans"
    assert metrics.vehicles_arrived > 0
