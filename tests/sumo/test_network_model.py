"""The intersection model read from SUMO networks: ours and one built by SUMO's tools."""

from __future__ import annotations

import pytest

from signal_opt.model import GREEN_STATES, Plan, PlanError, check_plan, plan_phases
from signal_opt.sumo.network import NetworkError, load_intersections
from signal_opt.sumo.scenario import from_sumocfg, networks_dir


def _assert_consistent(x) -> None:
    assert x.stages, x.id
    assert x.lane_groups, x.id
    for s in x.stages:
        assert any(c in GREEN_STATES for c in s.state)
        assert s.min_green > 0
        for p in s.intergreen:
            assert p.is_transition
        for g in s.lane_groups:
            assert any(s.state[k] in GREEN_STATES for k in x.lane_groups[g].links)
    for g in x.lane_groups:
        assert g.saturation_flow > 0 and g.n_lanes > 0
    # The network's own program never shows two conflicting priority greens.
    for s in x.stages:
        for i, j in x.conflicts:
            assert not (s.state[i] == "G" and s.state[j] == "G"), (x.id, s.state, i, j)
    assert x.cycle_min <= x.cycle_max
    assert x.min_cycle_feasible <= x.cycle_max
    # The base plan reproduces the program's cycle.
    plan = x.base_plan()
    assert len(plan_phases(x, plan.greens)) == sum(1 + len(s.intergreen) for s in x.stages)


def test_foreign_network_model(foreign_scenario):
    sc = from_sumocfg(foreign_scenario)
    xs = load_intersections(sc.net_file)
    assert len(xs) == 6
    for x in xs:
        _assert_consistent(x)
        assert x.conflicts, "crossing movements must be foes"
        # every intergreen has a yellow
        assert all(any("y" in p.state for p in s.intergreen) for s in x.stages)


@pytest.mark.parametrize("name", ["yizhuang_core", "yizhuang_corridor", "yizhuang_district"])
def test_bundled_network_model(name):
    net = networks_dir() / name / f"{name}.net.xml"
    xs = load_intersections(net)
    minimum = {"yizhuang_core": 12, "yizhuang_corridor": 6, "yizhuang_district": 100}[name]
    assert len(xs) >= minimum
    for x in xs:
        _assert_consistent(x)
        assert len(x.stages) >= 3
    if name == "yizhuang_core":
        # four-stage programs with protected lefts and pedestrian time on the minimum greens
        four = [x for x in xs if len(x.stages) == 4]
        assert len(four) >= 12
        for x in four:
            protected = [
                s
                for s in x.stages
                if s.lane_groups
                and all(x.lane_groups[g].movement in ("left", "uturn") for g in s.lane_groups)
            ]
            assert len(protected) == 2, f"{x.id}: expected two protected-left stages"
        assert any(s.min_green > 7.0 for x in xs for s in x.stages), "crossings set min greens"


def test_network_errors(tmp_path):
    with pytest.raises(NetworkError, match="not found"):
        load_intersections(tmp_path / "missing.net.xml")
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge")
    with pytest.raises(NetworkError, match="cannot read"):
        load_intersections(bad)


def test_check_plan_rules(foreign_scenario):
    x = load_intersections(from_sumocfg(foreign_scenario).net_file)[0]
    good = x.base_plan()
    check_plan(x, good)
    greens = list(good.greens)
    short = [*greens]
    short[0] = x.stages[0].min_green - 1
    with pytest.raises(PlanError, match="below its minimum"):
        check_plan(x, Plan(x.id, sum(short) + x.lost_time, tuple(short)))
    with pytest.raises(PlanError, match="does not equal"):
        check_plan(x, Plan(x.id, good.cycle + 5, good.greens))
    with pytest.raises(PlanError, match="stages exist"):
        check_plan(x, Plan(x.id, good.cycle, good.greens[:-1]))
    long = [g + 100 for g in greens]
    with pytest.raises(PlanError, match="outside"):
        check_plan(x, Plan(x.id, sum(long) + x.lost_time, tuple(long)))
    with pytest.raises(PlanError, match="offset"):
        check_plan(x, Plan(x.id, good.cycle, good.greens, offset=good.cycle + 1))
