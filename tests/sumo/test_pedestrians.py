"""Pedestrians under the adaptive controller: walks on push-button call, in full, in time."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from signal_opt.controllers.adaptive import AdaptiveController
from signal_opt.controllers.kernel import FreeSettings
from signal_opt.sumo.network import read_net
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import bundled
from signal_opt.sumo.simulation import run

pytestmark = pytest.mark.sumo

SIGNAL = "RJE-BX2"
"""Where the pedestrians cross: Rongjing East St (the arterial) at Boxing 2nd Rd."""


class WalkWatch:
    """Counts the steps ``SIGNAL`` shows a stage with its walk and without it."""

    def __init__(self, sim):
        self.conn = sim.conn
        self.x = next(x for x in sim.intersections if x.id == SIGNAL)
        staged = [
            s.state for s in self.x.stages if any(s.state[i] == "G" for i in self.x.crossings)
        ]
        self.full = set(staged)
        self.no_walk = {self.x.without_walk(s) for s in staged}
        self.walk_steps = self.no_walk_steps = 0

    def __call__(self, t: float) -> None:
        state = self.conn.trafficlight.getRedYellowGreenState(SIGNAL)
        self.walk_steps += state in self.full
        self.no_walk_steps += state in self.no_walk


def _persons(net_file: Path, path: Path, end: float) -> Path:
    """People walking north on Boxing 2nd Rd across the arterial, one every 40 s."""
    net = read_net(net_file)
    start = net.getEdge("BX2_N0").getLength() - 30.0
    path.write_text(
        "<routes>\n"
        f'  <personFlow id="north" begin="0" end="{end}" period="40" departPos="{start:.1f}">\n'
        '    <walk from="BX2_N0" to="BX2_N1" arrivalPos="20"/>\n'
        "  </personFlow>\n"
        "</routes>\n"
    )
    return path


def test_walks_come_on_call_in_full_and_in_time(tmp_path):
    sc = bundled("yizhuang_corridor", tmp_path / "demand", scale=1.0, seed=1).with_window(0, 1500)
    persons = _persons(sc.net_file, tmp_path / "persons.rou.xml", end=900)
    sc = replace(sc, route_files=(*sc.route_files, persons))
    monitors: list = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        monitors.append(WalkWatch(sim))
        return lambda t: [m(t) for m in monitors]

    ctl = AdaptiveController()
    metrics = run(sc, ctl, tmp_path, monitors=[attach], progress=False)
    safety, watch = monitors
    # full pedestrian times and intergreens, no conflicting greens (the monitor's rules)
    assert safety.violations == []
    assert metrics.vehicles_arrived > 0
    # every pedestrian crossed, none waited past the limit (plus one intergreen)
    walks = [
        float(w.get("timeLoss"))
        for p in ET.parse(tmp_path / "tripinfo.xml").getroot().iter("personinfo")
        for w in p.iter("walk")
        if float(w.get("arrival", -1)) >= 0
    ]
    assert len(walks) >= 20
    limit = FreeSettings().max_ped_wait + max(s.intergreen_time for s in watch.x.stages) + 5
    assert max(walks) <= limit
    # the walk ran when called, and the same stage ran without it when nobody was there
    assert watch.walk_steps > 0
    assert watch.no_walk_steps > 0


def test_pedestrian_recall_runs_every_walk(tmp_path):
    """With recall (no push buttons needed) a stage never runs without its walk."""
    sc = bundled("yizhuang_corridor", tmp_path / "demand", scale=1.0, seed=1).with_window(0, 600)
    monitors: list = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        monitors.append(WalkWatch(sim))
        return lambda t: [m(t) for m in monitors]

    ctl = AdaptiveController(pedestrian_recall=True)
    run(sc, ctl, tmp_path, monitors=[attach], progress=False)
    safety, watch = monitors
    assert safety.violations == []
    assert watch.walk_steps > 0
    assert watch.no_walk_steps == 0
