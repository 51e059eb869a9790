"""The bundled Yizhuang-like networks: geometry, signal programs, detectors and demand."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumolib

from signal_opt.sumo.demand import write_routes
from signal_opt.sumo.detectors import detectors_from_additional

NETWORKS = Path(__file__).resolve().parents[2] / "networks"
KMH = 1 / 3.6
# name: (signals, min block, max block)
EXPECTED = {
    "yizhuang_core": (16, 350.0, 800.0),
    "yizhuang_corridor": (7, 350.0, 450.0),
    "yizhuang_district": (100, 350.0, 800.0),
}


def _load_build():
    spec = importlib.util.spec_from_file_location("networks_build", NETWORKS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def network(request) -> tuple[str, sumolib.net.Net]:
    name = request.param
    net = sumolib.net.readNet(
        str(NETWORKS / name / f"{name}.net.xml"), withPrograms=True, withPedestrianConnections=True
    )
    return name, net


def _normal_edges(net: sumolib.net.Net) -> list[sumolib.net.edge.Edge]:
    return [e for e in net.getEdges() if e.getFunction() == ""]


def _vehicle_lanes(edge: sumolib.net.edge.Edge) -> list[sumolib.net.lane.Lane]:
    return [lane for lane in edge.getLanes() if lane.allows("passenger")]


def test_signal_count_and_names(network) -> None:
    name, net = network
    tls = net.getTrafficLights()
    assert len(tls) == EXPECTED[name][0]
    # named after the two crossing streets, e.g. Rongjing East St x Jinghai Rd
    assert any(t.getID() == "RJE-JH" for t in tls)
    edge = net.getEdge("RJE_E1")
    assert edge.getName() == "Rongjing East St"


def test_lanes_and_speeds_by_road_class(network) -> None:
    _, net = network
    for edge in _normal_edges(net):
        lanes = _vehicle_lanes(edge)
        speed = edge.getSpeed()
        if abs(speed - 60 * KMH) < 0.1:  # arterial: 3 through lanes + a left lane
            assert len(lanes) == 4, edge.getID()
        else:  # collector at 40 or 50 km/h: 2 through lanes + a left lane
            assert min(abs(speed - 50 * KMH), abs(speed - 40 * KMH)) < 0.1, edge.getID()
            assert len(lanes) == 3, edge.getID()


def test_block_and_fringe_lengths(network) -> None:
    name, net = network
    _, lo, hi = EXPECTED[name]
    tls_nodes = {t.getID() for t in net.getTrafficLights()}
    blocks, fringe = [], []
    for edge in _normal_edges(net):
        a, b = edge.getFromNode().getID(), edge.getToNode().getID()
        (x0, y0), (x1, y1) = edge.getFromNode().getCoord(), edge.getToNode().getCoord()
        length = abs(x1 - x0) + abs(y1 - y0)  # node to node, orthogonal grid
        (blocks if a in tls_nodes and b in tls_nodes else fringe).append(length)
    assert blocks and lo <= min(blocks) and max(blocks) <= hi
    assert len(set(blocks)) >= 3  # varied blocks
    assert min(fringe) >= 300.0 and max(fringe) <= 500.0


def test_core_has_signalized_crossings() -> None:
    net = sumolib.net.readNet(
        str(NETWORKS / "yizhuang_core" / "yizhuang_core.net.xml"),
        withPrograms=True,
        withPedestrianConnections=True,
    )
    for tls in net.getTrafficLights():
        crossings = [
            c for c in tls.getConnections() if c[0].getEdge().getFunction() == "walkingarea"
        ]
        assert len(crossings) == 4, tls.getID()


def _foes(net_path: Path) -> dict[str, list[str]]:
    """junction id -> foes strings by request index (SUMO's, rightmost char = link 0)."""
    out: dict[str, list[str]] = {}
    for _, el in ET.iterparse(net_path):
        if el.tag == "junction" and el.get("type") == "traffic_light":
            out[el.get("id", "")] = [r.get("foes", "") for r in el.findall("request")]
    return out


def test_programs_are_four_stage_and_safe(network) -> None:
    name, net = network
    foes = _foes(NETWORKS / name / f"{name}.net.xml")
    for tls in net.getTrafficLights():
        crossing = {
            li: lane.getEdge().getFunction() == "walkingarea"
            for lane, _, li in tls.getConnections()
        }
        (program,) = tls.getPrograms().values()
        phases = program.getPhases()
        states = [p.state for p in phases]
        greens = [p for p in phases if "G" in p.state and "y" not in p.state]
        assert len(greens) == 4, tls.getID()
        assert len(phases) == 12
        cycle = sum(p.duration for p in phases)
        assert 90.0 <= cycle <= 120.0, (tls.getID(), cycle)
        for k in range(4):
            green, yellow, red = phases[3 * k : 3 * k + 3]
            assert "y" in yellow.state and yellow.duration in (3.0, 4.0)
            assert set(red.state) == {"r"} and red.duration == 2.0
            assert green.duration >= 10.0
        matrix = foes[tls.getID()]
        for p, state in enumerate(states):
            g = [i for i, c in enumerate(state) if c == "G"]
            for a in g:
                for b in g:
                    assert matrix[a][len(matrix) - 1 - b] == "0", (tls.getID(), p, a, b)
            nxt = states[(p + 1) % len(states)]
            for i, (now, then) in enumerate(zip(state, nxt, strict=True)):
                if now in "Gg" and then == "r":
                    assert crossing[i], f"{tls.getID()} phase {p}: link {i} green to red"
        served = {i for s in states for i, c in enumerate(s) if c in "Gg"}
        assert served == set(crossing)


def test_build_script_reproduces_net_from_sources(tmp_path: Path) -> None:
    build = _load_build()
    design = build.DESIGNS["yizhuang_corridor"]
    out = NETWORKS / design.name
    cmd = build.netconvert_options(design, design.name, True, str(tmp_path / "again.net.xml"))
    subprocess.run(cmd, cwd=out, check=True, capture_output=True)

    def body(p: Path) -> str:
        text = p.read_text(encoding="utf-8")
        return text[text.index("-->") :]  # after the header naming the output file

    assert body(tmp_path / "again.net.xml") == body(out / f"{design.name}.net.xml")


def test_detectors_cover_every_incoming_lane(network) -> None:
    name, net = network
    specs = detectors_from_additional(NETWORKS / name / f"{name}.det.add.xml", net)
    by_lane: dict[str, set[str]] = {}
    for s in specs:
        by_lane.setdefault(s.incoming_lane, set()).add(s.kind)
        assert s.period == 60.0
    incoming = {
        lane.getID()
        for tls in net.getTrafficLights()
        for lane, _, _ in tls.getConnections()
        if lane.getEdge().getFunction() == "" and lane.allows("passenger")
    }
    assert set(by_lane) == incoming
    assert all(kinds == {"stopline", "advance", "queue"} for kinds in by_lane.values())
    for s in specs:
        assert re.fullmatch(r"(sl|adv|q)_" + re.escape(s.incoming_lane), s.id)


def test_demand_spec_names_existing_edges(network) -> None:
    name, net = network
    spec = json.loads((NETWORKS / name / "demand.json").read_text())
    assert spec["network"] == f"{name}.net.xml"
    for zone in spec["zones"].values():
        for edge in [*zone["sources"], *zone["sinks"]]:
            assert net.hasEdge(edge), edge
    assert {"am_in", "pm_out", "shift_in", "shift_out", "through"} <= set(spec["profiles"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demand_is_routable_and_tidal(name: str, tmp_path: Path) -> None:
    summary = write_routes(NETWORKS / name / "demand.json", tmp_path / "r.rou.xml", seed=3)
    rates = summary.hourly_rates
    assert rates[7] > 1.5 * rates[12] and rates[7] > 5 * rates[3]  # morning peak
    assert rates[17] > rates[13] and rates[17] > 5 * rates[3]  # evening peak
    assert 0.10 <= summary.truck_share <= 0.15


def test_core_tidal_direction(tmp_path: Path) -> None:
    summary = write_routes(
        NETWORKS / "yizhuang_core" / "demand.json", tmp_path / "r.rou.xml", seed=1
    )
    root = ET.parse(summary.path).getroot()
    spec = json.loads((NETWORKS / "yizhuang_core" / "demand.json").read_text())
    interior = {e for z in spec["zones"].values() if z["kind"] == "interior" for e in z["sinks"]}
    fringe_in = {e for z in spec["zones"].values() if z["kind"] == "fringe" for e in z["sources"]}
    hour = summary.hour_seconds
    into = {h: 0 for h in (7, 17)}
    out_of = {h: 0 for h in (7, 17)}
    for trip in root.iter("trip"):
        h = int(float(trip.get("depart", 0)) // hour)
        if h not in into:
            continue
        if trip.get("from") in fringe_in and trip.get("to") in interior:
            into[h] += 1
        elif trip.get("from") in interior and trip.get("to") not in interior:
            out_of[h] += 1
    assert into[7] > 2 * out_of[7]  # morning: into the employment zones
    assert out_of[17] > 2 * into[17]  # evening: out of them


@pytest.mark.sumo
def test_core_smoke_run_with_detectors(tmp_path: Path) -> None:
    core = NETWORKS / "yizhuang_core"
    routes = write_routes(core / "demand.json", tmp_path / "core.rou.xml", seed=0)
    proc = subprocess.run(
        [
            sumolib.checkBinary("sumo"),
            "-n", str(core / "yizhuang_core.net.xml"),
            "-a", str(core / "yizhuang_core.det.add.xml"),
            "-r", str(routes.path),
            "-e", "600", "--no-step-log", "--duration-log.statistics",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr
    assert "Inserted:" in proc.stdout
