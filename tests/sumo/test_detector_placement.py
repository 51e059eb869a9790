"""Detector auto-placement, writing, and classification of a scenario's own detectors."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumolib

from signal_opt.sumo.detectors import (
    ADVANCE_DISTANCE,
    ADVANCE_MARGIN,
    EXIT_ZONE,
    DetectorSpec,
    detectors_from_additional,
    place_detectors,
    place_exit_zones,
    write_detectors,
)
from signal_opt.sumo.network import load_intersections

NODES = """<nodes>
    <node id="C" x="0" y="0" type="traffic_light"/>
    <node id="W1" x="-60" y="0" type="priority"/>
    <node id="W2" x="-500" y="0" type="priority"/>
    <node id="E1" x="300" y="0" type="priority"/>
    <node id="N1" x="0" y="40" type="priority"/>
    <node id="N2" x="0" y="400" type="priority"/>
    <node id="S1" x="0" y="-22" type="priority"/>
</nodes>
"""
# w_near is short but fed by exactly one lane (a simple continuation); n_near is short and
# fed by two lanes; s_in is too short for an advance loop; e_in has a sidewalk, a bicycle
# lane and a bus lane.
EDGES = """<edges>
    <edge id="w_far" from="W2" to="W1" numLanes="1" speed="13.89"/>
    <edge id="w_near" from="W1" to="C" numLanes="1" speed="13.89"/>
    <edge id="c_w" from="C" to="W1" numLanes="1" speed="13.89"/>
    <edge id="w_out" from="W1" to="W2" numLanes="1" speed="13.89"/>
    <edge id="e_in" from="E1" to="C" numLanes="5" speed="13.89">
        <lane index="0" allow="pedestrian" width="2.5"/>
        <lane index="1" allow="bicycle" width="2.0"/>
        <lane index="2" allow="bus"/>
    </edge>
    <edge id="c_e" from="C" to="E1" numLanes="2" speed="13.89"/>
    <edge id="n_far" from="N2" to="N1" numLanes="2" speed="13.89"/>
    <edge id="n_near" from="N1" to="C" numLanes="1" speed="13.89"/>
    <edge id="c_n" from="C" to="N1" numLanes="1" speed="13.89"/>
    <edge id="n_out" from="N1" to="N2" numLanes="1" speed="13.89"/>
    <edge id="s_in" from="S1" to="C" numLanes="1" speed="13.89"/>
    <edge id="c_s" from="C" to="S1" numLanes="1" speed="13.89"/>
</edges>
"""
CONNECTIONS = """<connections>
    <connection from="n_far" to="n_near" fromLane="0" toLane="0"/>
    <connection from="n_far" to="n_near" fromLane="1" toLane="0"/>
</connections>
"""


def _netconvert(d: Path, nodes: str, edges: str, connections: str) -> Path:
    """``t.net.xml`` in ``d``, built by netconvert from the plain XML texts."""
    (d / "t.nod.xml").write_text(nodes)
    (d / "t.edg.xml").write_text(edges)
    (d / "t.con.xml").write_text(connections)
    subprocess.run(
        [
            sumolib.checkBinary("netconvert"), "-n", "t.nod.xml", "-e", "t.edg.xml",
            "-x", "t.con.xml", "--no-turnarounds", "true", "-o", "t.net.xml",
        ],
        cwd=d, check=True, capture_output=True,
    )  # fmt: skip
    return d / "t.net.xml"


@pytest.fixture(scope="module")
def net_file(tmp_path_factory) -> Path:
    return _netconvert(tmp_path_factory.mktemp("detnet"), NODES, EDGES, CONNECTIONS)


@pytest.fixture(scope="module")
def net(net_file: Path) -> sumolib.net.Net:
    return sumolib.net.readNet(str(net_file))


@pytest.fixture(scope="module")
def specs(net: sumolib.net.Net) -> list[DetectorSpec]:
    return place_detectors(net)


def _by_id(specs: list[DetectorSpec]) -> dict[str, DetectorSpec]:
    return {s.id: s for s in specs}


def test_every_car_and_bus_lane_gets_a_stopline_loop(specs, net) -> None:
    stop = {s.lane for s in specs if s.kind == "stopline"}
    # the bus lane too; not the bicycle lane nor the sidewalk
    assert stop == {"e_in_2", "e_in_3", "e_in_4", "w_near_0", "n_near_0", "s_in_0"}
    for s in specs:
        if s.kind == "stopline":
            gap = net.getLane(s.lane).getLength() - s.position
            assert 1.0 <= gap <= 2.0
            assert s.tls == "C" and s.incoming_lane == s.lane and s.period == 60.0


def test_car_and_bus_lanes_are_watched_bicycle_lanes_are_not(specs, net_file) -> None:
    """Every lane group's car and bus lanes have detectors (once a bus-only lane had none,
    and its group sent the whole signal to its base program for good); the bicycle lane
    has none, its cyclists are not counted as vehicles."""
    (x,) = load_intersections(net_file)
    watched = {s.incoming_lane for s in specs if s.tls == x.id}
    lanes = {lane for g in x.lane_groups for lane in g.lanes}
    assert {"e_in_1", "e_in_2"} <= lanes  # the bicycle and the bus lane
    assert lanes - watched == {"e_in_1"}


def test_every_car_lane_leaving_a_signal_gets_an_exit_zone(net, tmp_path) -> None:
    exits = place_exit_zones(net)
    assert {s.lane for s in exits} == {"c_w_0", "c_e_0", "c_e_1", "c_n_0", "c_s_0"}
    for s in exits:
        length = net.getLane(s.lane).getLength()
        assert s.kind == "exit" and s.id == f"x_{s.lane}" and s.tls == "C"
        assert s.position == 0.0 and s.length == pytest.approx(min(EXIT_ZONE, length - 0.1))
    # written as lane-area detectors SUMO loads, read back as the zones they are
    path = write_detectors(exits, tmp_path / "exits.add.xml")
    root = ET.parse(path).getroot()
    assert {e.get("id") for e in root.iter("laneAreaDetector")} == {s.id for s in exits}


def test_long_lane_layout(specs, net) -> None:
    d = _by_id(specs)
    length = net.getLane("e_in_3").getLength()
    adv, q = d["adv_e_in_3"], d["q_e_in_3"]
    assert adv.lane == "e_in_3"
    assert length - adv.position == pytest.approx(ADVANCE_DISTANCE)
    # the queue zone runs from the advance loop to the stop line
    assert q.kind == "queue" and q.position == pytest.approx(adv.position)
    assert q.position + q.length == pytest.approx(length - 0.1, abs=0.02)


def test_short_lane_follows_a_simple_upstream_lane(specs, net) -> None:
    d = _by_id(specs)
    near = net.getLane("w_near_0").getLength()
    far = net.getLane("w_far_0").getLength()
    adv = d["adv_w_near_0"]
    assert near < ADVANCE_DISTANCE
    assert adv.lane == "w_far_0" and adv.incoming_lane == "w_near_0"
    assert (far - adv.position) + near == pytest.approx(ADVANCE_DISTANCE, abs=0.02)
    q = d["q_w_near_0"]  # the queue zone reaches back over the feeding lane too
    assert q.lane == "w_near_0" and q.upstream_lanes == ("w_far_0",)
    assert q.position == pytest.approx(adv.position)
    assert q.length == pytest.approx(ADVANCE_DISTANCE - 0.1, abs=0.02)


def test_short_lane_fed_by_two_lanes_follows_one_of_them(specs, net) -> None:
    d = _by_id(specs)
    adv, q = d["adv_n_near_0"], d["q_n_near_0"]
    assert adv.lane in ("n_far_0", "n_far_1") and adv.incoming_lane == "n_near_0"
    assert q.upstream_lanes == (adv.lane,)
    assert q.length == pytest.approx(ADVANCE_DISTANCE - 0.1, abs=0.02)


def test_too_short_lane_only_has_a_stopline_loop(specs) -> None:
    kinds = {s.kind for s in specs if s.incoming_lane == "s_in_0"}
    assert kinds == {"stopline"}


def test_ids_are_unique_and_named_after_the_lane(specs) -> None:
    assert len({s.id for s in specs}) == len(specs)
    for s in specs:
        prefix = {"stopline": "sl_", "advance": "adv_", "queue": "q_"}[s.kind]
        assert s.id == prefix + s.incoming_lane


def test_filter_period_and_errors(net, net_file) -> None:
    assert place_detectors(net, tls_ids=[]) == []
    assert {s.period for s in place_detectors(net_file, tls_ids=["C"], period=30)} == {30.0}
    with pytest.raises(ValueError, match="'nope'"):
        place_detectors(net, tls_ids=["nope"])
    with pytest.raises(ValueError, match="positive"):
        place_detectors(net, period=0)
    with pytest.raises(FileNotFoundError, match=r"missing\.net\.xml"):
        place_detectors("missing.net.xml")


def test_write_then_read_back(specs, net, tmp_path) -> None:
    path = write_detectors(specs, tmp_path / "d.add.xml")
    root = ET.parse(path).getroot()
    e1 = root.findall("inductionLoop")
    e2 = root.findall("laneAreaDetector")
    assert len(e1) + len(e2) == len(specs)
    assert {el.get("file") for el in [*e1, *e2]} == {"NUL"}
    assert {el.get("period") for el in [*e1, *e2]} == {"60"}
    back = detectors_from_additional(path, net)
    assert [(s.id, s.kind, s.lane, s.incoming_lane, s.tls) for s in back] == [
        (s.id, s.kind, s.lane, s.incoming_lane, s.tls) for s in specs
    ]
    for a, b in zip(back, specs, strict=True):
        assert a.position == pytest.approx(b.position, abs=0.01)
        assert a.length == pytest.approx(b.length, abs=0.01)
        assert a.upstream_lanes == b.upstream_lanes


def test_classify_a_scenarios_own_detectors(net, tmp_path) -> None:
    add = tmp_path / "own.add.xml"
    add.write_text(
        """<additional>
    <inductionLoop id="a" lane="e_in_1" pos="-5" period="300" file="out.xml"/>
    <inductionLoop id="b" lane="e_in_2" pos="50" freq="120" file="out.xml"/>
    <e1Detector id="c" lane="w_far_0" pos="100" freq="60" file="out.xml"/>
    <laneAreaDetector id="d" lane="e_in_1" endPos="-1" length="80" period="60" file="o"/>
    <laneAreaDetector id="e" lanes="w_far_0 w_near_0" pos="300" endPos="20" file="o"/>
    <variableSpeedSign id="ignored" lanes="e_in_1"/>
</additional>
"""
    )
    d = _by_id(detectors_from_additional(add, net))
    assert set(d) == {"a", "b", "c", "d", "e"}
    assert d["a"].kind == "stopline" and d["a"].period == 300.0
    assert d["a"].position == pytest.approx(net.getLane("e_in_1").getLength() - 5)
    assert d["b"].kind == "advance" and d["b"].tls == "C" and d["b"].period == 120.0
    # upstream of the signal: found through the unique successor lane
    assert d["c"].kind == "advance" and d["c"].tls == "C" and d["c"].incoming_lane == "w_near_0"
    assert d["d"].kind == "queue" and d["d"].length == pytest.approx(80.0)
    assert d["d"].position + 80.0 == pytest.approx(net.getLane("e_in_1").getLength() - 1)
    far = net.getLane("w_far_0").getLength()
    assert d["e"].kind == "queue" and d["e"].lane == "w_near_0"
    assert d["e"].upstream_lanes == ("w_far_0",) and d["e"].end_position == 20.0
    assert d["e"].length == pytest.approx(far - 300 + 20)


def test_classify_errors(net, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"none\.add\.xml"):
        detectors_from_additional(tmp_path / "none.add.xml", net)
    bad = tmp_path / "bad.add.xml"
    bad.write_text('<additional><inductionLoop id="x" lane="nolane_0" pos="1"/></additional>')
    with pytest.raises(ValueError, match="'nolane_0'"):
        detectors_from_additional(bad, net)


@pytest.mark.sumo
def test_sumo_loads_placed_detectors(specs, net_file, tmp_path) -> None:
    add = write_detectors(specs, tmp_path / "d.add.xml")
    proc = subprocess.run(
        [sumolib.checkBinary("sumo"), "-n", str(net_file), "-a", str(add), "-e", "60",
         "--no-step-log"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr


# A signal C with a turn bay on the west approach: w_far (one lane) splits into w_bay (two
# lanes, both fed by w_far_0) a little shorter than the advance distance; e_mid is longer
# than the advance distance but well under twice it, and nothing feeds it.
BAY_NODES = """<nodes>
    <node id="C" x="0" y="0" type="traffic_light"/>
    <node id="W1" x="-122" y="0" type="priority"/>
    <node id="W2" x="-600" y="0" type="priority"/>
    <node id="E1" x="150" y="0" type="priority"/>
    <node id="N1" x="0" y="300" type="priority"/>
</nodes>
"""
BAY_EDGES = """<edges>
    <edge id="w_far" from="W2" to="W1" numLanes="1" speed="13.89"/>
    <edge id="w_bay" from="W1" to="C" numLanes="2" speed="13.89"/>
    <edge id="e_mid" from="E1" to="C" numLanes="1" speed="13.89"/>
    <edge id="c_e" from="C" to="E1" numLanes="1" speed="13.89"/>
    <edge id="c_n" from="C" to="N1" numLanes="1" speed="13.89"/>
</edges>
"""
BAY_CONNECTIONS = """<connections>
    <connection from="w_far" to="w_bay" fromLane="0" toLane="0"/>
    <connection from="w_far" to="w_bay" fromLane="0" toLane="1"/>
    <connection from="w_bay" to="c_e" fromLane="0" toLane="0"/>
    <connection from="w_bay" to="c_n" fromLane="1" toLane="0"/>
</connections>
"""


@pytest.fixture(scope="module")
def bay_net(tmp_path_factory) -> sumolib.net.Net:
    d = tmp_path_factory.mktemp("baynet")
    return sumolib.net.readNet(str(_netconvert(d, BAY_NODES, BAY_EDGES, BAY_CONNECTIONS)))


def test_a_bay_just_short_of_the_advance_distance_reaches_over_its_feeder(bay_net) -> None:
    bay = bay_net.getLane("w_bay_0").getLength()
    assert ADVANCE_DISTANCE < bay < ADVANCE_DISTANCE + ADVANCE_MARGIN  # the case under test
    d = _by_id(place_detectors(bay_net))
    for lane in ("w_bay_0", "w_bay_1"):
        q = d[f"q_{lane}"]
        # the whole bay and at least the last half metre of its feeder
        assert q.upstream_lanes == ("w_far_0",)
        assert bay < q.length < ADVANCE_DISTANCE + ADVANCE_MARGIN
        assert d[f"adv_{lane}"].lane == "w_far_0"


def test_a_lane_longer_than_the_advance_distance_gets_all_of_it(bay_net) -> None:
    length = bay_net.getLane("e_mid_0").getLength()
    assert ADVANCE_DISTANCE + ADVANCE_MARGIN < length < 2 * ADVANCE_DISTANCE
    d = _by_id(place_detectors(bay_net))
    assert length - d["adv_e_mid_0"].position == pytest.approx(ADVANCE_DISTANCE)
    assert d["q_e_mid_0"].length == pytest.approx(ADVANCE_DISTANCE - 0.1, abs=0.02)
