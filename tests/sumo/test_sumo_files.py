"""Reading a scenario's SUMO files with sumolib: times, flows, routes, gzip, includes, .sumocfg."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import sumolib

from signal_opt.sumo.detectors import detectors_from_additional
from signal_opt.sumo.files import read_elements, sumo_time
from signal_opt.sumo.network import load_intersections, read_net
from signal_opt.sumo.outputs import read_metrics
from signal_opt.sumo.scenario import ScenarioError, from_sumocfg
from signal_opt.sumo.turning import (
    DEMAND_ATTRS,
    depart_time,
    design_flows,
    flow_times,
    route_departures,
)

ROUTE = "left0A0 A0B0 B0bottom1"
"""A route through two signals of the ``foreign_scenario`` grid (conftest)."""


@pytest.fixture(scope="module")
def net(foreign_scenario: Path) -> sumolib.net.Net:
    return read_net(foreign_scenario.parent / "grid.net.xml")


def _write(path: Path, body: str, root: str = "routes") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n{body}\n</{root}>\n')
    return path


def _flows(path: Path, body: str) -> dict[str, list[float]]:
    _write(path, body)
    return {el.id: flow_times(el, 0.0, 900.0) for el in read_elements(path, DEMAND_ATTRS)}


def _flow(begin: str, end: str, per_hour: float) -> str:
    return (
        f'<flow id="f" begin="{begin}" end="{end}" vehsPerHour="{per_hour}">'
        f'<route edges="{ROUTE}"/></flow>'
    )


def test_sumo_time_in_every_form_sumo_accepts() -> None:
    assert sumo_time("90") == 90.0
    assert sumo_time("90.5") == 90.5
    assert sumo_time("14:13:00") == 14 * 3600 + 13 * 60
    assert sumo_time("00:00:07.5") == 7.5
    assert sumo_time("1:14:13:00") == 86400 + 14 * 3600 + 13 * 60
    with pytest.raises(ValueError, match="depart 'noon' is not a SUMO time"):
        sumo_time("noon", "depart")
    with pytest.raises(ValueError, match="'triggered'"):
        sumo_time("triggered")


def test_special_departures() -> None:
    assert depart_time("begin", 600.0) == 600.0
    assert depart_time("now", 600.0) == 600.0
    assert depart_time(None, 600.0) == 600.0
    for waits in ("triggered", "containerTriggered", "split"):
        assert depart_time(waits, 600.0) is None
    assert depart_time("0:10:30", 0.0) == 630.0


def test_flow_counts_for_each_rate_kind(tmp_path: Path) -> None:
    times = _flows(
        tmp_path / "f.rou.xml",
        f"""
    <flow id="vph" begin="0" end="900" vehsPerHour="360" route="r"/>
    <flow id="perhour" begin="0" end="900" perHour="120" route="r"/>
    <flow id="period" begin="100" end="400" period="20" route="r"/>
    <flow id="exp" begin="0" end="900" period="exp(0.05)" route="r"/>
    <flow id="prob" begin="0" end="900" probability="0.1" route="r"/>
    <flow id="number" begin="0" end="600" number="30" route="r"/>
    <flow id="number_rate" begin="0" number="10" period="5" route="r"/>
    <flow id="clock" begin="00:10:00" end="0:00:20:00" vehsPerHour="3600" route="r"/>
    <flow id="window" vehsPerHour="60"><route edges="{ROUTE}"/></flow>
    <flow id="zero" begin="0" end="900" vehsPerHour="0" route="r"/>
    <flow id="triggered" begin="triggered" number="5" route="r"/>""",
    )
    assert len(times["vph"]) == 90 and times["vph"][:2] == [0.0, 10.0]
    assert len(times["perhour"]) == 30
    assert times["period"] == [100.0 + 20 * i for i in range(15)]
    assert len(times["exp"]) == 45  # the expected count of the Poisson flow
    assert len(times["prob"]) == 90  # the expected count: 0.1 per second
    assert times["number"] == [20.0 * i for i in range(30)]
    assert times["number_rate"] == [5.0 * i for i in range(10)]
    assert times["clock"][0] == 600.0 and len(times["clock"]) == 600
    assert times["window"] == [60.0 * i for i in range(15)]  # the simulation's begin and end
    assert times["zero"] == [] and times["triggered"] == []


def test_routes_refs_distributions_and_departure_window(tmp_path: Path, net) -> None:
    path = _write(
        tmp_path / "r.rou.xml",
        f"""
    <vType id="car"/>
    <vehicle id="early_ref" depart="0:00:30" route="later"/>
    <route id="later" edges="{ROUTE}"/>
    <routeDistribution id="dist">
        <route id="a" edges="left0A0 A0A1 A1top0" probability="3"/>
        <route refId="later" probability="1"/>
    </routeDistribution>
    <vehicle id="on_dist" depart="60" route="dist"/>
    <vehicle id="embedded" depart="begin"><route edges="{ROUTE}"/></vehicle>
    <vehicle id="by_id_in_dist" depart="90" route="a"/>
    <vehicle id="waits" depart="triggered" route="later"/>
    <vehicle id="outside" depart="2000" route="later"/>
    <vehicle id="unknown" depart="10" route="nowhere"/>
    <interval begin="100" end="200"><flow id="f" period="50" route="later"/></interval>
    <person id="p" depart="0"><walk edges="left0A0 A0B0"/></person>""",
    )
    deps = route_departures([path], net, 0.0, 900.0)
    got = [(d.time, d.edges, d.weight) for d in deps]
    later, a = tuple(ROUTE.split()), ("left0A0", "A0A1", "A1top0")
    assert got == [
        (30.0, later, 1.0),
        (60.0, a, 0.75),  # the distribution's probabilities as weights
        (60.0, later, 0.25),
        (0.0, later, 1.0),
        (90.0, a, 1.0),
        (100.0, later, 1.0),
        (150.0, later, 1.0),
    ]


def test_trips_take_the_fastest_path(tmp_path: Path, net) -> None:
    path = _write(
        tmp_path / "t.rou.xml",
        """
    <trip id="plain" depart="0" from="left0A0" to="B0bottom1"/>
    <trip id="via" depart="1" from="left0A0" to="B0bottom1" via="A1B1"/>
    <trip id="junctions" depart="2" fromJunction="left0" toJunction="bottom1"/>
    <flow id="fl" begin="3" number="2" period="10" from="left0A0" to="B0bottom1"/>
    <trip id="no_edge" depart="4" from="left0A0" to="nowhere"/>""",
    )
    deps = route_departures([path], net, 0.0, 900.0)
    direct = tuple(ROUTE.split())
    assert [d.time for d in deps] == [0.0, 1.0, 2.0, 3.0, 13.0]
    assert deps[0].edges == direct and deps[2].edges == direct and deps[3].edges == direct
    assert deps[1].edges[0] == "left0A0" and "A1B1" in deps[1].edges
    assert deps[1].edges[-1] == "B0bottom1"


def test_gzipped_and_included_route_files(tmp_path: Path, net) -> None:
    flows = _flow("14:00:00", "14:15:00", 240)
    plain = _write(tmp_path / "plain.rou.xml", flows)
    packed = tmp_path / "packed.rou.xml.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    # includes are relative to the file that includes them, nested ones too
    _write(tmp_path / "sub" / "deeper" / "more.rou.xml", flows.replace('id="f"', 'id="g"'))
    _write(tmp_path / "sub" / "part.rou.xml", '<include href="deeper/more.rou.xml"/>')
    main = _write(tmp_path / "main.rou.xml", f'<include href="sub/part.rou.xml"/>\n{flows}')
    window = (14 * 3600.0, 15 * 3600.0)
    expected = route_departures([plain], net, *window)
    assert len(expected) == 60 and expected[0].time == 14 * 3600.0
    assert route_departures([packed], net, *window) == expected
    assert route_departures([main], net, *window) == expected + expected


def test_design_flows_read_clock_times(tmp_path: Path, net) -> None:
    seconds = _write(tmp_path / "s.rou.xml", _flow("50300", "51200", 400))
    clock = _write(tmp_path / "c.rou.xml", _flow("13:58:20", "14:13:20", 400))
    intersections = load_intersections(net)
    a = design_flows(intersections, [seconds], net, 50300.0, 54100.0)
    b = design_flows(intersections, [clock], net, 50300.0, 54100.0)
    assert a == b and sum(sum(x.values()) for x in a) == pytest.approx(2 * 400.0)


def test_sumocfg_with_clock_times_and_file_lists(tmp_path: Path, foreign_scenario: Path) -> None:
    net = foreign_scenario.parent / "grid.net.xml"
    for name in ("a.rou.xml", "b.rou.xml", "c.rou.xml", "d.add.xml"):
        _write(tmp_path / name, "", "additional" if name.endswith(".add.xml") else "routes")
    cfg = tmp_path / "clock.sumocfg"
    cfg.write_text(
        f"""<configuration>
    <input>
        <net-file value="{net}"/>
        <route-files value="a.rou.xml, b.rou.xml c.rou.xml"/>
        <additional-files value="d.add.xml"/>
    </input>
    <time><begin value="13:58:20"/><end value="1:00:00:00"/></time>
</configuration>
"""
    )
    sc = from_sumocfg(cfg)
    assert (sc.begin, sc.end) == (50300.0, 86400.0)
    assert [p.name for p in sc.route_files] == ["a.rou.xml", "b.rou.xml", "c.rou.xml"]
    assert [p.name for p in sc.additional_files] == ["d.add.xml"]
    cfg.write_text(cfg.read_text().replace("13:58:20", "soon"))
    with pytest.raises(ScenarioError, match="begin 'soon'"):
        from_sumocfg(cfg)
    cfg.write_text("<configuration><input>")
    with pytest.raises(ScenarioError, match="cannot parse"):
        from_sumocfg(cfg)


def test_detectors_from_a_gzipped_file_with_an_include(tmp_path: Path, net) -> None:
    inner = _write(
        tmp_path / "dets" / "loops.add.xml",
        '<inductionLoop id="adv" lane="left0A0_0" pos="20" period="00:05:00" file="NUL"/>',
        "additional",
    )
    outer = _write(
        tmp_path / "outer.add.xml",
        '<include href="dets/loops.add.xml"/>\n'
        '<laneAreaDetector id="q" lane="left0A0_1" pos="10" length="50" freq="60" file="NUL"/>',
        "additional",
    )
    packed = tmp_path / "outer.add.xml.gz"
    packed.write_bytes(gzip.compress(outer.read_bytes()))
    specs = {s.id: s for s in detectors_from_additional(packed, net)}
    assert set(specs) == {"adv", "q"} and inner.is_file()
    assert specs["adv"].period == 300.0 and specs["adv"].kind == "advance"
    assert specs["q"].kind == "queue" and specs["q"].length == 50.0


def test_run_outputs_read_with_sumolib(tmp_path: Path) -> None:
    tripinfo = _write(
        tmp_path / "tripinfo.xml",
        """
    <tripinfo id="a" depart="10.00" departDelay="1.00" arrival="110.00" duration="100.00"
        routeLength="1000.00" waitingTime="5.00" timeLoss="20.00"/>
    <tripinfo id="b" depart="00:00:20" departDelay="3.00" arrival="-1.00" duration="00:01:40"
        routeLength="500.00" waitingTime="15.00" timeLoss="40.00"/>""",
        "tripinfos",
    )
    stats = _write(
        tmp_path / "statistics.xml",
        '<vehicles loaded="3" inserted="2" running="1" waiting="1"/><teleports total="4"/>',
        "statistics",
    )
    m = read_metrics(tripinfo, stats, 1.0)
    assert m.mean_travel_time_s == 100.0 and m.mean_time_loss_s == 30.0
    assert m.mean_depart_delay_s == 2.0 and m.average_speed_kmh == pytest.approx(27.0)
    assert (m.vehicles_loaded, m.vehicles_arrived, m.vehicles_unfinished) == (3, 1, 1)
    assert (m.vehicles_never_inserted, m.teleports) == (1, 4)
