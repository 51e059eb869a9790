"""Time-of-day demand generation: reproducible, scalable, compressible, validated."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from signal_opt.sumo.demand import DEFAULT_DAY_SECONDS, write_routes

CORE = Path(__file__).resolve().parents[2] / "networks" / "yizhuang_core"
SPEC = CORE / "demand.json"
NET = CORE / "yizhuang_core.net.xml"


def _trips(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter("trip"))


def _tiny_spec(**over) -> dict:
    spec = {
        "zones": {
            "w": {"sources": {"RJE_E0": 1.0}, "sinks": {"RJE_W0": 1.0}},
            "e": {"sources": {"RJE_W4": 1.0}, "sinks": {"RJE_E4": 1.0}},
        },
        "profiles": {"flat": [1.0] * 24},
        "flows": [{"from": "w", "to": "e", "rate": 600.0, "profile": "flat"}],
    }
    spec.update(over)
    return spec


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    a = write_routes(SPEC, tmp_path / "a.rou.xml", seed=7)
    b = write_routes(SPEC, tmp_path / "b.rou.xml", seed=7)
    c = write_routes(SPEC, tmp_path / "c.rou.xml", seed=8)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()
    assert a.trips == b.trips


def test_scale_multiplies_demand(tmp_path: Path) -> None:
    base = write_routes(SPEC, tmp_path / "a.rou.xml", scale=1.0, seed=1)
    grown = write_routes(SPEC, tmp_path / "b.rou.xml", scale=1.2, seed=1)
    assert grown.trips / base.trips == pytest.approx(1.2, abs=0.04)
    assert write_routes(SPEC, tmp_path / "c.rou.xml", scale=0.0).trips == 0


def test_trips_sorted_typed_and_within_the_day(tmp_path: Path) -> None:
    s = write_routes(SPEC, tmp_path / "a.rou.xml", seed=2)
    root = ET.parse(s.path).getroot()
    assert {v.get("id") for v in root.iter("vType")} == {"passenger", "truck"}
    trips = _trips(s.path)
    departs = [float(t.get("depart", -1)) for t in trips]
    assert departs == sorted(departs)
    assert departs[0] >= 0.0 and departs[-1] < DEFAULT_DAY_SECONDS
    assert len(trips) == s.trips
    assert sum(t.get("type") == "truck" for t in trips) == s.trucks
    assert 0.10 <= s.truck_share <= 0.15
    assert all(t.get("from") != t.get("to") for t in trips)


def test_compression_keeps_hourly_rates(tmp_path: Path) -> None:
    spec = _tiny_spec()
    full = write_routes(spec, tmp_path / "a.rou.xml", seed=3, day_seconds=86400)
    short = write_routes(spec, tmp_path / "b.rou.xml", seed=3, day_seconds=2400)
    assert short.hour_seconds == 100.0
    assert max(float(t.get("depart", 0)) for t in _trips(short.path)) < 2400
    assert full.trips == pytest.approx(24 * 600, rel=0.05)
    assert short.trips == pytest.approx(24 * 600 * 100 / 3600, rel=0.15)
    # rates (veh/h) stay those of the real hour
    assert sum(short.hourly_rates) / 24 == pytest.approx(600, rel=0.15)
    assert sum(full.hourly_rates) / 24 == pytest.approx(600, rel=0.05)


def test_time_of_day_shape(tmp_path: Path) -> None:
    s = write_routes(SPEC, tmp_path / "a.rou.xml", seed=4)
    r = s.hourly_rates
    assert max(range(24), key=lambda h: r[h]) in (7, 17)  # a commute peak is the busiest
    assert r[7] > 1.5 * r[12] and r[17] > 1.3 * r[12]  # midday lull between the peaks
    assert r[3] < 0.1 * r[7]
    # the factory shift change: a burst into the industrial zone at 14:00, out at 15:00
    spec = json.loads(SPEC.read_text())
    industrial = set(spec["zones"]["industrial"]["sinks"])
    hour = s.hour_seconds
    into = [0] * 24
    out = [0] * 24
    for t in _trips(s.path):
        h = int(float(t.get("depart", 0)) // hour)
        into[h] += t.get("to") in industrial
        out[h] += t.get("from") in industrial
    assert into[14] > 1.5 * max(into[13], into[16])
    assert out[15] > 1.5 * max(out[14], out[16])


def test_connectivity_is_checked(tmp_path: Path) -> None:
    # RJE_W0 leaves the grid at the west boundary: nothing is reachable from it
    spec = _tiny_spec(
        zones={
            "w": {"sources": {"RJE_W0": 1.0}, "sinks": {"RJE_W0": 1.0}},
            "e": {"sources": {"RJE_W4": 1.0}, "sinks": {"RJE_E4": 1.0}},
        }
    )
    with pytest.raises(ValueError, match="'RJE_E4' cannot be reached from edge 'RJE_W0'"):
        write_routes(spec, tmp_path / "a.rou.xml", net=NET)
    write_routes(_tiny_spec(), tmp_path / "b.rou.xml", net=NET)  # connected: fine


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"profiles": {"flat": [1.0] * 23}}, "24 non-negative"),
        ({"flows": [{"from": "w", "to": "x", "rate": 1, "profile": "flat"}]}, "'x'"),
        ({"flows": [{"from": "w", "to": "e", "rate": 1, "profile": "peaky"}]}, "'peaky'"),
        ({"flows": [{"from": "w", "to": "e", "rate": -1, "profile": "flat"}]}, "rate"),
    ],
)
def test_bad_specs_are_named(change: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        write_routes(_tiny_spec(**change), tmp_path / "a.rou.xml")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        write_routes(tmp_path / "nope.json", tmp_path / "a.rou.xml")
    with pytest.raises(ValueError, match="scale"):
        write_routes(_tiny_spec(), tmp_path / "a.rou.xml", scale=-1)
    with pytest.raises(ValueError, match="day_seconds"):
        write_routes(_tiny_spec(), tmp_path / "a.rou.xml", day_seconds=0)
