"""Stress draws: the same per seed, varied, loadable, with the demand asked for."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from signal_opt.stress.demand import OPPOSITE
from signal_opt.stress.design import KINDS, Link
from signal_opt.stress.draw import HEAVY_SCALES, make_draw
from signal_opt.stress.generate import write_draw
from signal_opt.stress.sources import movement_lanes
from signal_opt.sumo.network import load_intersections

# --- no SUMO -------------------------------------------------------------------------------


def test_same_index_and_seed_same_draw_others_differ() -> None:
    a, b = make_draw(4, seed=0), make_draw(4, seed=0)
    assert a == b
    others = [make_draw(5, seed=0), make_draw(4, seed=1), make_draw(7, seed=0)]
    for other in others:
        assert other.params() != a.params()
        assert other.design.nodes != a.design.nodes


def test_draws_cover_the_family() -> None:
    draws = [make_draw(i) for i in range(12)]
    assert {d.design.kind for d in draws} == set(KINDS)
    blocks = np.concatenate([d.design.block_lengths() for d in draws])  # (B,)
    assert blocks.min() < 150 and blocks.max() > 600
    assert blocks.min() > 60 and blocks.max() < 760
    lanes = {lk.lanes for d in draws for lk in d.design.links}
    assert lanes == {1, 2, 3, 4}
    lefts = {lk.left for d in draws for lk in d.design.links}
    assert lefts == {"shared", "lane", "bay", "none"}
    bays = [lk.bay for d in draws for lk in d.design.links if lk.left == "bay"]
    assert min(bays) < 50 and max(bays) > 100
    for d in draws:
        assert 9 <= len(d.design.signals) <= 25
        assert HEAVY_SCALES[0] <= d.heavy_scale <= HEAVY_SCALES[1]
        assert 0.05 <= d.demand.truck_share <= 0.25
        assert d.demand.lane_rate > 0
        if d.design.kind == "district":
            assert set(d.design.four_stage) == set(d.design.signals)
    assert any(d.design.dropped for d in draws)
    assert {d.design.tls_layout for d in draws} == {"opposites", "incoming"}


def _link(lanes: int, left: str) -> Link:
    return Link("a_b", "a", "b", "E", "R0", "collector", lanes, 13.9, left, 40.0)


@pytest.mark.parametrize("lanes", [1, 2, 3, 4])
@pytest.mark.parametrize("left", ["shared", "lane", "bay"])
@pytest.mark.parametrize(
    "room",
    [
        {"s": 3, "r": 2, "l": 2},
        {"s": 1, "r": 1, "l": 1},
        {"s": 0, "r": 2, "l": 1},
        {"s": 2, "r": 0, "l": 1},
        {"s": 2, "r": 1, "l": 0},
    ],
)
def test_movements_never_merge_and_always_exist(lanes, left, room) -> None:
    if left == "lane" and lanes < 2:
        return
    use = movement_lanes(_link(lanes, left), room)
    for m, n in room.items():
        assert len(use[m]) <= n, (m, use)
        assert bool(use[m]) == bool(n), (m, use)
    width = lanes + (left == "bay")
    assert all(0 <= k < width for ks in use.values() for k in ks)


# --- generated files (netconvert, no simulation) --------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[int, tuple]:
    """Draws 0-2 (one of each kind) written at 1.0 and their heavier scale."""
    out = tmp_path_factory.mktemp("stress")
    result = {}
    for i in range(3):
        draw = make_draw(i)
        result[i] = (draw, write_draw(draw, out, [1.0, draw.heavy_scale]), out / draw.name)
    return result


def test_same_draw_writes_identical_files(written, tmp_path: Path) -> None:
    draw, _, folder = written[1]
    write_draw(make_draw(1), tmp_path, [1.0, draw.heavy_scale])
    again = tmp_path / draw.name
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(files) >= 12
    for rel in files:
        assert (folder / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_every_signal_has_a_model(written) -> None:
    for draw, _, folder in written.values():
        models = load_intersections(folder / "stress.net.xml")
        assert sorted(m.id for m in models) == sorted(draw.design.signals)
        for m in models:
            assert len(m.stages) >= 2 and m.lane_groups
        four = [m for m in models if m.id in draw.design.four_stage]
        assert all(len(m.stages) == 4 for m in four)


def test_sumocfg_names_its_files(written) -> None:
    for draw, scenarios, folder in written.values():
        for sc in scenarios:
            root = ET.parse(sc.sumocfg).getroot()
            for tag in ("net-file", "route-files", "additional-files"):
                node = root.find(f".//{tag}")
                assert node is not None and (folder / node.get("value", "")).is_file()
            end = root.find(".//end")
            assert end is not None and float(end.get("value", 0)) == draw.horizon
        assert scenarios[1].trips > scenarios[0].trips  # the heavier scale


def _departures(routes: Path, edges: set[str], slot_s: float) -> np.ndarray:
    """(24,) trips per slot leaving from ``edges``."""
    counts = np.zeros(24)
    for trip in ET.parse(routes).getroot().iter("trip"):
        if trip.get("from") in edges:
            counts[min(int(float(trip.get("depart", 0)) // slot_s), 23)] += 1
    return counts


def test_the_peak_reverses_and_one_zone_surges(written) -> None:
    for draw, scenarios, folder in written.values():
        spec = json.loads((folder / "demand.json").read_text())
        profiles = spec["profiles"]
        assert np.argmax(profiles["peak"]) < np.argmax(profiles["reverse"])
        p = draw.demand.peak_from
        q = OPPOSITE[p]
        slot = draw.horizon / 24
        routes = scenarios[0].sumocfg.parent / "x1.rou.xml"
        out_of_p = _departures(routes, set(spec["zones"][p]["sources"]), slot)
        out_of_q = _departures(routes, set(spec["zones"][q]["sources"]), slot)
        # the peak leaves the peak side in slots 2-7, the reverse peak the far side in 11-16
        first, later = slice(2, 8), slice(11, 17)
        assert out_of_p[first].sum() > 1.5 * out_of_p[later].sum()
        assert out_of_q[later].sum() > 1.3 * out_of_q[first].sum()
        surge = [f for f in spec["flows"] if f["profile"] == "surge"]
        assert {f["from"] for f in surge} == {draw.demand.surge_zone}
        on = [k for k, v in enumerate(profiles["surge"]) if v > 0]
        assert 2 <= len(on) <= 3 and on == list(range(on[0], on[0] + len(on)))
        assert all(f["profile"] != "surge" for f in spec["flows"] if f not in surge)
        # the surge zone sends more in its slots than in the same span before
        sources = set(spec["zones"][draw.demand.surge_zone]["sources"])
        zone = _departures(routes, sources, slot)
        assert zone[on].sum() > 2 * zone[on[0] - len(on) : on[0]].sum()
        trucks = scenarios[0].trucks / scenarios[0].trips
        assert trucks == pytest.approx(draw.demand.truck_share, abs=0.03)
        assert math.isclose(spec["stress"]["load"], draw.demand.load)
