"""The vectorized kernel chooses exactly what the plain-Python reference chooses.

Random snapshots drive both side by side for many steps on real intersection models
(crossings with push buttons on yizhuang_core, yielding lefts with their own arrows on a
generated grid): detector values, faulty detectors, calls, the stage showing and its age
all vary, and the state each keeps (greens seen, calls, learned discharge, plan bounds)
evolves in both. No simulation runs.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from signal_opt.controllers import kernel
from signal_opt.controllers.actuation import choose_stage, reference_signals
from signal_opt.controllers.kernel import FreeSettings
from signal_opt.controllers.max_pressure import hold_slots
from signal_opt.detectors import StepReading
from signal_opt.model import Intersection, Plan
from signal_opt.sumo.detector_reader import served_lane
from signal_opt.sumo.network import load_intersections
from signal_opt.sumo.scenario import from_sumocfg

NET = Path(__file__).resolve().parents[1] / "networks/yizhuang_core/yizhuang_core.net.xml"


@pytest.fixture(scope="module")
def intersections(turn_lane_scenario) -> list[Intersection]:
    core = load_intersections(NET)
    turns = load_intersections(from_sumocfg(turn_lane_scenario).net_file)
    return core + turns


def _detectors(xs: list[Intersection], rng: np.random.Generator):
    """Queue zones and stop-line loops per incoming lane: some lanes have none, some two
    loops, some two zones (the last one is the lane's pressure zone); exit zones of 8-40 m
    on most lanes leaving a signal. ``length`` gives every zone's length and every lane's
    (60-500 m; zones of 20-120 m, so that fed zones weigh from a share to all of their
    lane)."""
    zones: dict[str, list[str]] = {}
    loops: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    length: dict[str, float] = {}
    for lane in sorted({lk.to_lane for x in xs for lk in x.links if not lk.is_crossing}):
        if rng.random() > 0.1:
            exits[lane] = [f"x:{lane}"]
            length[f"x:{lane}"] = float(rng.uniform(8.0, 40.0))
    lanes = sorted({lk.from_lane for x in xs for lk in x.links if not lk.is_crossing})
    lanes += sorted({lk.to_lane for x in xs for lk in x.links if not lk.is_crossing})
    for lane in dict.fromkeys(lanes):
        length[lane] = float(rng.uniform(60.0, 500.0))
        r = rng.random()
        if r > 0.08:
            zones[lane] = [f"z:{lane}"] + ([f"z2:{lane}"] if r > 0.95 else [])
            length.update({d: float(rng.uniform(20.0, 120.0)) for d in zones[lane]})
        r = rng.random()
        if r > 0.08:
            loops[lane] = [f"l:{lane}"] + ([f"l2:{lane}"] if r > 0.9 else [])
    return zones, loops, exits, length


def _reference_reading(layout, snap) -> StepReading:
    """The snapshot as the reference sees it: dicts of the usable detectors only."""
    z = [i for i in range(len(layout.zone_ids)) if snap.zone_ok[i]]
    m = [i for i in range(len(layout.loop_ids)) if snap.loop_ok[i]]
    return StepReading(
        {layout.zone_ids[i]: int(snap.counts[i]) for i in z},
        {layout.zone_ids[i]: int(snap.halting[i]) for i in z},
        {layout.loop_ids[i]: float(snap.gaps[i]) for i in m},
        {layout.loop_ids[i]: int(snap.passed[i]) for i in m},
    )


def _differs_unread(layout, state, snap, shown, started, active, t, settings, rng) -> int:
    """How many signals decide otherwise when only the detectors the kernel asks for
    (:func:`kernel.first_zones`, then :func:`kernel.detail_rows`;
    :func:`kernel.watched_loops`) hold their values and every other one holds garbage
    (zeros, or vehicles)."""
    full = kernel.decide_free(
        layout, copy.deepcopy(state), snap, shown, started, active, t, settings
    )
    decide = kernel.deciding(layout, shown, started, active, t)

    def only(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        out = rng.poisson(rng.choice([0.0, 5.0]), len(values)).astype(float)  # garbage
        out[rows] = values[rows]
        return out

    counts = only(
        snap.counts, kernel.first_zones(layout, shown, decide, np.zeros(len(shown), bool))
    )
    zones, standing, loops = kernel.detail_rows(
        layout, shown, active, decide, counts, snap.zone_ok, snap.calls, settings.reads_exits
    )
    counts[zones] = snap.counts[zones]
    seen = replace(
        snap,
        counts=counts,
        halting=only(snap.halting, standing),
        gaps=only(snap.gaps, loops),
        passed=only(snap.passed, kernel.watched_loops(layout)),
    )
    choice, walk = kernel.decide_free(layout, state, seen, shown, started, active, t, settings)
    return int(((choice != full[0]) | (walk != full[1]))[active].sum())


@pytest.mark.parametrize(
    ("seed", "settings"),
    [
        (0, FreeSettings()),
        (1, FreeSettings()),
        (2, FreeSettings(saturated_share=0.5, exit_blocking=False)),
        (3, FreeSettings(saturated_share=0.01, exit_blocking=True)),
        (4, FreeSettings(storage_weighted=True)),
        (5, FreeSettings(queue_clearance=False, hold_intergreens=3.0)),
    ],
)
def test_kernel_agrees_with_the_reference_on_random_snapshots(intersections, seed, settings):
    rng = np.random.default_rng(seed)
    zones, loops, exits, length = _detectors(intersections, rng)
    t = 1000.0
    layout = kernel.build_layout(intersections, zones, loops, settings, exits, length, length)
    plans = [x.base_plan() for x in intersections]
    state = kernel.new_state(layout, plans, settings, t)
    partial = copy.deepcopy(state)  # decides from only the detectors it asks for
    refs = reference_signals(intersections, zones, loops, settings, t, exits, length, length)
    n, _p, _ = layout.shape
    n_zone, n_loop, n_cross = len(layout.zone_ids), len(layout.loop_ids), len(layout.crossing_ids)
    decisions = differing = walks = switches = unread = 0
    stage = np.array([0] * n)
    started = np.full(n, t)
    for step in range(800):
        t += 1.0
        if step % 97 == 0:  # a retiming: new plan bounds
            for i, x in enumerate(intersections):
                greens = tuple(float(s.min_green + rng.integers(0, 40)) for s in x.stages)
                plan = Plan(x.id, sum(greens) + x.lost_time, greens)
                kernel.bound_by(layout, state, i, plan, settings)
                kernel.bound_by(layout, partial, i, plan, settings)
                refs[i].bound_by(plan, settings)
            # ...and which signals the interval data found congested
            state.congested = rng.random(n) < 0.5
            partial.congested = state.congested.copy()
            for i in range(n):
                refs[i].congested = bool(state.congested[i])
        # the stage showing and since when: mostly as chosen, sometimes an intergreen
        counts = rng.poisson(rng.choice([0.3, 3.0, 12.0]), n_zone).astype(float)
        snap = kernel.Snapshot(
            counts=counts,
            halting=np.minimum(counts, rng.poisson(2.0, n_zone)),
            gaps=rng.choice([0.0, 0.5, 1.0, 2.0, 3.0, 8.0], n_loop),
            passed=rng.poisson(0.4, n_loop).astype(float),
            zone_ok=rng.random(n_zone) > 0.05,
            loop_ok=rng.random(n_loop) > 0.05,
            calls=rng.random(n_cross) < 0.1,
        )
        intergreen = rng.random(n) < 0.15
        shown = np.where(intergreen, -1, stage)
        active = shown >= 0
        choice, walk = kernel.decide_free(layout, state, snap, shown, started, active, t, settings)
        unread += _differs_unread(layout, partial, snap, shown, started, active, t, settings, rng)
        seen = _reference_reading(layout, snap)
        for i, x in enumerate(intersections):
            if not active[i]:
                continue
            calls = frozenset(
                c for k, (tls, c) in enumerate(layout.crossing_ids) if tls == x.id and snap.calls[k]
            )
            want, want_walk = choose_stage(
                refs[i], int(shown[i]), float(started[i]), t, seen, settings, calls
            )
            decisions += 1
            differing += (want, want_walk) != (int(choice[i]), bool(walk[i]))
            walks += want_walk
            switches += want != shown[i]
        # the chosen stage starts (after a short intergreen) where it changed
        changed = active & (choice != shown)
        stage = np.where(changed, choice, stage)
        started = np.where(changed, t + rng.integers(0, 6, n), started)
    assert differing == 0, f"{differing} of {decisions} decisions differ"
    assert unread == 0, f"{unread} decisions differ when only the detectors asked for are read"
    assert decisions > 10_000
    # the snapshots exercised the rules: switches, walks and learned discharge all happen
    # (holding saturated greens leaves fewer switches)
    assert switches > (200 if settings.saturated_share else 500) and walks > 50
    assert state.seconds[layout.yields].sum() > 0


def test_max_pressure_kernel_agrees_with_the_reference(intersections):
    from signal_opt.controllers.max_pressure import pressure_of

    rng = np.random.default_rng(3)
    zones, loops, _exits, _length = _detectors(intersections, rng)
    layout = kernel.build_layout(intersections, zones, loops, FreeSettings())
    n, p, _ = layout.shape
    holds = np.full((n, p), np.inf)
    for i, x in enumerate(intersections):
        slots = hold_slots(x, None, 3.0)
        holds[i, : len(slots)] = slots
    zone_of = {lane: z[-1] for lane, z in zones.items()}
    refs = [pressure_of(x, zone_of) for x in intersections]
    decisions = 0
    for _ in range(400):
        counts = rng.poisson(rng.choice([0.5, 4.0]), len(layout.zone_ids)).astype(float)
        stage = np.array([rng.integers(-1, len(x.stages)) for x in intersections])
        elapsed = rng.uniform(0, 40, n)
        got = kernel.decide_max_pressure(layout, counts, stage, elapsed, holds)
        by_id = dict(zip(layout.zone_ids, counts))
        for i in range(n):
            s = int(stage[i])
            if s < 0 or elapsed[i] < holds[i, s]:
                assert got[i] == -1
                continue
            press = refs[i].of(by_id)
            best = int(np.argmax(press))
            want = best if best != s and press[best] > press[s] else s
            assert got[i] == want
            decisions += 1
    assert decisions > 2_000


def test_padding_never_chooses_a_missing_stage(intersections):
    # signals with fewer stages than the widest one: their padded stages never win
    settings = replace(FreeSettings(), max_wait_cycles=0.0)
    layout = kernel.build_layout(intersections, {}, {}, settings)
    state = kernel.new_state(layout, [x.base_plan() for x in intersections], settings, 0.0)
    n, _p, _ = layout.shape
    snap = kernel.Snapshot(
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0, bool),
        np.zeros(0, bool),
        np.zeros(len(layout.crossing_ids), bool),
    )
    stage = np.zeros(n, dtype=np.int64)
    choice, _ = kernel.decide_free(
        layout, state, snap, stage, np.zeros(n), np.ones(n, bool), 500.0, settings
    )
    assert layout.valid[np.arange(n), choice].all()
    assert (choice != 0).any()  # no zones: every stage is recalled, and waits are long


def _shadowed(monkeypatch):
    """An adaptive controller whose every kernel decision the reference repeats on the
    same snapshot, with the same plan bounds and congestion marks; returns the controller
    and the tally (decisions, those at congested signals, differing)."""
    from signal_opt.controllers import adaptive
    from signal_opt.controllers.adaptive import AdaptiveController

    ctl = AdaptiveController()
    refs: list = []
    tally = {"decisions": 0, "congested": 0, "differing": 0}
    real = kernel.decide_free

    def shadow(layout, state, snap, stage, started, active, t, settings):
        if not refs:
            zones: dict[str, list[str]] = {}
            loops: dict[str, list[str]] = {}
            for spec in ctl.ctx.detectors:
                kind = {"queue": zones, "stopline": loops}.get(spec.kind)
                if kind is not None:
                    kind.setdefault(served_lane(spec), []).append(spec.id)
            length = {s.id: s.length for s in ctl.ctx.detectors if s.kind == "queue"}
            length.update(
                (ln.getID(), ln.getLength()) for e in ctl.ctx.net.getEdges() for ln in e.getLanes()
            )
            refs.extend(
                reference_signals(
                    ctl.ctx.intersections, zones, loops, settings, t - 1, None, length, length
                )
            )
        bounds = state.max_greens.copy(), state.max_wait.copy()
        choice, walk = real(layout, state, snap, stage, started, active, t, settings)
        seen = _reference_reading(layout, snap)
        for i, sig in enumerate(refs):
            sig.max_greens = [float(v) for v in bounds[0][i, : len(sig.x.stages)]]
            sig.max_wait = float(bounds[1][i])
            sig.congested = bool(state.congested[i])
            if not active[i]:
                continue
            want = choose_stage(sig, int(stage[i]), float(started[i]), t, seen, settings)
            tally["decisions"] += 1
            tally["congested"] += sig.congested
            tally["differing"] += want != (int(choice[i]), bool(walk[i]))
        return choice, walk

    monkeypatch.setattr(adaptive, "decide_free", shadow)
    return ctl, tally


@pytest.mark.sumo
def test_kernel_agrees_with_the_reference_in_a_simulation(
    turn_lane_scenario, tmp_path, monkeypatch
):
    """Every step of a real adaptive run, recorded as it happens: the reference decides
    on the same snapshot and must choose what the kernel chose."""
    from signal_opt.sumo.simulation import run

    ctl, tally = _shadowed(monkeypatch)
    sc = from_sumocfg(turn_lane_scenario).with_window(0, 900)
    run(sc, ctl, tmp_path, progress=False)
    assert tally["decisions"] > 1000
    assert tally["differing"] == 0, tally


def test_kernel_agrees_with_the_reference_in_a_congested_fake_run(tmp_path, monkeypatch):
    """The same on the fake backend under demand the signals cannot serve, so that many
    decisions fall at signals marked congested (where saturated greens are held): more
    than 10,000 recorded snapshots, not one differing decision."""
    from signal_opt.sumo.fake import run_fake

    core = NET.parent
    ctl, tally = _shadowed(monkeypatch)
    run_fake(ctl, NET, core / "yizhuang_core.det.add.xml", tmp_path, 1800, rate=0.4)
    assert tally["decisions"] > 10_000
    assert tally["congested"] > 1000
    assert tally["differing"] == 0, tally


def test_a_fed_zone_weighs_the_share_of_its_lane_it_covers(intersections):
    """With storage weighting, a 110 m zone on a 440 m lane a stage feeds takes a quarter
    of its vehicles off the pressure of the lanes feeding it; on a lane it covers whole,
    all of them; with the weighting off, or lane lengths unknown, all of them too (plain
    max-pressure)."""
    links = [lk for x in intersections for lk in x.links if not lk.is_crossing]
    fed = sorted({lk.to_lane for lk in links})
    zones = {lane: [f"z:{lane}"] for lane in {lk.from_lane for lk in links} | set(fed)}
    zone_m = {f"z:{lane}": 110.0 for lane in zones}
    lane_m = {lane: 440.0 if k % 2 else 80.0 for k, lane in enumerate(fed)}

    def coefs(settings: FreeSettings, lanes: dict | None) -> dict[str, float]:
        layout = kernel.build_layout(intersections, zones, {}, settings, None, zone_m, lanes)
        out: dict[str, float] = {}
        for z, c in zip(layout.term_zone, layout.term_coef, strict=True):
            if c < 0:
                out.setdefault(layout.zone_ids[z], c)
        return out

    weighed = coefs(FreeSettings(storage_weighted=True), lane_m)
    plain = coefs(FreeSettings(storage_weighted=True), None)
    assert plain == coefs(FreeSettings(storage_weighted=False), lane_m)
    assert weighed.keys() == plain.keys() and len(weighed) > 10
    for zone, c in weighed.items():
        share = 0.25 if lane_m[zone[2:]] == 440.0 else 1.0
        assert c == pytest.approx(plain[zone] * share)
    assert {round(weighed[z] / plain[z], 6) for z in weighed} == {0.25, 1.0}


def test_a_full_exit_zone_blocks_the_lanes_feeding_it(intersections):
    """Vehicles standing over a whole exit zone take the pressure of every lane it serves
    away; half full, half; empty exits leave pressure as it was."""
    zones, loops, exits, length = _detectors(intersections, np.random.default_rng(5))
    layout = kernel.build_layout(intersections, zones, loops, FreeSettings(), exits, length)
    nz = len(layout.zone_ids)
    is_exit = np.array([d.startswith("x:") for d in layout.zone_ids])
    counts = np.where(is_exit, 0.0, 6.0)
    free = kernel.pressure(layout, counts)  # (N, P)
    assert (free > 0).any()
    open_all = kernel.open_share(layout, np.zeros(nz))
    assert np.array_equal(kernel.pressure(layout, counts, open_all), free)
    full = np.where(is_exit, layout.capacity[:nz], 0.0)
    blocked = kernel.pressure(layout, counts, kernel.open_share(layout, full))
    # a lane all of whose exits have a zone is blocked outright; the rest keep a share
    fed_by_exit = np.zeros(layout.served.size)
    np.add.at(fed_by_exit, layout.exit_row, layout.exit_share)
    whole = (np.isclose(fed_by_exit, 1.0).reshape(layout.served.shape) | ~layout.served).all(2)
    assert (blocked[whole] == 0).all() and whole.sum() > 10
    half = kernel.pressure(layout, counts, kernel.open_share(layout, full / 2))
    assert np.allclose(half[whole], free[whole] / 2, atol=1e-8)
