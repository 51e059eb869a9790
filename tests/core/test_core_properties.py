"""Every result keeps minimum greens, intergreens, cycle bounds and change limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_opt.core import (
    CHANGE_LIMITS_RELAXED,
    INFEASIBLE,
    MAX_GREEN_RELAXED,
    CoreSettings,
    RetimingProblem,
    retime,
    webster_plan,
)

TOL = 1e-6


@st.composite
def cases(draw):
    """A random problem (arbitrary masks, overlaps, bounds, plans) and settings."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 6))
    p = draw(st.integers(1, 5))
    k = draw(st.integers(1, 8))
    stage_mask = rng.random((n, p)) < 0.8
    stage_mask[:, 0] = True
    group_mask = rng.random((n, k)) < 0.85
    serves = rng.random((n, p, k)) < draw(st.sampled_from([0.2, 0.4, 0.7]))
    saturation = rng.uniform(300.0, 5400.0, (n, k))
    load = draw(st.sampled_from([0.0, 0.3, 0.8, 1.5, 4.0]))
    demand = rng.uniform(0.0, load, (n, k)) * saturation
    bad = draw(st.sampled_from([None, np.nan, -5.0, np.inf, 1e12]))
    if bad is not None:
        demand[rng.random((n, k)) < 0.2] = bad
    intergreen = rng.choice([0.0, 3.0, 4.0, 6.0], (n, p))
    min_green = rng.choice([0.0, 5.0, 10.0, 25.0], (n, p))
    max_green = np.where(rng.random((n, p)) < 0.5, np.inf, min_green + rng.uniform(0, 60, (n, p)))
    cycle_min = rng.uniform(20.0, 80.0, n)
    cycle_max = cycle_min + rng.uniform(0.0, 120.0, n)
    cur_cycle = np.where(rng.random(n) < 0.6, rng.uniform(30.0, 200.0, n), np.nan)
    cur_greens = rng.uniform(0.0, 60.0, (n, p))
    if draw(st.booleans()):  # consistent current plans
        cur_greens = min_green + rng.uniform(0.0, 30.0, (n, p))
        cur_cycle = np.where(
            np.isnan(cur_cycle),
            np.nan,
            (cur_greens * stage_mask).sum(1) + (intergreen * stage_mask).sum(1),
        )
    problem = RetimingProblem(
        demand=demand,
        saturation=saturation,
        group_mask=group_mask,
        serves=serves,
        stage_mask=stage_mask,
        intergreen=intergreen,
        min_green=min_green,
        max_green=max_green,
        cycle_min=cycle_min,
        cycle_max=cycle_max,
        current_cycle=cur_cycle,
        current_greens=cur_greens,
    )
    core = CoreSettings(
        max_cycle_change=draw(st.sampled_from([None, 0.0, 5.0, 20.0])),
        max_green_change=draw(st.sampled_from([None, 0.0, 3.0, 10.0])),
        cycle_step=draw(st.sampled_from([1.0, 2.0, 5.0])),
        stop_weight=draw(st.sampled_from([0.0, 10.0])),
        end_gain=draw(st.sampled_from([0.0, 2.0])),
        max_degree_of_saturation=draw(st.sampled_from([None, 0.9, 1.0])),
    )
    return problem, core


def check_invariants(problem: RetimingProblem, core: CoreSettings, result) -> None:
    s = problem.stage_mask
    ig = (problem.intergreen * s).sum(1)
    assert np.isfinite(result.cycle).all() and np.isfinite(result.greens).all()
    assert (result.greens[~s] == 0).all()
    assert (result.greens >= np.where(s, problem.min_green, 0.0) - TOL).all(), "minimum green"
    np.testing.assert_allclose(result.cycle, result.greens.sum(1) + ig, atol=TOL)
    infeasible = result.has_flag(INFEASIBLE)
    ok = ~infeasible
    assert (result.cycle[ok] <= problem.cycle_max[ok] + TOL).all(), "cycle_max"
    assert (result.cycle >= problem.cycle_min - TOL).all(), "cycle_min"
    keep_max = ~result.has_flag(MAX_GREEN_RELAXED)[:, None] & s
    assert (result.greens <= problem.max_green + TOL)[keep_max].all(), "max_green"
    assert ((result.offsets >= 0) & (result.offsets < result.cycle)).all()
    # change limits, where a usable current plan exists and nothing had to be relaxed
    cur_c, cur_g = problem.current_cycle, problem.current_greens
    has = np.isfinite(cur_c) & np.isfinite(np.where(s, cur_g, 0.0)).all(1)
    limited = has & ~result.has_flag(CHANGE_LIMITS_RELAXED) & ~infeasible
    if core.max_cycle_change is not None:
        dc = np.abs(result.cycle - cur_c)
        assert (dc[limited] <= core.max_cycle_change + TOL).all(), "cycle change"
    if core.max_green_change is not None:
        inside = ((cur_g >= problem.min_green) & (cur_g <= problem.max_green)) | ~s
        rows = limited & inside.all(1)
        dg = np.where(s, np.abs(result.greens - cur_g), 0.0)
        assert (dg[rows] <= core.max_green_change + TOL).all(), "green change"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_retime_invariants(case):
    problem, core = case
    check_invariants(problem, core, retime(problem, core))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_webster_invariants(case):
    problem, core = case
    check_invariants(problem, core, webster_plan(problem, core))


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_retime_invariants_long(case):
    problem, core = case
    check_invariants(problem, core, retime(problem, core))


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_webster_invariants_long(case):
    problem, core = case
    check_invariants(problem, core, webster_plan(problem, core))
