"""From model types to the array problem and back to plans."""

from __future__ import annotations

import numpy as np
import pytest

from signal_opt.core import CoreSettings, problem_from_intersections, retime, webster_plan
from signal_opt.model import Intersection, LaneGroup, Phase, Plan, Stage, check_plan


def _intersection(name: str, n_stages: int = 2, lead: float = 0.0) -> Intersection:
    groups = tuple(
        LaneGroup(f"{name}g{i}", f"e{i}", (i,), (f"e{i}_0",), (1.0,), "through", 1800.0)
        for i in range(n_stages + 1)
    )
    stages = tuple(
        Stage(
            phase_index=2 * s,
            state="G" * (n_stages + 1),
            lane_groups=(s,) if s else (0, n_stages),
            min_green=8.0,
            base_green=20.0,
            intergreen=(Phase(3.0, "y" * (n_stages + 1)), Phase(1.0, "r" * (n_stages + 1))),
        )
        for s in range(n_stages)
    )
    return Intersection(
        id=name,
        program_id="0",
        links=(),
        lane_groups=groups,
        stages=stages,
        lead_phases=(Phase(lead, "r" * (n_stages + 1)),) if lead else (),
        conflicts=frozenset(),
        base_offset=0.0,
        cycle_min=40.0,
        cycle_max=120.0,
    )


def test_problem_from_intersections_pads_and_maps():
    xs = [_intersection("A", 2, lead=2.0), _intersection("B", 3)]
    demand = [{"Ag0": 400.0, "Ag1": 300.0}, {"Bg2": 500.0}]
    current = [xs[0].base_plan(), None]
    problem = problem_from_intersections(xs, demand, current)
    assert problem.shape == (2, 3, 4)
    np.testing.assert_array_equal(problem.stage_mask, [[1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(problem.group_mask, [[1, 1, 1, 0], [1, 1, 1, 1]])
    assert problem.serves[0, 0, 2] and problem.serves[0, 0, 0] and problem.serves[0, 1, 1]
    np.testing.assert_allclose(problem.intergreen[0], [4.0, 6.0, 0.0])  # lead phase folded in
    np.testing.assert_allclose(problem.demand[0], [400.0, 300.0, 0.0, 0.0])
    assert problem.current_cycle[0] == pytest.approx(xs[0].base_cycle)
    assert np.isnan(problem.current_cycle[1])
    assert problem.ids == ("A", "B")


def test_plans_pass_the_model_safety_check():
    xs = [_intersection("A", 2, lead=2.0), _intersection("B", 3), _intersection("C", 4)]
    demand = [{g.id: 350.0 for g in x.lane_groups} for x in xs]
    problem = problem_from_intersections(xs, demand, [x.base_plan() for x in xs])
    for result in (
        retime(problem, CoreSettings(max_cycle_change=20.0, max_green_change=10.0)),
        webster_plan(problem),
    ):
        plans = result.to_plans(xs)
        assert [p.intersection_id for p in plans] == ["A", "B", "C"]
        for x, plan in zip(xs, plans, strict=True):
            assert isinstance(plan, Plan)
            check_plan(x, plan)


def test_unknown_group_and_wrong_plan_length_are_named():
    xs = [_intersection("A")]
    with pytest.raises(ValueError, match="Zg9"):
        problem_from_intersections(xs, [{"Zg9": 1.0}])
    bad_plan = Plan("A", 60.0, (20.0,))
    with pytest.raises(ValueError, match="'A'"):
        problem_from_intersections(xs, [{}], [bad_plan])
