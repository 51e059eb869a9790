"""Demand estimation from detector readings: saturation, spill-back, smoothing, faults."""

from __future__ import annotations

import math

import pytest

from signal_opt.detectors import DemandEstimator, DetectorInfo, EstimatorSettings, Minute
from signal_opt.model import Intersection, LaneGroup, Link, Phase, Stage


def _intersection() -> Intersection:
    """Two approaches, one lane each (a dedicated lane per group), two stages."""
    links = (Link(0, "n", "n_0", "s", "s_0", "s"), Link(1, "e", "e_0", "w", "w_0", "s"))
    groups = (
        LaneGroup("n:through", "n", (0,), ("n_0",), (1.0,), "through", 1800.0),
        LaneGroup("e:through", "e", (1,), ("e_0",), (1.0,), "through", 1800.0),
    )
    stages = (
        Stage(0, "Gr", (0,), 7.0, 30.0, (Phase(3, "yr"), Phase(2, "rr"))),
        Stage(3, "rG", (1,), 7.0, 30.0, (Phase(3, "ry"), Phase(2, "rr"))),
    )
    return Intersection("J", "0", links, groups, stages, (), frozenset({(0, 1)}), 0.0, 40.0, 150.0)


def _detectors() -> list[DetectorInfo]:
    out = []
    for lane in ("n_0", "e_0"):
        out += [
            DetectorInfo(f"sl_{lane}", "stopline", lane),
            DetectorInfo(f"adv_{lane}", "advance", lane),
            DetectorInfo(f"q_{lane}", "queue", lane, 100.0),
        ]
    return out


def _minute(n_arr, n_served, e_arr, e_served, adv_occ=10.0, n_jam=0.0, e_jam=0.0):
    return {
        "adv_n_0": Minute(n_arr, adv_occ),
        "sl_n_0": Minute(n_served, 20.0),
        "q_n_0": Minute(n_served, 30.0, 5.0, n_jam),
        "adv_e_0": Minute(e_arr, 10.0),
        "sl_e_0": Minute(e_served, 20.0),
        "q_e_0": Minute(e_served, 30.0, 5.0, e_jam),
    }


def test_demand_is_arrivals_per_hour():
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for _ in range(10):
        est.add_minute(_minute(10, 10, 5, 5))
    d = est.estimate()
    assert d.demand[0]["n:through"] == pytest.approx(600.0)
    assert d.demand[0]["e:through"] == pytest.approx(300.0)
    assert d.fallback == [False] and d.faulty == {}


def test_saturated_stop_line_does_not_cap_demand():
    """Served flow is capped at capacity; a growing queue and spill-back show the rest."""
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for m in range(10):
        # 15 veh/min served (capacity), queue grows by 5 vehicles every minute,
        # advance loop occupied most of the time (queue reaches it)
        est.add_minute(_minute(15, 15, 5, 5, adv_occ=60.0, n_jam=7.5 * 5 * (m + 1)))
    d = est.estimate()
    served = 900.0
    assert d.demand[0]["n:through"] > served * 1.2


def test_smoothing_damps_one_noisy_period():
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=0.5))
    for _ in range(10):
        est.add_minute(_minute(10, 10, 5, 5))
    est.estimate()
    for _ in range(10):
        est.add_minute(_minute(30, 30, 5, 5))
    d = est.estimate()
    assert d.demand[0]["n:through"] == pytest.approx(0.5 * 600 + 0.5 * 1800)


@pytest.mark.parametrize(
    ("fault", "reading", "minutes"),
    [
        ("stuck_on", Minute(0, 100.0), 6),
        ("chattering", Minute(200, 50.0), 1),
        ("missing", None, 1),
        ("missing", Minute(math.nan, 10.0), 1),
        ("missing", Minute(-3, 10.0), 1),
    ],
)
def test_faults_are_detected_and_excluded(fault, reading, minutes):
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for _ in range(minutes):
        m = _minute(10, 10, 5, 5)
        m["adv_n_0"] = reading
        est.add_minute(m)
    d = est.estimate()
    assert d.faulty.get("adv_n_0") == fault
    assert est.new_faults[fault] == 1
    # the stop-line loop of the same lane still gives the demand
    assert d.demand[0]["n:through"] == pytest.approx(600.0)


def test_stuck_off_while_neighbour_counts():
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for _ in range(16):
        m = _minute(10, 10, 5, 5)
        m["adv_n_0"] = Minute(0, 0.0)
        est.add_minute(m)
    assert est.estimate().faulty.get("adv_n_0") == "stuck_off"


def test_stuck_off_beside_a_queue_served_in_bursts():
    """Free operation serves a lane every few minutes: busy minutes are rare, yet a loop
    that stays silent while its neighbour counts 30 vehicles is stuck."""
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for k in range(12):
        m = _minute(10, 10, 5, 5)
        m["sl_n_0"] = Minute(24 if k % 3 == 0 else 0, 20.0 if k % 3 == 0 else 0.0)
        m["adv_n_0"] = Minute(0, 0.0)
        est.add_minute(m)
    assert est.estimate().faulty.get("adv_n_0") == "stuck_off"


def test_a_loop_on_an_upstream_lane_is_not_compared():
    """A short lane's advance loop sits upstream; its vehicles may pass it on another lane."""
    dets = [
        DetectorInfo(d.id, d.kind, d.lane, d.length, upstream=d.id == "adv_n_0")
        for d in _detectors()
    ]
    est = DemandEstimator([_intersection()], dets, EstimatorSettings(alpha=1.0))
    for _ in range(30):
        m = _minute(10, 10, 5, 5)
        m["adv_n_0"] = Minute(0, 0.0)
        est.add_minute(m)
    assert "adv_n_0" not in est.estimate().faulty


def test_a_quiet_lane_is_not_stuck_off():
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for k in range(30):
        m = _minute(10, 10, 5, 5)
        m["sl_n_0"] = Minute(2 if k % 2 == 0 else 0, 2.0 if k % 2 == 0 else 0.0)
        m["adv_n_0"] = Minute(0, 0.0)
        est.add_minute(m)
    assert "adv_n_0" not in est.estimate().faulty


def test_lane_without_any_usable_detector_keeps_last_good_then_falls_back():
    est = DemandEstimator([_intersection()], _detectors(), EstimatorSettings(alpha=1.0))
    for _ in range(5):
        est.add_minute(_minute(10, 10, 5, 5))
    est.estimate()
    for _ in range(5):
        est.add_minute({k: None for k in _minute(0, 0, 0, 0)})
    d = est.estimate()
    assert d.demand[0]["n:through"] == pytest.approx(600.0)  # last good value kept
    assert set(d.stale_groups[0]) == {"n:through", "e:through"}
    assert d.fallback == [False]
    # a fresh estimator that never saw data falls back to the base plan
    fresh = DemandEstimator([_intersection()], _detectors())
    fresh.add_minute({})
    assert fresh.estimate().fallback == [True]


def test_a_lane_no_detector_watches_is_left_out_not_waited_for():
    """A bicycle or tram lane has no loops or zones (only car and bus lanes get them): its
    group gets no demand of its own, and neither goes stale nor sends the signal to its
    base plan, as a group whose detectors failed would."""
    watched = [d for d in _detectors() if d.lane == "n_0"]
    est = DemandEstimator([_intersection()], watched, EstimatorSettings(alpha=1.0))
    for _ in range(5):
        est.add_minute({k: v for k, v in _minute(10, 10, 5, 5).items() if k.endswith("n_0")})
    d = est.estimate()
    assert d.demand[0] == {"n:through": pytest.approx(600.0)}
    assert d.stale_groups == [[]] and d.fallback == [False]
    # with nothing watched at all there is nothing to retime from: the base plan
    exits_only = [DetectorInfo("x_n_0", "exit", "n_0", 30.0)]
    blind = DemandEstimator([_intersection()], exits_only)
    blind.add_minute({"x_n_0": Minute(3, 5.0)})
    assert blind.estimate().fallback == [True]


def test_faulty_detector_recovers_after_plausible_readings():
    s = EstimatorSettings(alpha=1.0, recover_minutes=3)
    est = DemandEstimator([_intersection()], _detectors(), s)
    m = _minute(10, 10, 5, 5)
    m["adv_n_0"] = Minute(500, 10.0)
    est.add_minute(m)
    assert est.fault_of("adv_n_0") == "chattering"
    for _ in range(3):
        est.add_minute(_minute(10, 10, 5, 5))
    assert est.fault_of("adv_n_0") is None


# -- flow conservation: what entered a link from the upstream signal ---------------------

_ENTRIES = {"n_0": ("x_up_0", "x_up_1")}
"""Lane n_0's link is entered through the exit zones of two lanes leaving the upstream
signal; e_0 comes from the network's edge (its entry is not seen)."""


def _with_entries() -> list[DetectorInfo]:
    exits = [DetectorInfo(d, "exit", d[2:], 30.0) for d in _ENTRIES["n_0"]]
    return _detectors() + exits


def _spilled_minute(
    entered_per_lane: float, adv_occ: float = 60.0, exit_occ: float = 0.0
) -> dict[str, Minute | None]:
    """n_0 served at 12 veh/min with its zone full (100 m of queue, not growing)."""
    m: dict[str, Minute | None] = dict(_minute(12, 12, 5, 5, adv_occ=adv_occ, n_jam=100.0))
    for d in _ENTRIES["n_0"]:
        m[d] = Minute(entered_per_lane, exit_occ)
    return m


def test_what_enters_a_spilled_link_is_its_demand():
    """The queue reaches past the advance loop, which counts only what the stop line
    lets through (720 veh/h); 1,200 veh/h enter the link upstream and join the queue."""
    s = EstimatorSettings(alpha=1.0)
    blind = DemandEstimator([_intersection()], _with_entries(), s)
    seeing = DemandEstimator([_intersection()], _with_entries(), s, entries=_ENTRIES)
    for _ in range(10):
        blind.add_minute(_spilled_minute(10))
        seeing.add_minute(_spilled_minute(10))
    unserved = 100.0 / 7.5 / 600.0 * 3600.0  # the standing zone, cleared over a period
    assert blind.estimate().demand[0]["n:through"] == pytest.approx(720.0 + unserved)
    got = seeing.estimate()
    assert got.demand[0]["n:through"] == pytest.approx(1200.0 + unserved)
    assert got.arrivals[0]["n:through"] == pytest.approx(1200.0)
    assert got.demand[0]["e:through"] == pytest.approx(300.0)  # no entry seen: as before


def test_vehicles_on_an_entry_zone_as_the_minute_begins_are_not_counted_again():
    """A zone counts every vehicle it saw in the minute. At 20 % occupancy a 30 m zone
    holds 1.2 cars on average, seen again in the next minute: 10 seen is 8.8 entered."""
    est = DemandEstimator(
        [_intersection()], _with_entries(), EstimatorSettings(alpha=1.0), entries=_ENTRIES
    )
    for _ in range(10):
        est.add_minute(_spilled_minute(10, exit_occ=20.0))
    assert est.estimate().arrivals[0]["n:through"] == pytest.approx(2 * 8.8 * 60.0)


def test_entries_count_only_when_the_queue_spills():
    """Without spill-back the advance loop sees every arrival; vehicles entering the link
    may leave it before the signal (a driveway), so the entries are not used."""
    est = DemandEstimator(
        [_intersection()], _with_entries(), EstimatorSettings(alpha=1.0), entries=_ENTRIES
    )
    for _ in range(10):
        est.add_minute(_spilled_minute(10, adv_occ=10.0))
    assert est.estimate().demand[0]["n:through"] == pytest.approx(720.0)


def test_an_unusable_entry_zone_leaves_the_estimate_as_it_was():
    est = DemandEstimator(
        [_intersection()], _with_entries(), EstimatorSettings(alpha=1.0), entries=_ENTRIES
    )
    for _ in range(10):
        m = _spilled_minute(10)
        m["x_up_1"] = None  # missing
        est.add_minute(m)
    assert est.estimate().demand[0]["n:through"] == pytest.approx(720.0 + 100.0 / 7.5 * 6.0)


def test_lanes_of_one_link_share_what_entered_it_as_their_stop_lines_served_it():
    """Two lanes entered through the same zones; the queue of one spills past its
    advance loop, so the link's 1,200 veh/h are split 2:1 as their stop lines counted
    (12 and 6 veh/min); only the spilling lane adds its standing queue."""
    entries = {"n_0": _ENTRIES["n_0"], "e_0": _ENTRIES["n_0"]}
    est = DemandEstimator(
        [_intersection()], _with_entries(), EstimatorSettings(alpha=1.0), entries=entries
    )
    for _ in range(10):
        m = _spilled_minute(10)
        m.update(_minute(12, 12, 6, 6, adv_occ=60.0, n_jam=100.0, e_jam=100.0))
        est.add_minute(m)
    got = est.estimate().demand[0]
    unserved = 100.0 / 7.5 * 6.0
    assert got["n:through"] == pytest.approx(800.0 + unserved)
    assert got["e:through"] == pytest.approx(400.0)
