"""The delay model and Webster's plan against numbers known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import simple_problem

from signal_opt.core import (
    CoreSettings,
    control_delay,
    incremental_delay,
    retime,
    uniform_delay,
    webster_cycle,
    webster_plan,
)


def test_uniform_delay_at_half_saturation():
    # 0.5 * 60 * 0.5^2 / (1 - 0.5 * 0.5) = 10 s
    assert uniform_delay(60.0, 0.5, 0.5) == pytest.approx(10.0)


def test_uniform_delay_is_capped_at_saturation():
    # above x = 1 the uniform term stays at its x = 1 value 0.5 C (1 - u)
    assert uniform_delay(90.0, 0.4, 1.5) == pytest.approx(0.5 * 90.0 * 0.6)
    assert uniform_delay(90.0, 0.4, 1.5) == pytest.approx(uniform_delay(90.0, 0.4, 1.0))


def test_incremental_delay_at_capacity():
    # x = 1, c = 900 veh/h, T = 0.25 h, k = 0.5: 225 * sqrt(4 / 225) = 30 s
    assert incremental_delay(1.0, 900.0, 0.25, 0.5) == pytest.approx(30.0)


def test_incremental_delay_zero_without_demand_and_large_above_saturation():
    assert incremental_delay(0.0, 900.0) == pytest.approx(0.0)
    x, c = 1.2, 600.0
    expected = 225.0 * (0.2 + np.sqrt(0.04 + 4.0 * x / (c * 0.25)))
    assert incremental_delay(x, c) == pytest.approx(expected)
    # the deterministic oversaturation delay 900 T (x - 1) * 2 is the asymptote
    assert incremental_delay(3.0, 600.0) > 900 * 0.25 * 2 * 2.0 * 0.99


def test_control_delay_combines_both_terms():
    d, x = control_delay(60.0, 30.0, 0.25, 1800.0)
    assert x == pytest.approx(0.5)
    assert d == pytest.approx(10.0 + incremental_delay(0.5, 900.0))


@pytest.mark.parametrize(("lost", "y", "c0"), [(10.0, 0.6, 50.0), (16.0, 0.75, 116.0)])
def test_webster_cycle_formula(lost, y, c0):
    assert webster_cycle(lost, y) == pytest.approx(c0)


def test_webster_cycle_infinite_when_oversaturated():
    assert np.isinf(webster_cycle(12.0, 1.0))


def test_webster_two_phase_textbook():
    # y = 0.25 and 0.35, lost time (3 s intergreen + 2 s start-up) x 2 = 10 s:
    # C0 = (1.5 * 10 + 5) / (1 - 0.6) = 50 s, effective greens 40 * y / Y.
    problem = simple_problem([[0.25, 0.1], [0.35]], intergreen=3.0)
    result = webster_plan(problem, CoreSettings(startup_lost_time=2.0, end_gain=0.0))
    assert result.cycle[0] == pytest.approx(50.0)
    effective = result.greens[0] - 2.0
    np.testing.assert_allclose(effective, [40 * 0.25 / 0.6, 40 * 0.35 / 0.6])
    assert result.cycle[0] == pytest.approx(result.greens[0].sum() + 6.0)


def test_webster_four_phase_textbook():
    # y = 0.2, 0.15, 0.25, 0.15 (Y = 0.75); 4 s intergreen of which 2 s used (end gain),
    # 2 s start-up: 4 s lost per phase, L = 16 s, C0 = 29 / 0.25 = 116 s.
    problem = simple_problem([[0.2], [0.15, 0.05], [0.25], [0.15]], intergreen=4.0)
    settings = CoreSettings(startup_lost_time=2.0, end_gain=2.0)
    result = webster_plan(problem, settings)
    assert result.cycle[0] == pytest.approx(116.0)
    np.testing.assert_allclose(result.greens[0], [100 * y / 0.75 for y in (0.2, 0.15, 0.25, 0.15)])
    # equal degree of saturation on the critical groups: x = Y C / (C - L)
    x = result.degree_of_saturation[0][[0, 1, 3, 4]]
    np.testing.assert_allclose(x, 0.75 * 116 / 100)


def test_delay_optimal_cycle_in_websters_flat_range():
    problem = simple_problem([[0.25], [0.35]], intergreen=3.0)
    settings = CoreSettings(startup_lost_time=2.0, end_gain=0.0)
    result = retime(problem, settings)
    assert 0.75 * 50.0 <= result.cycle[0] <= 1.5 * 50.0
    # splits equalise the degree of saturation when no minimum green binds
    x = result.degree_of_saturation[0]
    assert x[0] == pytest.approx(x[1])


def test_target_saturation_policy_runs_the_shortest_cycle_that_keeps_the_target():
    """Light demand -> the shortest feasible cycle; heavier demand -> the cycle whose
    critical lane group sits just at the target degree of saturation."""
    import numpy as np

    from signal_opt.core import CoreSettings, RetimingProblem, retime

    def problem(q: float) -> RetimingProblem:
        return RetimingProblem(
            demand=[[q, q]],
            saturation=[[1800.0, 1800.0]],
            group_mask=[[True, True]],
            serves=[[[True, False], [False, True]]],
            stage_mask=[[True, True]],
            intergreen=[[5.0, 5.0]],
            min_green=[[7.0, 7.0]],
            max_green=[[np.inf, np.inf]],
            cycle_min=[30.0],
            cycle_max=[150.0],
        )

    s = CoreSettings(target_degree_of_saturation=0.85, startup_lost_time=2.0)
    light = retime(problem(100.0), s)
    assert light.cycle[0] == 30.0
    heavy = retime(problem(600.0), s)
    x = heavy.degree_of_saturation[0].max()
    assert x <= 0.85 + 1e-9
    # one second shorter would break the target: g_eff = (C - 14) / 2 per stage
    c = heavy.cycle[0] - 1.0
    assert 600.0 * c / (1800.0 * ((c - 10.0) / 2.0 - 2.0)) > 0.85
    assert heavy.cycle[0] > 40.0
