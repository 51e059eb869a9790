"""One decision for every signal per step, in array operations.

The rules are those of :mod:`signal_opt.controllers.actuation` (free operation inside a
retimed plan) and of :mod:`signal_opt.controllers.max_pressure`; those modules keep a
plain-Python reference of each, which the tests hold this kernel to on recorded and
random snapshots. Here a whole network decides at once, with no Python loop over signals,
stages, lanes or detectors on the per-step path.

Shapes (written on the lines that make the arrays):

- ``N`` signals, ``P`` stages (the most any signal has; missing stages padded and never
  chosen), ``L`` incoming lanes per signal (padded);
- ``Z`` queue zones and ``M`` stop-line loops of the whole network, numbered once
  (:class:`Layout` ``zone_ids`` / ``loop_ids``); ``C`` pedestrian crossings;
- per stage, the zones of its lanes (``S`` slots), its gap-out loops (``G`` slots) and its
  crossings (``K`` slots), as index arrays padded with an index that points at a zero;
- ``Z`` counts the exit zones too (just past the junction on each lane leaving a signal);
  ``E`` is the number of (stage, lane, exit) terms of exit blocking.

A :class:`Snapshot` holds what the detectors show after one step, as flat arrays indexed
by detector number; :class:`KernelState` what the kernel remembers between steps (when
each stage and lane last had green, push-button calls, learned discharge rates, the
bounds of the plan in force).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from signal_opt.detectors import VEHICLE_SPACING_M, zone_capacity
from signal_opt.model import GREEN_STATES, Intersection, Plan

PRESSURE_DECIMALS = 9
"""Pressures are rounded to this many decimals (here and in the plain-Python reference), so
that equal pressures compare equal however their terms were summed."""
PRIOR_RATE = 0.5
"""Vehicles per second of green of a lane before any are measured (1,800 veh/h)."""
PRIOR_SECONDS = 30.0
"""Seconds of green the prior counts for."""


@dataclass(frozen=True)
class FreeSettings:
    hold_intergreens: float = 2.0
    """A green holds for this many times its intergreen before pressure may end it (and
    for its queue's clearance time, ``queue_clearance``)."""
    min_hold: float = 5.0
    gap: float = 2.0
    """Gap-out: seconds without a vehicle on the stop-line loops (queue zones empty)."""
    max_green_factor: float = 3.0
    """A green may run up to this multiple of its planned green."""
    max_green_floor: float = 5.0
    """...and at least this much longer than its minimum green."""
    max_wait_cycles: float = 3.0
    """A lane with vehicles that has waited this many planned cycles for green is served
    next, whatever the pressures, when the current green ends (gap-out, maximum green or
    pressure). It does not cut the current green short: ended at its minimum, saturated
    or not, greens lost 5-18 % on arterials and districts in congestion."""
    max_ped_wait: float = 90.0
    """A pressed push button waits for its walk at most this long (s)."""
    pedestrian_recall: bool = False
    """Every green runs its walk, as fixed-time plans do (no push buttons needed)."""
    keep_moving: bool = True
    """Pressure does not end a green while more vehicles move through its queue zones
    than the best waiting stage's pressure."""
    learn_rates: bool = True
    """Weigh each lane's pressure by how fast each stage is measured to serve it
    (:mod:`signal_opt.controllers.discharge`)."""
    saturated_share: float = 0.5
    """At a congested signal (:attr:`KernelState.congested`), a green is not ended by
    pressure while it still discharges at saturation: while at least this share of its
    usable gap-out loops has seen a vehicle within ``gap`` s and vehicles move through its
    queue zones (0: off; a queue standing on a busy loop is held by a blocked exit).
    Pressure from queue zones drops as a queue longer than the zones starts to move
    (moving vehicles are spaced wider than standing ones) although the green serves it at
    full rate; ending it then wastes an intergreen of capacity, which congestion cannot
    spare."""
    storage_weighted: bool = False
    """Each queue zone a lane feeds counts in its pressure by the share of the fed lane
    it covers (:func:`fed_share`): a 110 m zone at the far end of a 450 m link weighs
    0.24, one covering a short link 1. A full zone far down a long link leaves most of the
    link's room unseen; counting it whole repels a green that still has somewhere to go
    (capacity-aware back-pressure: Gregoire, Qian, Frazzoli et al., 2014). Off by default:
    over two seeds it gains 3 % on the heavy stress cases and loses 2-5 % on a held-out
    district (``benchmarks/results/congestion_variants.md``)."""
    exit_blocking: bool = True
    """Weigh each lane's pressure by the share of its exits not blocked: vehicles standing
    in the exit zone just past the junction (the next link's queue reaches back to it)
    leave no room, and a green into a blocked exit serves nobody (its pressure counts
    for what the green can move, good or bad). Over four SUMO seeds: -1.1 % time loss on
    the mean of the stress family and the shared scenarios but berlin_doerpfeldstr (a
    heavy grid -10 %, a gridlocked arterial -6 %, bologna_pasubio and ingolstadt7_high
    -5 to -6 %; none worse by more than 3 %), berlin -11 % over twelve seeds; on six
    fresh draws +0.4 %, a heavy grid +8 % (``benchmarks/results/congestion_variants.md``)."""
    lost_time_hold: bool = True
    """At every signal, pressure does not end a green that still discharges at saturation
    (as for ``saturated_share``) before it has run the signal's lost time per cycle (its
    intergreens, :attr:`Intersection.lost_time`), provided its busy stop-line loops are
    at least as many as the lanes with vehicles the best waiting stage would serve. Every
    switch costs the signal an intergreen of nobody served; in polling systems with
    switchover times the queue that drains faster is served exhaustively (the c-mu rule),
    and one draining no faster than its rival gains nothing by being held. Over four
    seeds of the stress family and the shared scenarios: -0.9 % time loss on the mean,
    8 cases better by more than 3 %, a heavy arterial and a heavy grid worse by 13 % and
    10 %; -1.3 % on six fresh draws (``benchmarks/results/congestion_variants.md``)."""
    exit_open_share: float = 0.5
    """A green is held as discharging (``saturated_share``, ``lost_time_hold``) only while
    its lanes' exits are on average at least this open (:func:`open_share`): a queue that
    crawls because the next link is full is not served by holding its green (0: exits
    not read for holds)."""

    queue_clearance: bool = True
    """Pressure does not end a green before the queue that stood when it was chosen has
    had time to clear: ``startup_lost`` plus ``clear_headway`` per vehicle on the stage's
    fullest queue zone (lanes discharge side by side), unless its exits are blocked
    (``exit_open_share``). This is the "added initial" green of field actuated
    controllers (volume-density operation: the minimum green grows with the queue counted
    during red), and gated service in polling systems with switchover times: a visit
    serves at least who was waiting when it began. A light queue clears within the hold;
    a long one keeps its green until it has gone, so a short hold serves light traffic
    without cutting long queues into several greens, each paying an intergreen."""
    startup_lost: float = 2.0
    """Seconds lost as a standing queue starts (the Highway Capacity Manual's value)."""
    clear_headway: float = 1.0 / PRIOR_RATE
    """Seconds per vehicle and lane of a discharging queue (1,800 veh/h)."""

    def clearance(self, vehicles: np.ndarray) -> np.ndarray:
        """Seconds of green a queue of ``vehicles`` (any shape) on the fullest lane needs
        (0: no queue, or ``queue_clearance`` off)."""
        need = self.startup_lost + self.clear_headway * vehicles
        return np.where((vehicles > 0) & self.queue_clearance, need, 0.0)

    @property
    def reads_exits(self) -> bool:
        """Whether decisions read the standing vehicles of exit zones."""
        holds = self.saturated_share > 0 or self.queue_clearance
        return self.exit_blocking or (self.exit_open_share > 0 and holds)


def fed_share(zone_m: float | None, lane_m: float | None) -> float:
    """The share of a lane (``lane_m`` metres long) its queue zone (``zone_m`` metres)
    covers, at most 1; 1 where either length is unknown."""
    if not zone_m or not lane_m:
        return 1.0
    return min(1.0, zone_m / lane_m)


def incoming_lanes(x: Intersection) -> list[str]:
    """The incoming lanes of ``x`` (L,), sorted (watched by detectors or not)."""
    return sorted({lk.from_lane for lk in x.links if not lk.is_crossing})


@dataclass(frozen=True)
class Layout:
    """Which detectors serve which stage and lane of every signal; built once per run."""

    ids: tuple[str, ...]
    """Signal ids (N,), in the order of every array's first axis."""
    zone_ids: tuple[str, ...]
    """Queue zones (Z,), numbered as the snapshot's ``counts`` and ``halting``."""
    loop_ids: tuple[str, ...]
    """Stop-line loops (M,), numbered as the snapshot's ``gaps`` and ``passed``."""
    crossing_ids: tuple[tuple[str, int], ...]
    """Crossings (C,) as ``(signal id, link index)``, numbered as ``calls``."""
    valid: np.ndarray
    """(N, P) bool: the stage exists."""
    vehicle_min: np.ndarray
    """(N, P) minimum green without the walk, s."""
    min_green: np.ndarray
    """(N, P) minimum green with the walk, s (the floor of the maximum greens)."""
    holds: np.ndarray
    """(N, P) seconds a green holds before pressure may end it."""
    stage_zones: np.ndarray
    """(N, P, S) zone numbers of each stage's lanes, padded with Z."""
    stage_loops: np.ndarray
    """(N, P, G) gap-out loop numbers of each stage, padded with M."""
    stage_crossings: np.ndarray
    """(N, P, K) crossing numbers each stage shows green with its walk, padded with C."""
    signal_crossings: np.ndarray
    """(N, K2) crossing numbers of each signal, padded with C."""
    term_row: np.ndarray
    """(T,) flat index into (N, P, L) of each pressure term."""
    term_zone: np.ndarray
    """(T,) zone number of each term (+1 for the lane's zone, -1/k for a zone it feeds)."""
    term_coef: np.ndarray
    """(T,) coefficient of each term."""
    served: np.ndarray
    """(N, P, L) bool: the stage gives the lane green."""
    yields: np.ndarray
    """(N, P, L) bool: a yielding green where another stage gives the lane priority."""
    lane_zone: np.ndarray
    """(N, L) zone number of each lane's queue zone, Z for none."""
    lane_loops: np.ndarray
    """(N, L, J) loop numbers of each lane's stop-line loops, padded with M."""
    learned: np.ndarray
    """(N, L) bool: the lane's discharge is learned (a stage gives it a yielding green)."""
    learning: np.ndarray
    """(N,) bool: the signal has a lane whose discharge is learned."""
    exit_row: np.ndarray
    """(E,) flat index into (N, P, L) of each lane's exit a stage serves it into."""
    exit_zone: np.ndarray
    """(E,) zone number of that exit's exit zone."""
    exit_share: np.ndarray
    """(E,) share of the lane's traffic the exit takes in that stage (1/k of k exits)."""
    capacity: np.ndarray
    """(Z + 1,) vehicles each zone holds standing (the padding slot: infinite)."""
    signal_exits: np.ndarray
    """(N, X) exit zones of each signal, padded with Z."""
    signal_zones: np.ndarray
    """(N, W) every zone a signal's decision reads (its stages' zones and the zones its
    lanes feed), padded with Z."""
    rival_zones: np.ndarray
    """(N, P, V) the zones of every other stage than each stage, padded with Z: what
    tells whether someone waits elsewhere while that stage shows green."""
    lost: np.ndarray
    """(N,) lost time per cycle of each signal (:attr:`Intersection.lost_time`), s."""

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.served.shape  # type: ignore[return-value]


@dataclass
class KernelState:
    """What the kernel remembers between steps (arrays updated in place)."""

    max_greens: np.ndarray
    """(N, P) longest green of each stage under the plan in force, s."""
    max_wait: np.ndarray
    """(N,) wait after which a lane with vehicles is served next, s."""
    last_green: np.ndarray
    """(N, P) when each stage last showed green, s."""
    zone_green: np.ndarray
    """(Z + 1,) when each zone's lane last had green, s (the last slot is padding)."""
    called_since: np.ndarray
    """(C + 1,) when each crossing's button was first seen pressed (NaN: not pressed)."""
    seconds: np.ndarray
    """(N, P, L) seconds of green with a queue standing on the lane (yielding lanes)."""
    passed: np.ndarray
    """(N, P, L) vehicles over the stop line in those seconds."""
    congested: np.ndarray
    """(N,) bool: queues at the signal reach past its zones (set by the controller from
    interval data)."""
    clearance: np.ndarray
    """(N,) seconds of green the queue needs that stood when the green in force was chosen
    (:meth:`FreeSettings.clearance`)."""


@dataclass(frozen=True)
class Snapshot:
    """What the detectors show after one step, by detector number."""

    counts: np.ndarray
    """(Z,) vehicles on each queue zone."""
    halting: np.ndarray
    """(Z,) vehicles standing on each queue zone."""
    gaps: np.ndarray
    """(M,) seconds since a vehicle last left each stop-line loop."""
    passed: np.ndarray
    """(M,) vehicles that reached each stop-line loop during the step."""
    zone_ok: np.ndarray
    """(Z,) bool: the zone is usable (not found faulty)."""
    loop_ok: np.ndarray
    """(M,) bool: the loop is usable."""
    calls: np.ndarray
    """(C,) bool: the crossing's push button is pressed."""


def _padded_rows(rows: Sequence[Sequence[int]], fill: int) -> np.ndarray:
    """``rows`` as one index array (len(rows), width), each row padded with ``fill``."""
    width = max(map(len, rows), default=0) or 1
    out = np.full((len(rows), width), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _padded(rows: Sequence[Sequence[Sequence[int]]], n: int, p: int, fill: int) -> np.ndarray:
    width = max((len(r) for sig in rows for r in sig), default=0) or 1
    out = np.full((n, p, width), fill, dtype=np.int64)  # (N, P, width)
    for i, sig in enumerate(rows):
        for k, r in enumerate(sig):
            out[i, k, : len(r)] = r
    return out


def build_layout(
    intersections: Sequence[Intersection],
    queue_zones: Mapping[str, Sequence[str]],
    stop_loops: Mapping[str, Sequence[str]],
    settings: FreeSettings,
    exit_zones: Mapping[str, Sequence[str]] | None = None,
    zone_length: Mapping[str, float] | None = None,
    lane_length: Mapping[str, float] | None = None,
) -> Layout:
    """The layout of ``intersections``; ``queue_zones`` / ``stop_loops`` map an incoming
    lane to its queue zones / stop-line loops (the last queue zone of a lane is the one
    pressure reads), ``exit_zones`` a lane leaving a signal to its exit zones (the last
    one counts), ``zone_length`` a zone to its length in metres (what it holds standing:
    one vehicle per :data:`VEHICLE_SPACING_M`), ``lane_length`` a lane to its length
    (with ``settings.storage_weighted``, what a zone it has weighs in the pressure of the
    lanes feeding it; None: every fed zone weighs 1, as in plain max-pressure)."""
    exit_zones = exit_zones or {}
    zone_length = zone_length or {}
    lane_length = (lane_length or {}) if settings.storage_weighted else {}
    zone_ids = sorted({d for ds in (*queue_zones.values(), *exit_zones.values()) for d in ds})
    loop_ids = sorted({d for ds in stop_loops.values() for d in ds})
    zi = {d: i for i, d in enumerate(zone_ids)}
    li = {d: i for i, d in enumerate(loop_ids)}
    nz, nm = len(zone_ids), len(loop_ids)
    crossing_ids = [(x.id, c) for x in intersections for c in sorted(x.crossings)]
    ci = {c: i for i, c in enumerate(crossing_ids)}
    nc = len(crossing_ids)
    n = len(intersections)
    p = max(len(x.stages) for x in intersections)
    lanes_of = [incoming_lanes(x) for x in intersections]
    nl = max((len(ls) for ls in lanes_of), default=0) or 1
    valid = np.zeros((n, p), bool)  # (N, P)
    vehicle_min = np.full((n, p), np.inf)  # (N, P)
    min_green = np.full((n, p), np.inf)  # (N, P)
    holds = np.full((n, p), np.inf)  # (N, P)
    served = np.zeros((n, p, nl), bool)  # (N, P, L)
    priority = np.zeros((n, p, nl), bool)  # (N, P, L)
    lane_zone = np.full((n, nl), nz, dtype=np.int64)  # (N, L)
    zones_rows, loops_rows, cross_rows = [], [], []
    loops_of_lane: list[list[list[int]]] = []
    rows: list[int] = []
    dets: list[int] = []
    coefs: list[float] = []
    exit_rows: list[int] = []
    exit_dets: list[int] = []
    exit_shares: list[float] = []
    exits_of: list[list[int]] = []
    for i, x in enumerate(intersections):
        lanes = lanes_of[i]
        lane_i = {ln: k for k, ln in enumerate(lanes)}
        for k, ln in enumerate(lanes):
            first = queue_zones.get(ln, ())
            lane_zone[i, k] = zi[first[-1]] if first else nz
        loops_of_lane.append([[li[d] for d in stop_loops.get(ln, ())] for ln in lanes])
        sz, sl, sc = [], [], []
        for k, stage in enumerate(x.stages):
            valid[i, k] = True
            vehicle_min[i, k] = stage.min_green_for(False)
            min_green[i, k] = stage.min_green
            holds[i, k] = max(settings.min_hold, settings.hold_intergreens * stage.intergreen_time)
            group_lanes = sorted({ln for g in stage.lane_groups for ln in x.lane_groups[g].lanes})
            prio = sorted(
                {
                    lk.from_lane
                    for lk in x.links
                    if not lk.is_crossing and stage.state[lk.index] == "G"
                }
            )
            sz.append([zi[d] for ln in group_lanes for d in queue_zones.get(ln, ())])
            sl.append([li[d] for ln in (prio or group_lanes) for d in stop_loops.get(ln, ())])
            sc.append(
                [ci[(x.id, c)] for c in sorted(x.crossings) if stage.state[c] in GREEN_STATES]
            )
            # pressure terms: +1 for the lane, -1/k for each lane it feeds
            feeds: dict[str, list[str]] = {}
            for lk in x.links:
                if lk.is_crossing or stage.state[lk.index] not in GREEN_STATES:
                    continue
                feeds.setdefault(lk.from_lane, []).append(lk.to_lane)
                served[i, k, lane_i[lk.from_lane]] = True
                if stage.state[lk.index] == "G":
                    priority[i, k, lane_i[lk.from_lane]] = True
            for ln, outs in sorted(feeds.items(), key=lambda kv: lane_i[kv[0]]):
                row = (i * p + k) * nl + lane_i[ln]
                terms: dict[int, float] = {}
                own = queue_zones.get(ln, ())
                if own:
                    terms[zi[own[-1]]] = terms.get(zi[own[-1]], 0.0) + 1.0
                for out in outs:
                    fed = queue_zones.get(out, ())
                    if fed:
                        z = zi[fed[-1]]
                        share = fed_share(zone_length.get(fed[-1]), lane_length.get(out))
                        terms[z] = terms.get(z, 0.0) - share / len(outs)
                for z, c in sorted(terms.items()):
                    rows.append(row)
                    dets.append(z)
                    coefs.append(c)
                for out in outs:
                    gone = exit_zones.get(out, ())
                    if gone:
                        exit_rows.append(row)
                        exit_dets.append(zi[gone[-1]])
                        exit_shares.append(1.0 / len(outs))
        leaving = sorted({lk.to_lane for lk in x.links if not lk.is_crossing})
        exits_of.append([zi[exit_zones[o][-1]] for o in leaving if exit_zones.get(o)])
        zones_rows.append(sz)
        loops_rows.append(sl)
        cross_rows.append(sc)
    lane_loops = _padded(loops_of_lane, n, nl, nm)  # (N, L, J)
    yields = served & ~priority & priority.any(axis=1, keepdims=True)  # (N, P, L)
    stage_zones = _padded(zones_rows, n, p, nz)  # (N, P, S)
    fed_zones: list[set[int]] = [set() for _ in range(n)]
    for row, z in zip(rows, dets):
        fed_zones[row // (p * nl)].add(z)
    per_signal = [
        sorted((set(stage_zones[i].ravel().tolist()) | fed_zones[i]) - {nz}) for i in range(n)
    ]
    signal_zones = _padded_rows(per_signal, nz)  # (N, W)
    rivals = [
        [
            sorted({z for j, r in enumerate(zones_rows[i]) if j != k for z in r})
            for k in range(len(zones_rows[i]))
        ]
        for i in range(n)
    ]
    rival_zones = _padded(rivals, n, p, nz)  # (N, P, V)
    signal_exits = _padded_rows(exits_of, nz)  # (N, X)
    capacity = np.array(
        [zone_capacity(zone_length.get(d, VEHICLE_SPACING_M)) for d in zone_ids] + [np.inf]
    )  # (Z + 1,)
    signal_crossings = _padded_rows(
        [[ci[(x.id, c)] for c in sorted(x.crossings)] for x in intersections], nc
    )  # (N, K2)
    return Layout(
        ids=tuple(x.id for x in intersections),
        zone_ids=tuple(zone_ids),
        loop_ids=tuple(loop_ids),
        crossing_ids=tuple(crossing_ids),
        valid=valid,
        vehicle_min=vehicle_min,
        min_green=min_green,
        holds=holds,
        stage_zones=stage_zones,
        stage_loops=_padded(loops_rows, n, p, nm),
        stage_crossings=_padded(cross_rows, n, p, nc),
        signal_crossings=signal_crossings,
        term_row=np.array(rows, dtype=np.int64),
        term_zone=np.array(dets, dtype=np.int64),
        term_coef=np.array(coefs, dtype=float),
        served=served,
        yields=yields,
        lane_zone=lane_zone,
        lane_loops=lane_loops,
        learned=np.asarray(yields.any(axis=1)),
        learning=np.asarray(yields.any(axis=(1, 2))),
        exit_row=np.array(exit_rows, dtype=np.int64),
        exit_zone=np.array(exit_dets, dtype=np.int64),
        exit_share=np.array(exit_shares, dtype=float),
        capacity=capacity,
        signal_exits=signal_exits,
        signal_zones=signal_zones,
        rival_zones=rival_zones,
        lost=np.array([x.lost_time for x in intersections]),
    )


def new_state(
    layout: Layout, plans: Sequence[Plan], settings: FreeSettings, t: float
) -> KernelState:
    """The state at ``t`` with every signal bound by its plan in ``plans`` (N,)."""
    n, p, nl = layout.shape
    state = KernelState(
        max_greens=np.full((n, p), np.inf),
        max_wait=np.zeros(n),
        last_green=np.full((n, p), t),
        zone_green=np.full(len(layout.zone_ids) + 1, t),
        called_since=np.full(len(layout.crossing_ids) + 1, np.nan),
        seconds=np.zeros((n, p, nl)),
        passed=np.zeros((n, p, nl)),
        congested=np.zeros(n, bool),
        clearance=np.zeros(n),
    )
    for i, plan in enumerate(plans):
        bound_by(layout, state, i, plan, settings)
    return state


def bound_by(
    layout: Layout, state: KernelState, i: int, plan: Plan, settings: FreeSettings
) -> None:
    """Signal ``i`` takes the bounds of ``plan``: each green up to ``max_green_factor`` x
    its planned green (at least its minimum plus ``max_green_floor``), and a lane that has
    waited ``max_wait_cycles`` planned cycles served next."""
    k = len(plan.greens)
    greens = np.asarray(plan.greens, float)  # (P_i,)
    floor = layout.min_green[i, :k] + settings.max_green_floor  # (P_i,)
    state.max_greens[i, :k] = np.maximum(settings.max_green_factor * greens, floor)
    state.max_wait[i] = settings.max_wait_cycles * plan.cycle


def pressure(
    layout: Layout,
    counts: np.ndarray,
    rates: np.ndarray | None = None,
    rows: np.ndarray | slice = slice(None),
) -> np.ndarray:
    """Stage pressures (R, P) of the signals ``rows`` (default: all, R = N) from the
    vehicles on each queue zone (Z,) (0 where a zone is unusable); ``rates`` (R, P, L)
    weighs each lane's term (None: every served lane 1)."""
    n, p, nl = layout.shape
    q = np.append(counts, 0.0)  # (Z + 1,)
    lane = np.bincount(
        layout.term_row, weights=layout.term_coef * q[layout.term_zone], minlength=n * p * nl
    ).reshape(n, p, nl)[rows]  # (R, P, L)
    if rates is not None:
        lane = lane * rates
    return np.round(lane.sum(axis=2), PRESSURE_DECIMALS)  # (R, P)


def rates(layout: Layout, state: KernelState, settings: FreeSettings) -> np.ndarray:
    """Each stage's service rate of each lane (N, P, L): for a yielding green, its learned
    discharge relative to the best stage for that lane; 1 for every other served lane."""
    out = layout.served.astype(float)  # (N, P, L)
    r = np.flatnonzero(layout.learning)  # (R,) only signals with a yielding green differ
    if not settings.learn_rates or not r.size:
        return out
    n0 = PRIOR_SECONDS
    served = out[r]  # (R, P, L)
    rate = (state.passed[r] + PRIOR_RATE * n0) / (state.seconds[r] + n0) * served  # (R, P, L)
    best = rate.max(axis=1, keepdims=True)  # (R, 1, L)
    rel = np.divide(rate, best, out=np.zeros_like(rate), where=best > 0)
    out[r] = np.where(layout.yields[r], rel, served)
    return out


def open_share(layout: Layout, halting: np.ndarray) -> np.ndarray:
    """The share of each lane's traffic (N, P, L) whose exit is open in each stage, from
    the vehicles standing on each zone (Z,) (0 where unusable): an exit zone full of
    standing vehicles is blocked, a half-full one half."""
    n, p, nl = layout.shape
    fill = np.minimum(np.append(halting, 0.0) / layout.capacity, 1.0)  # (Z + 1,)
    blocked = np.bincount(
        layout.exit_row, weights=layout.exit_share * fill[layout.exit_zone], minlength=n * p * nl
    ).reshape(n, p, nl)  # (N, P, L)
    return 1.0 - blocked


def decide_free(
    layout: Layout,
    state: KernelState,
    snap: Snapshot,
    stage: np.ndarray,
    started: np.ndarray,
    active: np.ndarray,
    t: float,
    settings: FreeSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """The stage each signal should show after this step and whether with its walk:
    ``(choice (N,), walk (N,))``. ``stage`` (N,) is the green showing since ``started``
    (N,); only ``active`` (N,) signals (free, in a green) decide, the others keep
    ``stage``. Updates ``state`` (greens seen, calls, discharge) for the active ones."""
    n = len(layout.ids)
    nz, nc = len(layout.zone_ids), len(layout.crossing_ids)
    rows = np.flatnonzero(active)  # (A,)
    cur = np.where(active, stage, 0)  # (N,)
    # remember: this stage and its lanes have green now; calls pressed now
    state.last_green[rows, cur[rows]] = t
    state.zone_green[layout.stage_zones[rows, cur[rows]].ravel()] = t
    state.zone_green[nz] = t
    mine = layout.signal_crossings[rows].ravel()  # crossings of the active signals
    pressed = np.append(snap.calls, False)  # (C + 1,)
    prev = state.called_since[mine]
    state.called_since[mine] = np.where(pressed[mine], np.where(np.isnan(prev), t, prev), np.nan)
    state.called_since[nc] = np.nan
    zone_ok = np.append(snap.zone_ok, False)  # (Z + 1,)
    loop_ok = np.append(snap.loop_ok, False)  # (M + 1,)
    counts = np.where(zone_ok, np.append(snap.counts, 0.0), 0.0)  # (Z + 1,)
    halting = np.where(zone_ok, np.append(snap.halting, 0.0), 0.0)  # (Z + 1,)
    _observe_discharge(layout, state, rows, cur, halting, loop_ok, np.append(snap.passed, 0.0))

    elapsed = t - started  # (N,)
    below_min = ~deciding(layout, stage, started, active, t)  # (N,)
    called = ~np.isnan(state.called_since)  # (C + 1,)
    waiting, others = _waiting(layout, counts, zone_ok, called, cur)  # (N, P) each
    anyone = others.any(axis=1)  # (N,)

    # only signals past their minimum with someone waiting elsewhere may change stage
    r = np.flatnonzero(active & ~below_min & anyone)  # (R,)
    choice = stage.copy()  # (N,)
    if r.size:
        choice[r] = _choose(
            layout,
            state,
            zone_ok,
            loop_ok,
            np.append(snap.gaps, 0.0),
            r,
            cur[r],
            elapsed[r],
            counts,
            halting,
            waiting[r],
            others[r],
            called,
            t,
            settings,
        )
    # a new green's queue: the vehicles on its fullest zone now (read as a rival's)
    moved = np.flatnonzero(active & (choice != stage))  # (W,)
    queue = counts[layout.stage_zones[moved, choice[moved]]].max(axis=1, initial=0.0)  # (W,)
    state.clearance[moved] = settings.clearance(queue)
    walk = pressed[layout.stage_crossings[np.arange(n), choice]].any(axis=1)  # (N,)
    return choice, walk & active


def _choose(
    layout: Layout,
    state: KernelState,
    zone_ok: np.ndarray,
    loop_ok: np.ndarray,
    gaps: np.ndarray,
    r: np.ndarray,
    cur: np.ndarray,
    elapsed: np.ndarray,
    counts: np.ndarray,
    halting: np.ndarray,
    waiting: np.ndarray,
    others: np.ndarray,
    called: np.ndarray,
    t: float,
    settings: FreeSettings,
) -> np.ndarray:
    """The stage (R,) each signal ``r`` (R,) chooses: one past its minimum green ``cur``
    (R,) for ``elapsed`` (R,) s, with ``others`` (R, P) stages waited for (``waiting``
    (R, P)); ``zone_ok``, ``counts`` and ``halting`` are (Z + 1,), the last two 0 where a
    zone is unusable; ``loop_ok`` and ``gaps`` (M + 1,); ``called`` (C + 1,) the crossings
    called."""
    nz = len(layout.zone_ids)
    zones = layout.stage_zones[r]  # (R, P, S)
    usable = zone_ok[zones]  # (R, P, S)
    has_zone = usable.any(axis=2)  # (R, P)
    weight = rates(layout, state, settings)[r]  # (R, P, L)
    opened = open_share(layout, halting[:nz])[r] if settings.reads_exits else None  # (R, P, L)
    if settings.exit_blocking and opened is not None:
        weight = weight * opened
    press = pressure(layout, counts[:nz], weight, r)  # (R, P)
    since = np.where(np.isnan(state.called_since), np.inf, state.called_since)  # (C + 1,)
    crossings = layout.stage_crossings[r]  # (R, P, K)
    ped = np.max(np.where(called[crossings], t - since[crossings], 0.0), axis=2)  # (R, P)
    ped_over = others & (ped >= settings.max_ped_wait)  # (R, P)
    lane_wait = np.where(usable & (counts[zones] > 0), t - state.zone_green[zones], 0.0).max(
        axis=2
    )  # (R, P)
    waited = np.where(has_zone, lane_wait, t - state.last_green[r])  # (R, P)
    wait_over = others & (waited >= state.max_wait[r, None])  # (R, P)
    best = np.where(others, press, -np.inf).argmax(axis=1)  # (R,)
    pick = np.arange(len(r))
    loops = layout.stage_loops[r, cur]  # (R, G)
    loops_ok = loop_ok[loops]  # (R, G)
    gaps = gaps[loops]  # (R, G)
    gapped = (
        loops_ok.any(axis=1)
        & (waiting[pick, cur] == 0)
        & np.all(~loops_ok | (gaps >= settings.gap), axis=1)
    )  # (R,)
    maxed = elapsed >= state.max_greens[r, cur]  # (R,)
    served = layout.served[r, cur]  # (R, L)
    exits_open = np.ones(len(r), bool)  # (R,) the green's exits are open enough to hold it
    if settings.exit_open_share > 0 and opened is not None:
        lanes = np.maximum(served.sum(axis=1), 1)  # (R,)
        exits_open = (opened[pick, cur] * served).sum(axis=1) / lanes >= settings.exit_open_share
    hold = np.maximum(layout.holds[r, cur], np.where(exits_open, state.clearance[r], 0.0))
    pushed = (elapsed >= hold) & (press[pick, best] > press[pick, cur])  # (R,)
    cz = zones[pick, cur]  # (R, S)
    moving = np.where(zone_ok[cz], counts[cz] - halting[cz], 0.0).sum(axis=1)  # (R,)
    if settings.saturated_share > 0:
        busy = (loops_ok & (gaps < settings.gap)).sum(axis=1)  # (R,)
        usable_loops = loops_ok.sum(axis=1)  # (R,)
        discharging = (
            (usable_loops > 0)
            & (busy >= settings.saturated_share * usable_loops)
            & (moving > 0)
            & exits_open
        )  # (R,)
        held = state.congested[r] & discharging  # (R,)
        if settings.lost_time_hold:
            rival = layout.served[r, best] & ~served  # (R, L)
            queued = (rival & (counts[layout.lane_zone[r]] > 0)).sum(axis=1)  # (R,)
            held |= discharging & (elapsed < layout.lost[r]) & (busy >= queued)
        pushed &= ~held
    if settings.keep_moving:
        pushed &= press[pick, best] > moving
    # a stage past its longest wait comes next, but does not cut the current green short
    overdue = np.where(wait_over, waited, -np.inf).argmax(axis=1)  # (R,)
    after = np.where(wait_over.any(axis=1), overdue, best)  # (R,)
    choice = np.where(gapped | maxed | pushed, after, cur)  # (R,)
    return np.where(ped_over.any(axis=1), np.where(ped_over, ped, -np.inf).argmax(axis=1), choice)


def _waiting(
    layout: Layout, counts: np.ndarray, zone_ok: np.ndarray, called: np.ndarray, cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How many wait for each stage, and which stages other than ``cur`` (N,) someone
    waits for: ``(waiting (N, P), others (N, P) bool)``. Vehicles count on usable zones
    (``counts`` (Z + 1,), 0 where unusable; ``zone_ok`` (Z + 1,)), pressed buttons on the
    stage's crossings (``called`` (C + 1,)); a stage with no usable zone to tell counts
    one vehicle."""
    p = layout.valid.shape[1]
    zones = layout.stage_zones  # (N, P, S)
    has_zone = zone_ok[zones].any(axis=2)  # (N, P)
    waiting = np.where(has_zone, counts[zones].sum(axis=2), 1.0)  # (N, P)
    waiting = waiting + called[layout.stage_crossings].sum(axis=2)  # (N, P)
    is_cur = np.arange(p)[None, :] == cur[:, None]  # (N, P)
    return waiting, layout.valid & ~is_cur & (waiting > 0)


def _observe_discharge(
    layout: Layout,
    state: KernelState,
    rows: np.ndarray,
    cur: np.ndarray,
    halting: np.ndarray,
    loop_ok: np.ndarray,
    passed: np.ndarray,
) -> None:
    """One step of green of each active signal's stage: on each lane the stage serves
    with a yielding green somewhere, a second with a queue standing and the vehicles over
    its stop-line loops (a lane missing a usable zone or loop is not measured)."""
    rows = rows[layout.learning[rows]]  # (A,) only signals with a yielding green
    if not rows.size:
        return
    watched = layout.served[rows, cur[rows]] & layout.learned[rows]  # (A, L)
    zone = layout.lane_zone[rows]  # (A, L)
    loops = layout.lane_loops[rows]  # (A, L, J)
    nm = len(layout.loop_ids)
    has_loop = (loops < nm).any(axis=2)  # (A, L)
    all_ok = np.all((loops == nm) | loop_ok[loops], axis=2)  # (A, L)
    measured = watched & (halting[zone] > 0) & has_loop & all_ok  # (A, L)
    state.seconds[rows, cur[rows]] += measured
    state.passed[rows, cur[rows]] += np.where(measured, passed[loops].sum(axis=2), 0.0)


def deciding(
    layout: Layout, stage: np.ndarray, started: np.ndarray, active: np.ndarray, t: float
) -> np.ndarray:
    """Which ``active`` signals (N,) may change stage at ``t``: in a green (``stage``
    (N,)) that has run its vehicle minimum since ``started`` (N,). The others keep their
    stage whatever the detectors show."""
    cur = np.maximum(stage, 0)  # (N,)
    past_min = t - started + 1e-9 >= layout.vehicle_min[np.arange(len(stage)), cur]  # (N,)
    return active & (stage >= 0) & past_min


def first_zones(
    layout: Layout, stage: np.ndarray, decide: np.ndarray, hooked: np.ndarray
) -> np.ndarray:
    """The zones (R,) whose vehicles are read first each step: those of every stage but
    the green of the signals that may change stage now (``decide`` (N,),
    :func:`deciding`; ``stage`` (N,) their green), which tell whether someone waits
    elsewhere, and every zone of the signals whose plan hooks read them (``hooked``
    (N,)). :func:`detail_rows` then says what else to read."""
    zones = np.zeros(len(layout.zone_ids) + 1, bool)  # (Z + 1,) the last slot is padding
    rows = np.flatnonzero(decide)  # (D,)
    zones[layout.rival_zones[rows, stage[rows]]] = True
    zones[layout.signal_zones[hooked]] = True
    return np.flatnonzero(zones[:-1])


def detail_rows(
    layout: Layout,
    stage: np.ndarray,
    active: np.ndarray,
    decide: np.ndarray,
    counts: np.ndarray,
    zone_ok: np.ndarray,
    calls: np.ndarray,
    exits: bool = False,
    hooked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What else the decisions use once the vehicles on the :func:`first_zones` are
    known: which zones' vehicles, which zones' standing vehicles and which loops' gaps.

    ``stage`` (N,) is the stage each signal shows (-1: intergreen), ``active`` (N,) the
    free signals in a green, ``decide`` (N,) those of them that may change stage now,
    ``counts`` (Z,) the vehicles on each zone (the first zones at least), ``zone_ok`` (Z,)
    the usable zones, ``calls`` (C,) the pressed push buttons; ``exits``: the standing
    vehicles of exit zones count too (exit blocking); ``hooked`` (N,) the signals whose
    plan hooks read their current gap-out loops.

    A deciding signal keeps its green whatever else the detectors show unless someone
    waits for another stage; only then does it read its other zones (its green's, those
    its lanes feed), the standing vehicles of its green (keep moving) and of its exits,
    and its green's gap-out loops. Every active signal reads the standing vehicles of the
    lanes whose discharge is learned. Returns ``(zones (R1,), standing (R2,), loops
    (R3,))``, the zones possibly including first zones already read; the values of other
    detectors may be left 0."""
    nz, nm = len(layout.zone_ids), len(layout.loop_ids)
    hooked = np.zeros(len(stage), bool) if hooked is None else hooked
    ok = np.append(zone_ok, False)  # (Z + 1,)
    vehicles = np.where(ok, np.append(counts, 0.0), 0.0)  # (Z + 1,)
    cur = np.maximum(stage, 0)  # (N,)
    _, others = _waiting(layout, vehicles, ok, np.append(calls, False), cur)  # (N, P)
    moving = decide & others.any(axis=1)  # (N,) may change stage now
    standing = np.zeros(nz + 1, bool)  # (Z + 1,)
    rows = np.flatnonzero(moving)  # (D,)
    standing[layout.stage_zones[rows, cur[rows]]] = True
    if exits:
        standing[layout.signal_exits[rows]] = True
    standing[layout.lane_zone[layout.learned & active[:, None]]] = True
    loops = np.zeros(nm + 1, bool)  # (M + 1,)
    rows = np.flatnonzero((moving | hooked) & (stage >= 0))  # (R,)
    loops[layout.stage_loops[rows, cur[rows]]] = True
    return zones_of(layout, moving), np.flatnonzero(standing[:-1]), np.flatnonzero(loops[:-1])


def watched_loops(layout: Layout) -> np.ndarray:
    """Stop-line loops whose passages the discharge of yielding lanes is learned from
    (R,): the same at every step."""
    loops = layout.lane_loops[layout.learned].ravel()
    return np.unique(loops[loops < len(layout.loop_ids)])


def past_hold(stage: np.ndarray, elapsed: np.ndarray, holds: np.ndarray) -> np.ndarray:
    """Which signals (N,) max-pressure decides for: in a green (``stage`` (N,) >= 0) that
    has run its hold slot (``elapsed`` (N,) s, ``holds`` (N, P) s)."""
    cur = np.maximum(stage, 0)  # (N,)
    return (stage >= 0) & (elapsed >= holds[np.arange(len(stage)), cur])


def zones_of(layout: Layout, signals: np.ndarray) -> np.ndarray:
    """The zones (R,) the decisions of ``signals`` (N,) bool read (pressure, waits)."""
    zones = np.zeros(len(layout.zone_ids) + 1, bool)  # (Z + 1,) the last slot is padding
    zones[layout.signal_zones[signals]] = True
    return np.flatnonzero(zones[:-1])


def decide_max_pressure(
    layout: Layout, counts: np.ndarray, stage: np.ndarray, elapsed: np.ndarray, holds: np.ndarray
) -> np.ndarray:
    """Varaiya's max-pressure: each signal in a green past its hold slot (``stage`` (N,)
    >= 0, ``elapsed`` (N,) s, ``holds`` (N, P) s, :func:`past_hold`) takes the stage of
    highest pressure if strictly above its own; returns the stage requested (N,), -1 where
    none is due. ``counts`` (Z,) need only hold the zones of the signals due
    (:func:`zones_of`)."""
    n = len(stage)
    cur = np.maximum(stage, 0)  # (N,)
    pick = np.arange(n)
    due = past_hold(stage, elapsed, holds)  # (N,)
    press = pressure(layout, counts)  # (N, P)
    press = np.where(layout.valid, press, -np.inf)
    best = press.argmax(axis=1)  # (N,)
    choice = np.where(press[pick, best] > press[pick, cur], best, cur)
    return np.where(due, choice, -1)
