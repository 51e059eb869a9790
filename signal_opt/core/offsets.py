"""Coordination: common cycles and TRANSYT-style offsets from cyclic flow profiles.

For a group of intersections sharing a cycle ``Cm`` (members may run ``Cm / 2``), cut into
``B`` bins of about ``offset_step`` seconds:

1. green coverage ``(n, K, B)`` of every lane group in its own intersection's frame;
2. departure profiles ``(n, K, B)`` of every group (uniform arrivals, queue discharged at
   saturation flow from the start of green), one queue recurrence over the bins for all
   groups at once;
3. for every link ``m``: the upstream profile ``(M, B)`` (fractions of the feeding groups,
   scaled to the link flow), dispersed by Robertson's recurrence, solved in closed form as
   a circular convolution (FFT over ``B``) with the wrapped geometric kernel;
4. the delay table ``D (M, B)`` of the downstream group for every offset difference
   ``theta = o_down - o_up``: a queue recurrence over the bins, vectorized over links and
   all ``B`` candidate offsets at once;
5. the network search: exact dynamic programming over a spanning forest (levels of a
   breadth-first search, each level one array pass over ``(n, B, B)``), then coordinate
   descent over all links, moving in every round every intersection whose best move gains
   more than any neighbour's (so simultaneous moves never interact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from signal_opt.core.problem import BoolArray, CoreSettings, FloatArray, IntArray, RetimingProblem
from signal_opt.core.result import RetimingResult
from signal_opt.core.retime import prepare
from signal_opt.model import Plan

CYCLE_TOL = 0.5
"""Seconds within which a member's cycle counts as the group cycle (or its half)."""


class LinkLike(Protocol):
    """What :meth:`CoordinationProblem.from_links` reads (e.g. ``PlatoonLink`` of ``sumo``)."""

    @property
    def up(self) -> int: ...
    @property
    def up_groups(self) -> tuple[int, ...]: ...
    @property
    def down(self) -> int: ...
    @property
    def down_group(self) -> int: ...
    @property
    def travel_time(self) -> float: ...


@dataclass(frozen=True, eq=False)
class CoordinationProblem:
    """Directed links between neighbouring stop lines of the intersections of ``problem``.

    ``M`` links: ``up (M,)`` and ``down (M,)`` intersection indices, ``up_fraction (M, K)``
    share of each upstream lane group's departures that travel the link, ``down_group
    (M,)`` the lane group they join downstream, ``travel_time (M,)`` s and ``flow (M,)``
    veh/h arriving by the link (NaN = the upstream departures times the fractions).
    """

    problem: RetimingProblem
    up: IntArray
    down: IntArray
    down_group: IntArray
    up_fraction: FloatArray
    travel_time: FloatArray
    flow: FloatArray

    def __post_init__(self) -> None:
        n, _, k = self.problem.shape
        up = np.asarray(self.up, dtype=np.int64).reshape(-1)
        m = up.shape[0]
        set_ = object.__setattr__
        set_(self, "up", up)
        for name in ("down", "down_group"):
            arr = np.asarray(getattr(self, name), dtype=np.int64)
            if arr.shape != (m,):
                raise ValueError(
                    f"CoordinationProblem.{name} has shape {arr.shape}, expected ({m},)"
                )
            set_(self, name, arr)
        for name in ("travel_time", "flow"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (m,):
                raise ValueError(
                    f"CoordinationProblem.{name} has shape {arr.shape}, expected ({m},)"
                )
            set_(self, name, arr)
        frac = np.asarray(self.up_fraction, dtype=np.float64)
        if frac.shape != (m, k):
            raise ValueError(
                f"CoordinationProblem.up_fraction has shape {frac.shape}, expected ({m}, {k})"
            )
        set_(self, "up_fraction", frac)
        if m and ((up < 0) | (up >= n)).any():
            raise ValueError("CoordinationProblem.up has an index outside [0, N)")
        if m and ((self.down < 0) | (self.down >= n) | (self.down == up)).any():
            raise ValueError("CoordinationProblem.down has an index outside [0, N) or equal to up")
        if m and ((self.down_group < 0) | (self.down_group >= k)).any():
            raise ValueError("CoordinationProblem.down_group has an index outside [0, K)")
        if not (np.isfinite(frac) & (frac >= 0) & (frac <= 1)).all():
            raise ValueError("CoordinationProblem.up_fraction must be within [0, 1]")
        if not (np.isfinite(self.travel_time) & (self.travel_time >= 0)).all():
            raise ValueError("CoordinationProblem.travel_time must be finite and >= 0")
        if not (np.isnan(self.flow) | (np.isfinite(self.flow) & (self.flow >= 0))).all():
            raise ValueError("CoordinationProblem.flow must be >= 0 or NaN")

    @property
    def m(self) -> int:
        return int(self.up.shape[0])

    @property
    def members(self) -> BoolArray:
        """``(N,)`` intersections touched by a link."""
        out = np.zeros(self.problem.n, dtype=bool)
        out[self.up] = True
        out[self.down] = True
        return out

    def groups(self) -> IntArray:
        """``(N,)`` connected component of every intersection over the links (-1 if none)."""
        n = self.problem.n
        label = np.arange(n)
        for _ in range(n):  # min-label propagation; converges in at most the diameter
            lo = np.minimum(label[self.up], label[self.down])
            new = label.copy()
            np.minimum.at(new, self.up, lo)
            np.minimum.at(new, self.down, lo)
            if (new == label).all():
                break
            label = new
        _, dense = np.unique(label, return_inverse=True)
        return np.where(self.members, dense, -1)

    @classmethod
    def from_links(cls, problem: RetimingProblem, links: Sequence[LinkLike]) -> CoordinationProblem:
        """Links from upstream group tuples; flows and fractions from ``problem.demand``.

        The flow of a link is the smaller of the downstream group's demand and the sum of
        the feeding groups' demand; each feeding group sends the same fraction of its
        departures. Invalid demand counts as zero.
        """
        _, _, k = problem.shape
        m = len(links)
        demand = np.where(np.isfinite(problem.demand) & (problem.demand > 0), problem.demand, 0.0)
        up = np.array([lk.up for lk in links], dtype=np.int64)
        down = np.array([lk.down for lk in links], dtype=np.int64)
        down_group = np.array([lk.down_group for lk in links], dtype=np.int64)
        travel = np.array([lk.travel_time for lk in links], dtype=np.float64)
        feeds = np.zeros((m, k), dtype=bool)  # (M, K)
        for i, lk in enumerate(links):
            feeds[i, list(lk.up_groups)] = True
        up_demand = (demand[up] * feeds).sum(axis=1) if m else np.zeros(0)  # (M,)
        flow = np.minimum(demand[down, down_group], up_demand) if m else np.zeros(0)
        share = np.divide(flow, up_demand, out=np.zeros_like(flow), where=up_demand > 0)
        frac = np.clip(feeds * share[:, None], 0.0, 1.0)
        return cls(problem, up, down, down_group, frac, travel, flow)


def plan_arrays(
    problem: RetimingProblem, plans: RetimingResult | Sequence[Plan]
) -> tuple[FloatArray, FloatArray]:
    """``cycle (N,)`` and ``greens (N, P)`` of a result or of a list of plans."""
    if isinstance(plans, RetimingResult):
        return plans.cycle, plans.greens
    n, p, _ = problem.shape
    if len(plans) != n:
        raise ValueError(f"got {len(plans)} plans for {n} intersections")
    cycle = np.array([pl.cycle for pl in plans], dtype=np.float64)
    greens = np.zeros((n, p))
    for i, pl in enumerate(plans):
        greens[i, : len(pl.greens)] = pl.greens
    return cycle, greens


def choose_common_cycle(
    problem: RetimingProblem,
    result: RetimingResult,
    groups: ArrayLike,
    settings: CoreSettings | None = None,
) -> FloatArray:
    """Cycle ``(N,)`` to impose on coordinated intersections (NaN = free).

    ``groups (N,)`` int, -1 for intersections outside any group. A group runs the largest
    of its members' best cycles ``Cg``; a member whose best cycle is at most
    ``half_cycle_ratio * Cg`` runs ``Cg / 2`` if its bounds allow. A member that can run
    neither (bounds or change limits) stays free (NaN).
    """
    settings = settings or CoreSettings()
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (problem.n,):
        raise ValueError(f"groups has shape {g.shape}, expected ({problem.n},)")
    prep = prepare(problem, settings)
    member = g >= 0
    out = np.full(problem.n, np.nan)
    if not member.any():
        return out
    best = np.full(int(g.max()) + 1, -np.inf)
    np.maximum.at(best, g[member], result.cycle[member])
    cg = best[np.where(member, g, 0)]  # (N,)
    tol = 1e-6
    fits_full = (prep.cycle_lo <= cg + tol) & (cg <= prep.cycle_hi + tol)
    half = cg / 2
    fits_half = (prep.cycle_lo <= half + tol) & (half <= prep.cycle_hi + tol)
    want_half = result.cycle <= settings.half_cycle_ratio * cg
    choice = np.where(
        want_half & fits_half, half, np.where(fits_full, cg, np.where(fits_half, half, np.nan))
    )
    return np.where(member, choice, np.nan)


def _green_coverage(
    problem: RetimingProblem,
    settings: CoreSettings,
    cycle: FloatArray,
    greens: FloatArray,
    rows: IntArray,
    bins: int,
    dt: float,
) -> FloatArray:
    """Fraction of each bin ``(n, K, B)`` that each lane group has effective green."""
    st = problem.stage_mask[rows]  # (n, P)
    ig = np.where(st, problem.intergreen[rows], 0.0)
    g = np.where(st, greens[rows], 0.0)
    start = np.cumsum(g + ig, axis=1) - (g + ig)  # (n, P) stage start in own frame
    w0 = start + settings.startup_lost_time  # effective green window
    w1 = start + g + np.minimum(settings.end_gain, ig)
    w1 = np.where(st, np.maximum(w1, w0), w0)
    c = cycle[rows][:, None, None, None]  # (n, 1, 1, 1)
    b0 = (np.arange(bins) * dt)[None, None, None, :]  # (1, 1, 1, B)
    reps = np.arange(-1, 3)[None, None, :, None]  # (1, 1, R, 1) window repeats
    lo = w0[:, :, None, None] + reps * c  # (n, P, R, 1)
    hi = w1[:, :, None, None] + reps * c
    overlap = np.clip(np.minimum(hi, b0 + dt) - np.maximum(lo, b0), 0.0, None)  # (n, P, R, B)
    cov_stage = overlap.sum(axis=2) / dt  # (n, P, B)
    serves = (problem.serves[rows] & st[:, :, None]).astype(np.float64)  # (n, P, K)
    cov = np.einsum("npk,npb->nkb", serves, cov_stage)  # (n, K, B)
    return np.minimum(cov, 1.0)


def _queue_departures(arrivals: FloatArray, capacity: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Departures and queue-seconds of a cyclic queue (two cycles, the second counted).

    ``arrivals`` and ``capacity`` ``(..., B)`` vehicles per bin; returns departures
    ``(..., B)`` and the summed queue ``(...)`` in vehicle-bins over one cycle.
    """
    bins = arrivals.shape[-1]
    q = np.zeros(arrivals.shape[:-1])
    dep = np.empty_like(arrivals)
    total = np.zeros(arrivals.shape[:-1])
    for rep in range(2):
        for b in range(bins):
            a = arrivals[..., b]
            out = np.minimum(q + a, capacity[..., b])
            q = q + a - out
            if rep:
                dep[..., b] = out
                total += q
    return dep, total


def _delay_by_offset(arrivals: FloatArray, other: FloatArray, cap: FloatArray) -> FloatArray:
    """Queue summed over one cycle ``(M, B)`` for every offset difference ``theta``.

    ``arrivals (M, B)`` platoon vehicles per bin in the upstream frame, ``other (M,)``
    uniform arrivals per bin, ``cap (M, B)`` downstream capacity per bin. Under ``theta``
    the downstream sees ``arrivals[(tau + theta) % B]`` at its bin ``tau``; all ``theta``
    advance together, one bin at a time (two cycles, the second counted).
    """
    m, bins = arrivals.shape
    theta = np.arange(bins)  # (B,)
    q = np.zeros((m, bins))  # (M, B_theta)
    total = np.zeros((m, bins))
    for rep in range(2):
        for tau in range(bins):
            q += arrivals[:, (tau + theta) % bins]
            q += other[:, None]
            q -= cap[:, tau : tau + 1]
            np.maximum(q, 0.0, out=q)
            if rep:
                total += q
    return total


def link_delay_tables(
    coord: CoordinationProblem,
    plans: RetimingResult | Sequence[Plan],
    settings: CoreSettings | None = None,
) -> tuple[FloatArray, float, int, BoolArray]:
    """Delay table ``D (M, B)`` (veh·s/h) of every link for every offset difference.

    ``D[m, j]`` is the delay of link ``m``'s downstream lane group when the downstream
    intersection starts ``j * dt`` seconds after the upstream one. Returns ``(D, dt, B,
    usable (M,))``; links whose ends do not run the group cycle or its half are not
    usable (their rows are zero).
    """
    settings = settings or CoreSettings()
    problem = coord.problem
    cycle, greens = plan_arrays(problem, plans)
    m = coord.m
    members = np.flatnonzero(coord.members)
    if m == 0:
        return np.zeros((0, 1)), 1.0, 1, np.zeros(0, dtype=bool)
    cm = float(cycle[members].max())
    bins = max(2, round(cm / settings.offset_step / 2) * 2)
    dt = cm / bins
    fits = (np.abs(cycle - cm) <= CYCLE_TOL) | (np.abs(cycle - cm / 2) <= CYCLE_TOL)  # (N,)
    cyc = np.where(np.abs(cycle - cm) <= CYCLE_TOL, cm, cm / 2)  # (N,) snapped
    usable = fits[coord.up] & fits[coord.down]  # (M,)

    prep = prepare(problem, settings)
    local = np.full(problem.n, -1)
    local[members] = np.arange(members.size)
    cov = _green_coverage(problem, settings, cyc, greens, members, bins, dt)  # (n, K, B)
    sat = prep.saturation[members][:, :, None] * dt / 3600.0  # (n, K, 1) veh per bin
    v = prep.demand[members][:, :, None] * dt / 3600.0  # (n, K, 1)
    dep, _ = _queue_departures(np.broadcast_to(v, cov.shape).copy(), sat * cov)  # (n, K, B)

    up_l, down_l = local[coord.up], local[coord.down]
    profile = np.einsum("mk,mkb->mb", coord.up_fraction, dep[up_l])  # (M, B)
    per_cycle = np.where(np.isnan(coord.flow), profile.sum(axis=1), coord.flow * cm / 3600.0)
    total = profile.sum(axis=1, keepdims=True)
    profile = (
        np.where(total > 0, profile / np.where(total > 0, total, 1.0), 1.0 / bins)
        * per_cycle[:, None]
    )  # (M, B) vehicles per bin over the master cycle

    # Robertson: q'(i) = F q(i - T) + (1 - F) q'(i - 1), cyclic steady state.
    lag_s = settings.dispersion_beta * coord.travel_time  # (M,)
    f = 1.0 / (1.0 + settings.dispersion_alpha * lag_s)  # (M,)
    lag = np.rint(lag_s / dt).astype(np.int64)  # (M,)
    j = np.arange(bins)[None, :]  # (1, B)
    decay = 1.0 - f[:, None]
    kernel = f[:, None] * decay ** ((j - lag[:, None]) % bins) / (1.0 - decay**bins)  # (M, B)
    arrivals = np.fft.irfft(np.fft.rfft(profile) * np.fft.rfft(kernel), n=bins)  # (M, B)
    arrivals = np.maximum(arrivals, 0.0)

    g = coord.down_group
    other = np.maximum(prep.demand[coord.down, g] * dt / 3600.0 - per_cycle / bins, 0.0)  # (M,)
    cap = sat[down_l, g] * cov[down_l, g]  # (M, B)
    queue = _delay_by_offset(arrivals, other, cap)  # (M, B_theta) vehicle-bins per cycle
    table = queue * dt * (3600.0 / cm)  # veh·s per hour
    return np.where(usable[:, None], table, 0.0), dt, bins, usable


def optimize_offsets(
    coord: CoordinationProblem,
    plans: RetimingResult | Sequence[Plan],
    settings: CoreSettings | None = None,
) -> FloatArray:
    """Offsets ``(N,)`` s minimising the links' delay; 0 for intersections without links.

    ``plans`` (a result or one plan per intersection) fixes cycles and greens; members
    must run the group cycle or its half (links to others are ignored). Offsets are in
    ``[0, cycle)``; the solution is shifted so that the lowest-index member keeps 0.
    """
    settings = settings or CoreSettings()
    cycle, _ = plan_arrays(coord.problem, plans)
    n = coord.problem.n
    if coord.m == 0:
        return np.zeros(n)
    table, dt, bins, usable = link_delay_tables(coord, plans, settings)
    up, down, table = coord.up[usable], coord.down[usable], table[usable]
    off = np.zeros(n, dtype=np.int64)
    if up.size:
        a, b, edge = _edge_tables(up, down, table, bins)
        off = _tree_search(n, a, b, edge, bins)
        off = _descent(off, a, b, edge, bins, settings.max_offset_rounds)
    return np.mod(off * dt, np.where(cycle > 0, cycle, 1.0))


def _edge_tables(
    up: IntArray, down: IntArray, table: FloatArray, bins: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Undirected edges ``a < b`` with cost ``E (E, B)`` over ``delta = o_b - o_a``."""
    a, b = np.minimum(up, down), np.maximum(up, down)
    keys, inv = np.unique(a * (up.max() + down.max() + 2) + b, return_inverse=True)
    edges = np.zeros((keys.size, bins))  # (E, B)
    flip = up > down  # link runs b -> a: its theta = o_a - o_b = -delta
    idx = np.where(flip[:, None], (-np.arange(bins))[None, :] % bins, np.arange(bins)[None, :])
    np.add.at(edges, inv, np.take_along_axis(table, idx, axis=1))
    first = np.zeros(keys.size, dtype=np.int64)
    first[inv] = np.arange(inv.size)
    return a[first], b[first], edges


def _tree_search(n: int, a: IntArray, b: IntArray, edge: FloatArray, bins: int) -> IntArray:
    """Exact min-sum offsets over a breadth-first spanning forest of the edges."""
    parent = np.full(n, -1)
    ptable = np.zeros((n, bins))  # cost over delta = o_child - o_parent
    level = np.full(n, -1)
    touched = np.zeros(n, dtype=bool)
    touched[a] = touched[b] = True
    depth = 0
    while (touched & (level < 0)).any():
        root = int(np.flatnonzero(touched & (level < 0))[0])
        level[root] = depth
        frontier = np.array([root])
        while frontier.size:
            in_front = np.zeros(n, dtype=bool)
            in_front[frontier] = True
            fwd = in_front[a] & (level[b] < 0)  # a -> b, delta = o_b - o_a
            bwd = in_front[b] & (level[a] < 0)  # b -> a, child a: o_a - o_b = -delta
            child = np.concatenate([b[fwd], a[bwd]])
            par = np.concatenate([a[fwd], b[bwd]])
            tab = np.concatenate([edge[fwd], edge[bwd][:, (-np.arange(bins)) % bins]])
            child, first = np.unique(child, return_index=True)
            depth += 1
            level[child] = depth
            parent[child] = par[first]
            ptable[child] = tab[first]
            frontier = child
        depth += 1
    order = np.argsort(-level, kind="stable")
    subtree = np.zeros((n, bins))  # (N, B) cost of a node's subtree given its offset
    choice = np.zeros((n, bins), dtype=np.int64)  # best child offset given parent offset
    grid = (np.arange(bins)[None, :] - np.arange(bins)[:, None]) % bins  # [o_p, o_c] -> delta
    for lv in range(int(level.max()), 0, -1):
        nodes = order[(level[order] == lv) & (parent[order] >= 0)]
        if nodes.size == 0:
            continue
        total = ptable[nodes][:, grid] + subtree[nodes][:, None, :]  # (n, B_p, B_c)
        choice[nodes] = total.argmin(axis=2)
        np.add.at(subtree, parent[nodes], total.min(axis=2))
    off = np.zeros(n, dtype=np.int64)
    for lv in range(1, int(level.max()) + 1):
        nodes = np.flatnonzero((level == lv) & (parent >= 0))
        off[nodes] = choice[nodes, off[parent[nodes]]]
    return off


def _descent(
    off: IntArray, a: IntArray, b: IntArray, edge: FloatArray, bins: int, rounds: int
) -> IntArray:
    """Coordinate descent: every round, move each node whose gain beats its neighbours'."""
    n = off.shape[0]
    cand = np.arange(bins)[None, :]
    for _ in range(rounds):
        cost = np.zeros((n, bins))  # (N, B) cost of each node's candidate offsets
        np.add.at(cost, a, np.take_along_axis(edge, (off[b][:, None] - cand) % bins, axis=1))
        np.add.at(cost, b, np.take_along_axis(edge, (cand - off[a][:, None]) % bins, axis=1))
        now = cost[np.arange(n), off]
        best = cost.argmin(axis=1)
        gain = now - cost[np.arange(n), best]
        gain = np.where(gain > 1e-9 * (1.0 + np.abs(now)), gain, 0.0)
        if not (gain > 0).any():
            break
        tie = np.arange(n) * 1e-12 * (1.0 + gain.max())  # ties: higher index wins
        key = np.where(gain > 0, gain + tie, -1.0)
        rival = np.full(n, -1.0)
        np.maximum.at(rival, a, key[b])
        np.maximum.at(rival, b, key[a])
        move = (gain > 0) & (key > rival)
        off = np.where(move, best, off)
    return off
