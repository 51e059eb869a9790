"""The vectorized search agrees with the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from signal_opt.core import CoreSettings, retime
from signal_opt.core.reference import reference_retime
from signal_opt.core.synthetic import random_problem

SETTINGS = [
    CoreSettings(fast_search=False),
    CoreSettings(max_cycle_change=20.0, max_green_change=10.0, stop_weight=15.0, fast_search=False),
    CoreSettings(max_degree_of_saturation=None, cycle_step=2.5, end_gain=2.0, fast_search=False),
    CoreSettings(max_degree_of_saturation=0.9, analysis_period_h=1.0, fast_search=False),
    CoreSettings(target_degree_of_saturation=0.85, max_cycle_change=20.0, fast_search=False),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_vectorized_matches_reference(settings, seed):
    rng = np.random.default_rng(seed)
    problem = random_problem(40, rng, load=(0.2, 1.15), cycle_bounds=(40.0, 150.0))
    result = retime(problem, settings)
    ref = reference_retime(problem, settings)
    np.testing.assert_allclose(result.cycle, ref.cycle, atol=1e-9)
    np.testing.assert_allclose(result.greens, ref.greens, atol=1e-7)
    np.testing.assert_allclose(result.delay, ref.delay, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.degree_of_saturation, ref.degree_of_saturation, rtol=1e-9)
    np.testing.assert_allclose(result.objective, ref.objective, rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_search_finds_an_equally_good_plan(seed):
    rng = np.random.default_rng(seed)
    problem = random_problem(200, rng, load=(0.2, 1.15))
    fast = retime(problem, CoreSettings(fast_search=True))
    ref = reference_retime(problem, CoreSettings(fast_search=False))
    np.testing.assert_allclose(fast.objective, ref.objective, rtol=1e-5)
    assert (np.abs(fast.cycle - np.array(ref.cycle)) < 1e-9).mean() > 0.95
