"""Bad demand gives flags and a safe plan; an invalid problem raises a named ValueError."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import simple_problem

from signal_opt.core import (
    BAD_INPUT,
    INFEASIBLE,
    OVERSATURATED,
    CoreSettings,
    RetimingProblem,
    retime,
)
from signal_opt.core.synthetic import random_problem


@pytest.mark.parametrize("value", [np.nan, -10.0, np.inf, 1e9])
def test_bad_demand_keeps_current_plan(value):
    problem = simple_problem([[0.2], [0.3]], current=(70.0, [30.0, 32.0]))
    demand = problem.demand.copy()
    demand[0, 1] = value
    result = retime(problem.with_demand(demand))
    assert result.flags[0] & BAD_INPUT
    assert result.cycle[0] == pytest.approx(70.0)
    np.testing.assert_allclose(result.greens[0], [30.0, 32.0])
    assert np.isnan(result.total_delay[0])


def test_bad_demand_without_plan_gets_equal_split_over_minimum_greens():
    problem = simple_problem([[0.2], [0.3]], min_green=12.0, cycle_min=40.0)
    demand = problem.demand.copy()
    demand[0, 0] = np.nan
    result = retime(problem.with_demand(demand))
    assert result.flags[0] & BAD_INPUT
    assert result.cycle[0] == pytest.approx(40.0)
    assert (result.greens[0] >= 12.0).all()
    assert result.greens[0, 0] == pytest.approx(result.greens[0, 1])


def test_one_bad_row_does_not_spoil_the_batch():
    problem = random_problem(20, np.random.default_rng(3))
    demand = problem.demand.copy()
    demand[5, 0] = np.nan
    bad = retime(problem.with_demand(demand))
    good = retime(problem)
    others = np.arange(20) != 5
    assert bad.flags[5] & BAD_INPUT
    assert not (bad.flags[others] & BAD_INPUT).any()
    np.testing.assert_allclose(bad.cycle[others], good.cycle[others])


def test_all_zero_demand_runs_the_shortest_cycle():
    problem = simple_problem([[0.0], [0.0]], min_green=10.0, intergreen=4.0, cycle_min=30.0)
    result = retime(problem)
    assert result.flags[0] == 0
    assert result.cycle[0] == pytest.approx(30.0)
    assert result.total_delay[0] == pytest.approx(0.0)


def test_oversaturated_demand_gets_a_safe_long_cycle():
    problem = simple_problem([[0.6], [0.7]], cycle_max=150.0)
    result = retime(problem)
    assert result.flags[0] & INFEASIBLE
    assert result.flags[0] & OVERSATURATED
    assert result.cycle[0] <= 150.0
    assert (result.greens[0] >= 5.0).all()


def test_minimum_greens_beyond_cycle_max_win_and_are_flagged():
    problem = simple_problem([[0.1], [0.1], [0.1]], min_green=40.0, intergreen=5.0, cycle_max=100.0)
    result = retime(problem)
    assert result.flags[0] & INFEASIBLE
    np.testing.assert_allclose(result.greens[0], [40.0, 40.0, 40.0])
    assert result.cycle[0] == pytest.approx(135.0)


def _arrays(n=2, p=2, k=3):
    return dict(
        demand=np.zeros((n, k)),
        saturation=np.full((n, k), 1800.0),
        group_mask=np.ones((n, k), dtype=bool),
        serves=np.ones((n, p, k), dtype=bool),
        stage_mask=np.ones((n, p), dtype=bool),
        intergreen=np.full((n, p), 4.0),
        min_green=np.full((n, p), 5.0),
        max_green=np.full((n, p), np.inf),
        cycle_min=np.full(n, 40.0),
        cycle_max=np.full(n, 120.0),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("demand", np.zeros((2, 4))),
        ("saturation", np.zeros((3, 3))),
        ("stage_mask", np.ones((2, 3), dtype=bool)),
        ("min_green", np.full((2, 2), -1.0)),
        ("intergreen", np.full((2, 2), np.nan)),
        ("saturation", np.zeros((2, 3))),
        ("cycle_max", np.full(2, 10.0)),
        ("max_green", np.full((2, 2), 1.0)),
        ("current_greens", np.zeros((2, 5))),
    ],
)
def test_invalid_problem_names_the_field(field, value):
    arrays = _arrays()
    arrays[field] = value
    with pytest.raises(ValueError, match=field):
        RetimingProblem(**arrays)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="cycle_step"):
        CoreSettings(cycle_step=0.0)
    with pytest.raises(ValueError, match="max_cycle_change"):
        CoreSettings(max_cycle_change=-1.0)
