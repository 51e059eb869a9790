"""Flow conservation on links between signals: where each link is entered, and demand
that keeps rising when a queue spills past the advance loops."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sumolib

from signal_opt.detectors import DemandEstimator
from signal_opt.sumo.coordination import link_entries
from signal_opt.sumo.detectors import place_exit_zones
from signal_opt.sumo.network import load_intersections, read_net
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import run
from signal_opt.sumo.strategies.fixed import FixedController

pytestmark = pytest.mark.sumo

PERIOD = 540
"""Seconds of each estimate in the corridor test."""

DEMAND = 600.0
"""Vehicles per hour from the west edge through both signals to the east edge."""


def _exits(net) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in place_exit_zones(net):
        out.setdefault(spec.lane, []).append(spec.id)
    return out


def test_a_link_between_signals_is_entered_at_the_upstream_exit_zones(turn_lane_scenario):
    """Every lane of the approach between the two signals, its left-turn bay included,
    is entered where the upstream signal's exit zones are; approaches from the network's
    edge have no seen entry."""
    net = read_net(turn_lane_scenario.parent / "turns.net.xml")
    xs = load_intersections(net)
    entries = link_entries(net, xs, _exits(net))
    between = {
        x.id: sorted(lk.from_lane for lk in x.links if lk.from_edge.startswith(("A0B0", "B0A0")))
        for x in xs
    }
    assert between["B0"] and between["A0"]
    for lane in between["B0"]:
        assert entries[lane] == ("x_A0B0_0", "x_A0B0_1")
    for lane in between["A0"]:
        assert entries[lane] == ("x_B0A0_0", "x_B0A0_1")
    fringe = {lk.from_lane for x in xs for lk in x.links if not lk.is_crossing}
    fringe -= set(between["A0"]) | set(between["B0"])
    assert fringe and not fringe & set(entries)


def test_a_u_turn_at_the_network_edge_is_no_way_in(tmp_path):
    """A lone signal whose approaches start at dead ends where vehicles may turn round
    (netgenerate's default): what reaches its approaches comes from the network's edge
    or back from its own exits, never from another signal, so no approach has an entry."""
    net_file = tmp_path / "lone.net.xml"
    options = ["--grid", "--grid.x-number", "1", "--grid.y-number", "1"]
    options += ["--grid.attach-length", "200", "--default.lanenumber", "2", "--tls.guess", "true"]
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), *options, "-o", str(net_file)],
        check=True,
        capture_output=True,
    )
    net = read_net(net_file)
    xs = load_intersections(net)
    turnarounds = [
        c
        for e in net.getEdges()
        for conns in e.getOutgoing().values()
        for c in conns
        if c.getDirection() == "t"
    ]
    assert len(xs) == 1 and turnarounds
    assert link_entries(net, xs, _exits(net)) == {}


@pytest.fixture(scope="module")
def corridor(tmp_path_factory) -> Path:
    """Two signals 500 m apart with left-turn bays; 600 veh/h drive west to east through
    both, nothing else. Returns the .sumocfg."""
    d = tmp_path_factory.mktemp("corridor")
    options = ["--grid", "--grid.x-number", "2", "--grid.y-number", "1"]
    options += ["--grid.length", "500", "--grid.attach-length", "200"]
    options += ["--default.lanenumber", "2", "--turn-lanes", "1", "--turn-lanes.length", "60"]
    options += ["--tls.guess", "true", "--tls.left-green.time", "6", "--no-turnarounds", "true"]
    net = d / "c.net.xml"
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), *options, "-o", str(net), "--seed", "1"],
        check=True,
        capture_output=True,
    )
    (d / "c.rou.xml").write_text(
        '<routes><vType id="car" vClass="passenger"/>'
        f'<flow id="through" type="car" from="left0A0" to="B0right0" begin="0" end="1700"'
        f' vehsPerHour="{DEMAND:g}" departLane="best"/></routes>\n'
    )
    cfg = d / "c.sumocfg"
    cfg.write_text(
        '<configuration><input><net-file value="c.net.xml"/><route-files value="c.rou.xml"/>'
        '</input><time><begin value="0"/><end value="1700"/></time></configuration>\n'
    )
    return cfg


def test_arrivals_at_a_spilled_approach_match_the_route_demand(corridor, tmp_path):
    """The downstream signal gives the corridor its minimum green, so its queue grows
    past the advance loops within ten minutes (about 240 veh/h more arrive than it
    serves; the link would fill after about 35 minutes, when the run has ended) while the
    upstream signal passes everything. In each period after the spill (540 s: six cycles
    of the upstream signal, so that its platoons do not bias a count), the arrivals
    estimated for the approach are within 15 % of the 600 veh/h the routes send; without
    the entries counted they are what the stop line served."""
    net = read_net(corridor.parent / "c.net.xml")
    xs = {x.id: x for x in load_intersections(net)}
    b0 = xs["B0"]
    corridor_links = [lk.index for lk in b0.links if lk.from_edge.startswith("A0B0")]
    stage = next(k for k, s in enumerate(b0.stages) if s.state[corridor_links[0]] == "G")
    base = b0.base_plan()
    cut = base.greens[stage] - b0.stages[stage].min_green
    greens = [g - cut if k == stage else g for k, g in enumerate(base.greens)]
    plans = [
        {"intersection": "A0", **_plan(xs["A0"].base_plan())},
        {"intersection": "B0", "cycle": base.cycle - cut, "greens": greens, "offset": 0.0},
    ]
    plan_file = tmp_path / "plans.json"
    plan_file.write_text(json.dumps({"plans": plans}))
    through = next(
        g.id for g in b0.lane_groups if g.approach.startswith("A0B0") and g.movement == "through"
    )
    seen: list[tuple[float, float, float]] = []  # (time, arrivals with, without entries)

    def observe(sim):
        ctx = sim.ctx
        infos = ctx.detector_infos()
        with_entries = DemandEstimator(ctx.intersections, infos, entries=ctx.link_entries())
        without = DemandEstimator(ctx.intersections, infos)
        reader = sim.read_detectors(intervals=True)
        row = [x.id for x in ctx.intersections].index("B0")

        def hook(t: float) -> None:
            if t < 61 or (t - 1) % 60:
                return
            count, occupancy, jam = reader.last_interval(with_entries.ids)
            for est in (with_entries, without):
                est.add_arrays(count, occupancy, jam, 60.0)
            if (t - 1) % PERIOD == 0:
                a = with_entries.estimate().arrivals[row].get(through, float("nan"))
                b = without.estimate().arrivals[row].get(through, float("nan"))
                seen.append((t, a, b))

        return hook

    run(
        from_sumocfg(corridor),
        FixedController(plan_file),
        tmp_path / "run",
        monitors=[observe],
        progress=False,
    )
    late = [s for s in seen if s[0] >= 2 * PERIOD]
    assert len(late) == 2
    for t, with_entries, without in late:
        assert with_entries == pytest.approx(DEMAND, rel=0.15), f"at {t:.0f} s"
        assert without < 0.8 * DEMAND, f"at {t:.0f} s: the stop line alone should fall short"


def _plan(plan) -> dict:
    return {"cycle": plan.cycle, "greens": list(plan.greens), "offset": plan.offset}
