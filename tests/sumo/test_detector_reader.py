"""The per-step detector values agree with SUMO's own counts, read in process (libsumo,
one getter per detector) and over a socket (TraCI subscriptions) alike."""

from __future__ import annotations

import numpy as np
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
        self.zones = [s.id for s in sim.ctx.detectors if s.kind == "queue"]
        self.loops = [s.id for s in sim.ctx.detectors if s.kind == "stopline"]
        self.summed = np.zeros(len(self.loops))
        self.own = np.zeros(len(self.loops))
        self.periods = self.steps_with_queue = 0
        self.rows: list[np.ndarray] = []
        self.ids = [s.id for s in sim.ctx.detectors]
        self.intervals: list[np.ndarray] = []

    def step(self, sim, t):
        counts = self.reader.queue_counts(self.zones)
        halting, gaps, passed = self.reader.read_arrays(self.zones, self.loops)
        self.summed += passed
        assert ((halting >= 0) & (halting <= counts)).all() and (gaps >= 0).all()
        self.steps_with_queue += bool(halting.any())
        self.rows.append(np.concatenate([counts, halting, gaps, passed]))
        if t + 1e-9 >= self.next_close:
            every = self.reader.last_interval(self.ids)  # (3, D)
            self.intervals.append(every)
            self.own += self.reader.last_interval(self.loops)[0]
            assert np.abs(self.summed - self.own).max() <= 1, t
            self.periods += 1
            self.next_close += self.period
        return t + 1.0


@pytest.fixture(scope="module")
def readings(tmp_path_factory):
    """The same 900 s read in process and over a socket."""
    d = tmp_path_factory.mktemp("reader")
    sc = bundled("yizhuang_corridor", d / "demand", scale=1.0, seed=1).with_window(0, 900)
    out = {}
    for backend in ("libsumo", "traci"):
        c = ReadEveryStep()
        run(sc, c, d / backend, backend=backend, progress=False)
        out[backend] = c
    return out


def test_per_step_passages_add_up_to_each_loops_interval_counts(readings):
    for c in readings.values():
        assert c.periods >= 14
        assert c.own.sum() > 250  # checked on real traffic
        assert c.steps_with_queue > 100


def test_getters_and_subscriptions_read_the_same_values(readings):
    a, b = np.array(readings["libsumo"].rows), np.array(readings["traci"].rows)
    assert a.shape == b.shape and a.shape[0] >= 899
    assert (a == b).all()
    a, b = np.array(readings["libsumo"].intervals), np.array(readings["traci"].intervals)
    assert a.shape == b.shape and a.shape[0] >= 14
    assert np.isfinite(a).all() and (a == b).all()  # every detector read, the same values
    assert ((a[:, 1] >= 0) & (a[:, 1] <= 100)).all() and a[:, 2].max() > 0  # queues seen
