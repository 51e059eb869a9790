"""Service rates per stage and lane, learned from stop-line loops (no simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from signal_opt.controllers.discharge import Discharge, discharge_of
from signal_opt.controllers.kernel import incoming_lanes
from signal_opt.controllers.max_pressure import pressure_of
from signal_opt.model import Intersection, LaneGroup, Link, Phase, Stage


def _t_junction() -> Intersection:
    """West approach: a through lane and a left-turn lane; east approach: one lane.

    Stage 0 runs both approaches, the left turn yielding ("g") to the east through
    traffic; stage 1 gives the left turn its own arrow ("G") with the west through lane.
    """
    links = (
        Link(0, "w", "w_0", "e", "e_0", "s"),
        Link(1, "w", "w_1", "n", "n_0", "l"),
        Link(2, "e", "e_in_0", "w", "w_out_0", "s"),
    )
    groups = (
        LaneGroup("w:through", "w", (0,), ("w_0",), (1.0,), "through", 1800.0),
        LaneGroup("w:left", "w", (1,), ("w_1",), (1.0,), "left", 1800.0),
        LaneGroup("e:through", "e", (2,), ("e_in_0",), (1.0,), "through", 1800.0),
    )
    stages = (
        Stage(0, "GgG", (0, 1, 2), 7.0, 30.0, (Phase(3, "yyy"), Phase(2, "rrr"))),
        Stage(3, "GGr", (0, 1), 7.0, 10.0, (Phase(3, "yyr"), Phase(2, "rrr"))),
    )
    conflicts = frozenset({(1, 2)})
    return Intersection("J", "0", links, groups, stages, (), conflicts, 0.0, 40.0, 150.0)


ZONES = {"w_0": "q_w0", "w_1": "q_w1", "e_in_0": "q_e"}
LOOPS = {"w_0": ["s_w0"], "w_1": ["s_w1"], "e_in_0": ["s_e"]}


def test_only_a_yielding_green_is_learned():
    x = _t_junction()
    d = discharge_of(x, ZONES, LOOPS)
    assert incoming_lanes(x) == ["e_in_0", "w_0", "w_1"]
    assert d.served.tolist() == [[True, True, True], [False, True, True]]
    assert d.yields.tolist() == [[False, False, True], [False, False, False]]
    assert d.zones == ["q_e", "q_w0", "q_w1"]
    # nothing measured yet: plain max-pressure
    assert d.rates().tolist() == [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]]


def _serve(d: Discharge, stage: int, seconds: int, every: int, halting=None, passed=None):
    """``seconds`` of green of ``stage`` with a queue on every zone, one vehicle over each
    stop-line loop every ``every`` seconds."""
    for s in range(seconds):
        n = int(s % every == 0)
        d.observe(
            stage,
            halting if halting is not None else {"q_e": 3, "q_w0": 3, "q_w1": 3},
            passed if passed is not None else {"s_e": n, "s_w0": n, "s_w1": n},
        )


def test_a_left_turn_waiting_for_gaps_is_worth_less_to_its_yielding_stage():
    d = discharge_of(_t_junction(), ZONES, LOOPS)
    _serve(d, 0, 600, every=10)  # a vehicle every 10 s while yielding
    _serve(d, 1, 120, every=2)  # one every 2 s on the arrow
    rates = d.rates()
    yielding = (60 + 0.5 * 30) / 630
    arrow = (60 + 0.5 * 30) / 150
    assert rates[0, 2] == pytest.approx(yielding / arrow)
    assert rates[0, 2] < 0.3
    # lanes that do not yield keep rate 1, however they were measured
    assert rates[0, :2].tolist() == [1.0, 1.0]
    assert rates[1].tolist() == [0.0, 1.0, 1.0]


def test_nothing_is_learned_without_a_queue_or_from_a_faulty_loop():
    d = discharge_of(_t_junction(), ZONES, LOOPS)
    _serve(d, 0, 100, every=1, halting={"q_w1": 0})  # nobody standing
    _serve(d, 0, 100, every=1, passed={"s_w0": 1})  # the left lane's loop left out
    _serve(d, 0, 100, every=1, halting={})  # its queue zone left out
    assert d.seconds.sum() == 0
    assert d.rates()[0, 2] == 1.0


def test_rates_weigh_each_lanes_pressure():
    x = _t_junction()
    p = pressure_of(x, ZONES)
    counts = {"q_e": 2, "q_w0": 1, "q_w1": 6}
    assert p.of(counts).tolist() == [9.0, 7.0]  # the arrow can never win unweighted
    rates = np.array([[1.0, 1.0, 0.25], [0.0, 1.0, 1.0]])
    assert p.of(counts, rates).tolist() == [4.5, 7.0]
