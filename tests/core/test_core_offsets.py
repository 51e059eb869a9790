"""Offsets: platoons arrive on green; the network search is exact on trees."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from signal_opt.core import (
    CoordinationProblem,
    CoreSettings,
    RetimingProblem,
    choose_common_cycle,
    link_delay_tables,
    optimize_offsets,
    retime,
)
from signal_opt.core.coordinate import retime_coordinated
from signal_opt.core.synthetic import random_problem


def corridor(n: int, cycle: float = 60.0, cycle_max: float | None = None) -> RetimingProblem:
    """``n`` two-stage signals: group 0 (main street) in stage 0, group 1 in stage 1."""
    k, p = 2, 2
    serves = np.zeros((n, p, k), dtype=bool)
    serves[:, 0, 0] = serves[:, 1, 1] = True
    return RetimingProblem(
        demand=np.tile([600.0, 300.0], (n, 1)),
        saturation=np.full((n, k), 1800.0),
        group_mask=np.ones((n, k), dtype=bool),
        serves=serves,
        stage_mask=np.ones((n, p), dtype=bool),
        intergreen=np.full((n, p), 4.0),
        min_green=np.full((n, p), 10.0),
        max_green=np.full((n, p), np.inf),
        cycle_min=np.full(n, cycle),
        cycle_max=np.full(n, cycle if cycle_max is None else cycle_max),
    )


def chain(problem: RetimingProblem, travel: float, both_ways: bool = False) -> CoordinationProblem:
    n = problem.n
    up = list(range(n - 1))
    down = list(range(1, n))
    if both_ways:
        up, down = up + down, down + up
    m = len(up)
    frac = np.zeros((m, 2))
    frac[:, 0] = 1.0
    return CoordinationProblem(
        problem, up, down, [0] * m, frac, np.full(m, travel), np.full(m, np.nan)
    )


@pytest.mark.parametrize("travel", [5.0, 15.0, 25.0, 40.0])
def test_two_signals_platoon_arrives_on_green(travel):
    problem = corridor(2)
    result = retime(problem)
    offsets = optimize_offsets(chain(problem, travel), result)
    assert offsets[0] == 0.0
    gap = (offsets[1] - travel + 30.0) % 60.0 - 30.0
    assert abs(gap) <= 3.0, offsets


def test_best_offset_beats_the_worst_by_far():
    problem = corridor(2)
    result = retime(problem)
    table, dt, bins, usable = link_delay_tables(chain(problem, 20.0), result)
    assert usable.all() and bins == 60 and dt == pytest.approx(1.0)
    assert table[0].min() < 0.3 * table[0].max()


def test_arterial_offsets_follow_travel_time():
    problem = corridor(10)
    result = retime(problem)
    offsets = optimize_offsets(chain(problem, 20.0), result)
    steps = (np.diff(offsets) - 20.0 + 30.0) % 60.0 - 30.0
    assert np.abs(steps).max() <= 3.0


def _total(table, up, down, off, bins):
    return table[np.arange(len(up)), (off[down] - off[up]) % bins].sum()


def test_tree_search_is_exact_on_a_two_way_chain():
    problem = corridor(3)
    result = retime(problem)
    coord = chain(problem, 17.0, both_ways=True)
    settings = CoreSettings(offset_step=4.0)  # 15 bins: brute force over 15^2 pairs
    table, dt, bins, _ = link_delay_tables(coord, result, settings)
    offsets = optimize_offsets(coord, result, settings)
    found = _total(table, coord.up, coord.down, np.rint(offsets / dt).astype(int) % bins, bins)
    best = min(
        _total(table, coord.up, coord.down, np.array([0, i, j]), bins)
        for i, j in itertools.product(range(bins), repeat=2)
    )
    assert found == pytest.approx(best)


def test_grid_search_improves_on_zero_offsets():
    rng = np.random.default_rng(5)
    problem = random_problem(16, rng, cycle_bounds=(110.0, 110.0))
    result = retime(problem)
    # 4 x 4 grid, both directions, through groups 0 (N-S) and 6 (E-W) fed by the neighbour
    up, down, groups = [], [], []
    for i in range(16):
        r, c = divmod(i, 4)
        if c < 3:
            up += [i, i + 1]
            down += [i + 1, i]
            groups += [6, 9]
        if r < 3:
            up += [i, i + 4]
            down += [i + 4, i]
            groups += [0, 3]
    m = len(up)
    frac = np.zeros((m, 12))
    frac[np.arange(m), groups] = 0.8
    coord = CoordinationProblem(
        problem, up, down, groups, frac, rng.uniform(10, 40, m), np.full(m, np.nan)
    )
    table, dt, bins, _ = link_delay_tables(coord, result)
    offsets = optimize_offsets(coord, result)
    off = np.rint(offsets / dt).astype(int) % bins
    assert _total(table, coord.up, coord.down, off, bins) < _total(
        table, coord.up, coord.down, np.zeros(16, dtype=int), bins
    )
    assert ((offsets >= 0) & (offsets < result.cycle)).all()


def test_common_cycle_with_half_cycle_member():
    problem = corridor(3, cycle=30.0, cycle_max=180.0)
    result = retime(problem)
    fake = type(result)(**{**result.__dict__, "cycle": np.array([120.0, 50.0, 100.0])})
    cycles = choose_common_cycle(problem, fake, [0, 0, -1])
    assert cycles[0] == pytest.approx(120.0)
    assert cycles[1] == pytest.approx(60.0)
    assert np.isnan(cycles[2])


@dataclass(frozen=True)
class FakeLink:
    up: int
    up_groups: tuple[int, ...]
    down: int
    down_group: int
    travel_time: float
    length: float = 0.0


def test_coordinate_pipeline_shares_the_cycle():
    problem = random_problem(4, np.random.default_rng(1), cycle_bounds=(40.0, 160.0))
    links = [FakeLink(0, (0, 2), 1, 0, 20.0), FakeLink(1, (0,), 2, 0, 25.0)]
    coord = CoordinationProblem.from_links(problem, links)
    result = retime_coordinated(coord)
    c = result.cycle
    for i in (1, 2):
        assert np.isclose(c[i], c[0]) or np.isclose(2 * c[i], c[0]) or np.isclose(c[i], 2 * c[0])
    assert result.offsets[3] == 0.0
    assert ((result.offsets >= 0) & (result.offsets < c)).all()
