"""The per-step detector values read through subscriptions agree with SUMO's own counts."""

from __future__ import annotations

import pytest

from signal_opt.controllers.base import Controller
from signal_opt.sumo.scenario import bundled
from signal_opt.sumo.simulation import run

pytestmark = pytest.mark.sumo


class ReadEveryStep(Controller):
    """Leaves the signals to SUMO; adds up each stop-line loop's per-step passages and
    compares the running total, period by period, with the sum of the loop's own
    interval counts.

    A vehicle standing on the loop as a period ends (the head of a queue at red) is
    counted by SUMO in the period it leaves and by the per-step count in the one it
    arrives, so the totals may differ by that one vehicle, never more."""

    name = "read-every-step"

    def start(self, sim):
        self.reader = sim.read_detectors(per_step=True, intervals=True, gaps=True)
        self.period = min(float(s.period) for s in sim.ctx.detectors)
        self.next_close = sim.conn.simulation.getTime() + self.period
        self.summed: dict[str, int] = {}
        self.own: dict[str, float] = {}
        self.periods = self.steps_with_queue = 0

    def step(self, sim, t):
        now = self.reader.read_step()
        for d, n in now.passed.items():
            self.summed[d] = self.summed.get(d, 0) + n
        counts, halting = now.counts, now.halting
        assert counts == self.reader.queue_vehicles()
        assert counts.keys() == halting.keys() and now.gaps.keys() == now.passed.keys()
        assert all(0 <= halting[d] <= counts[d] for d in counts)
        self.steps_with_queue += any(halting.values())
        if t + 1e-9 >= self.next_close:
            for d, r in self.reader.last_interval().items():
                if d in self.summed:
                    self.own[d] = self.own.get(d, 0.0) + r.count
                    assert abs(self.summed[d] - self.own[d]) <= 1, (d, t)
            self.periods += 1
            self.next_close += self.period
        return t + 1.0


def test_per_step_passages_add_up_to_each_loops_interval_counts(tmp_path):
    sc = bundled("yizhuang_corridor", tmp_path / "demand", scale=1.0, seed=1).with_window(0, 900)
    c = ReadEveryStep()
    run(sc, c, tmp_path / "run", progress=False)
    assert c.periods >= 14
    assert sum(c.own.values()) > 250  # checked on real traffic
    assert c.steps_with_queue > 100
