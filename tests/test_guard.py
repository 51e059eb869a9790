"""The guard's regions and its rules: doubt, probe, take-over, hand-back."""

from __future__ import annotations

import numpy as np
import pytest

from signal_opt.controllers.guard import Guard, Guarded, GuardSettings, regions

SETTINGS = GuardSettings(enabled=True, window=600.0, doubt_cycles=2.0, margin=0.2, hold=3600.0)


def test_regions_are_the_connected_groups_of_links():
    assert regions(5, [(0, 1), (3, 4)]).tolist() == [0, 0, 1, 2, 2]
    assert regions(3, []).tolist() == [0, 1, 2]
    assert regions(3, [(2, 0), (1, 2)]).tolist() == [0, 0, 0]


def _window(guard: Guard, t: float, delay: list[float], served: float = 100.0) -> list[int]:
    """Feed one window in which each region's served vehicles spent ``delay`` s on its
    zones, and judge it at ``t``."""
    d = np.array(delay)
    for _ in range(10):
        guard.add_minute(d * served / 600.0, np.full(len(d), served / 10.0), 60.0)
    return guard.judge(t).tolist()


def _states(guard: Guard) -> list[Guarded]:
    return [Guarded(int(s)) for s in guard.state]


def test_a_healthy_region_is_never_probed():
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    for k in range(1, 10):
        assert _window(guard, 600.0 * k, [170.0]) == []  # under 2 x 90 s per vehicle
    assert guard.probes == 0 and _states(guard) == [Guarded.ADAPTIVE]


def test_nothing_is_judged_before_the_window_ends():
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    guard.add_minute(np.array([1000.0]), np.array([1.0]), 60.0)
    assert guard.judge(599.0).tolist() == []
    assert guard.judge(600.0).tolist() == [0]


def test_the_base_program_takes_over_a_region_only_where_clearly_better():
    """Two regions in doubt (300 s per vehicle, over 2 x 90 s); in the probe the base
    programs do 200 s in the first (a third better) and 270 s in the second (10 %)."""
    guard = Guard(np.array([90.0, 90.0]), SETTINGS, 0.0)
    assert _window(guard, 600.0, [300.0, 300.0]) == [0, 1]
    assert _states(guard) == [Guarded.PROBE, Guarded.PROBE]
    assert _window(guard, 1200.0, [200.0, 270.0]) == [0, 1]
    assert _states(guard) == [Guarded.BASE, Guarded.ADAPTIVE]
    assert (guard.probes, guard.takeovers) == (2, 1)
    # the second region, the probe lost: no new probe for an hour
    assert _window(guard, 1800.0, [200.0, 400.0]) == []
    assert _states(guard)[1] == Guarded.ADAPTIVE
    assert _window(guard, 4800.0, [200.0, 400.0]) == [0, 1]  # the hold is over
    assert _states(guard) == [Guarded.ADAPTIVE, Guarded.PROBE]


def test_adaptive_gets_a_region_back_and_loses_it_again_if_still_worse():
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    _window(guard, 600.0, [300.0])
    _window(guard, 1200.0, [150.0])  # the probe: base programs 150 s
    assert _states(guard) == [Guarded.BASE]
    assert _window(guard, 3000.0, [150.0]) == []  # held
    assert _window(guard, 4800.0, [150.0]) == [0]  # the hold is over
    assert _states(guard) == [Guarded.ADAPTIVE]
    assert _window(guard, 5400.0, [200.0]) == [0]  # worse than 150 s by over 20 %
    assert _states(guard) == [Guarded.BASE]
    assert guard.probes == 1 and guard.takeovers == 2


def test_adaptive_keeps_a_region_it_runs_about_as_well_as_the_base_programs():
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    _window(guard, 600.0, [300.0])
    _window(guard, 1200.0, [150.0])
    _window(guard, 4800.0, [150.0])
    assert _window(guard, 5400.0, [170.0]) == []  # within the margin of 150 s
    assert _states(guard) == [Guarded.ADAPTIVE]


def test_a_window_where_nobody_was_served_decides_nothing():
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    assert _window(guard, 600.0, [300.0], served=0.0) == []
    assert np.isnan(guard.delay()).all()


@pytest.mark.parametrize("delay", [181.0, 1000.0])
def test_doubt_is_measured_in_base_cycles(delay):
    guard = Guard(np.array([90.0]), SETTINGS, 0.0)
    assert _window(guard, 600.0, [delay]) == [0]
