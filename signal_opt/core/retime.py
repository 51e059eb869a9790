"""Cycle and split optimization of every intersection in array passes.

The search, for all ``N`` intersections at once:

1. Split fractions ``f (N, P)`` that equalise the degree of saturation of the critical lane
   groups. They do not depend on the cycle (``x_k = y_k C / (G_eff f·S)_k``), so they are
   computed once per intersection (an iterative refinement over ``(N, P, K)`` handles groups
   served by several stages).
2. Green bounds ``(N, P)`` (minimum / maximum greens, change limits) and the feasible cycle
   interval ``(N,)``, relaxed in a fixed order when they conflict: change limits first, then
   maximum greens, then ``cycle_max`` (minimum greens and intergreens are never relaxed).
3. All candidate cycles ``(N, C)`` on a ``cycle_step`` grid inside the interval. For each,
   the greens ``(N, C, P)`` are ``clip(mu f + lost, lo, hi)`` with ``mu (N, C)`` solving
   ``sum = C - intergreens`` exactly (piecewise-linear inverse over ``2P`` breakpoints).
4. Delay ``(N, C, K)`` of every group at every candidate, in chunks of intersections; the
   best candidate per intersection; final evaluation and flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from signal_opt.core.delay import webster_cycle
from signal_opt.core.problem import BoolArray, CoreSettings, FloatArray, IntArray, RetimingProblem
from signal_opt.core.result import (
    BAD_INPUT,
    CHANGE_LIMITED,
    CHANGE_LIMITS_RELAXED,
    INFEASIBLE,
    MAX_GREEN_RELAXED,
    OVERSATURATED,
    UNSERVED_DEMAND,
    RetimingResult,
)

F_MIN = 1e-6
"""Floor of a stage's split fraction (keeps every stage able to absorb spare green)."""
EPS = 1e-9
SPLIT_TOL = 1e-12
"""An intersection's split refinement stops once no fraction moves more than this."""


@dataclass(frozen=True)
class Prepared:
    """Derived arrays shared by the retiming search, Webster plans and offsets."""

    demand: FloatArray  # (N, K) veh/h, 0 for padding, unserved groups and bad rows
    flow_ratio: FloatArray  # (N, K) y = v / s
    saturation: FloatArray  # (N, K) veh/h, 1 for padding
    serves: FloatArray  # (N, P, K) 1.0 where an active stage serves an active group
    lost: FloatArray  # (N, P) displayed minus effective green of each stage, s
    lost_s: FloatArray  # (N, K) sum of ``lost`` over the stages serving each group
    intergreen_sum: FloatArray  # (N,)
    lost_time: FloatArray  # (N,) Webster's L: intergreens + lost per stage
    fractions: FloatArray  # (N, P) equal-saturation split of the effective green
    critical_ratio: FloatArray  # (N,) Y, the critical flow ratio sum
    lo: FloatArray  # (N, P) green bounds after relaxation
    hi: FloatArray  # (N, P)
    cycle_lo: FloatArray  # (N,) feasible cycle interval after relaxation
    cycle_hi: FloatArray  # (N,)
    limited: BoolArray  # (N,) change limits are in force
    bad: BoolArray  # (N,) BAD_INPUT
    flags: IntArray  # (N,) flags known before the search


def split_fractions(
    flow_ratio: FloatArray, serves: FloatArray, stage_mask: BoolArray, iterations: int
) -> tuple[FloatArray, FloatArray]:
    """Equal-degree-of-saturation split ``f (N, P)`` (sums to 1) and ``Y (N,)``.

    ``flow_ratio (N, K)``, ``serves (N, P, K)`` as 0/1 floats. Starts from each stage's
    critical ratio (a group served by ``m`` stages counts ``y / m`` in each), then moves
    green towards stages whose groups are more saturated: ``f *= sqrt(pi / max x)`` with
    ``pi (N, P)`` the largest degree of saturation among the groups a stage serves.
    With one stage per group the start is already the exact Webster split.
    """
    active = stage_mask.astype(np.float64)  # (N, P)
    serves_t = np.ascontiguousarray(serves.transpose(0, 2, 1))  # (N, K, P)
    m = serves_t.sum(axis=2)  # (N, K) stages serving each group
    share = np.divide(flow_ratio, m, out=np.zeros_like(flow_ratio), where=m > 0)  # (N, K)
    r = (serves_t * share[:, :, None]).max(axis=1)  # (N, P)
    f = _normalise(r, active)
    rows = np.arange(f.shape[0])  # intersections still moving
    for _ in range(iterations):
        y, st, fr = flow_ratio[rows], serves_t[rows], f[rows]
        x = _group_saturation(y, st, fr)  # (n, K)
        xbar = x.max(axis=1, keepdims=True)  # (n, 1)
        pi = (st * x[:, :, None]).max(axis=1)  # (n, P)
        ratio = np.divide(pi, xbar, out=np.ones_like(pi), where=xbar > 0)
        new = _normalise(fr * np.sqrt(ratio), active[rows])
        f[rows] = new
        moving = np.abs(new - fr).max(axis=1) > SPLIT_TOL
        rows = rows[moving]
        if rows.size == 0:
            break
    y_sum = _group_saturation(flow_ratio, serves_t, f).max(axis=1)  # (N,)
    return f, y_sum


def _normalise(f: FloatArray, active: FloatArray) -> FloatArray:
    total = f.sum(axis=1, keepdims=True)
    f = np.where(total > 0, f / np.where(total > 0, total, 1.0), active)
    f = np.maximum(f, F_MIN) * active
    return f / f.sum(axis=1, keepdims=True)


def _group_saturation(flow_ratio: FloatArray, serves_t: FloatArray, f: FloatArray) -> FloatArray:
    h = np.matmul(serves_t, f[:, :, None])[:, :, 0]  # (N, K) share of effective green
    return np.divide(flow_ratio, h, out=np.zeros_like(flow_ratio), where=h > 0)


def prepare(problem: RetimingProblem, settings: CoreSettings) -> Prepared:
    """Clean demand, split fractions, green bounds and the feasible cycle interval."""
    n = problem.n
    st = problem.stage_mask  # (N, P)
    served = (problem.serves & st[:, :, None]).any(axis=1)  # (N, K)
    active_g = problem.group_mask & served  # (N, K)
    flags = np.zeros(n, dtype=np.int64)

    sat = np.where(problem.group_mask, problem.saturation, 1.0)  # (N, K)
    raw = problem.demand
    with np.errstate(invalid="ignore"):
        bad_cell = problem.group_mask & ~(
            np.isfinite(raw) & (raw >= 0) & (raw <= settings.max_flow_ratio * sat)
        )
    bad: BoolArray = np.asarray(bad_cell.any(axis=1))  # (N,)
    flags |= np.where(bad, BAD_INPUT, 0)
    demand = np.where(active_g & ~bad[:, None], np.nan_to_num(raw), 0.0)  # (N, K)
    unserved = problem.group_mask & ~served & ~bad[:, None] & (np.nan_to_num(raw) > 0)
    flags |= np.where(unserved.any(axis=1), UNSERVED_DEMAND, 0)
    y = demand / sat  # (N, K)

    serves = (problem.serves & st[:, :, None] & active_g[:, None, :]).astype(np.float64)
    ig = np.where(st, problem.intergreen, 0.0)  # (N, P)
    lost = np.where(
        st, settings.startup_lost_time - np.minimum(settings.end_gain, ig), 0.0
    )  # (N, P)
    lost_s = np.einsum("npk,np->nk", serves, lost)  # (N, K)
    ig_sum = ig.sum(axis=1)  # (N,)
    lost_time = ig_sum + lost.sum(axis=1)  # (N,)
    f, y_sum = split_fractions(y, serves, st, settings.split_iterations)
    flags |= np.where(y_sum >= 1.0, INFEASIBLE, 0)

    lo, hi, c_lo, c_hi, limited, extra = green_bounds(problem, settings, ig_sum)
    flags |= extra
    return Prepared(
        demand=demand,
        flow_ratio=y,
        saturation=sat,
        serves=serves,
        lost=lost,
        lost_s=lost_s,
        intergreen_sum=ig_sum,
        lost_time=lost_time,
        fractions=f,
        critical_ratio=y_sum,
        lo=lo,
        hi=hi,
        cycle_lo=c_lo,
        cycle_hi=c_hi,
        limited=limited,
        bad=bad,
        flags=flags,
    )


def green_bounds(
    problem: RetimingProblem, settings: CoreSettings, ig_sum: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, IntArray]:
    """Green bounds ``lo, hi (N, P)``, cycle interval ``(N,)``, limits in force, flags.

    Relaxation order when the constraints conflict: change limits, then maximum greens,
    then ``cycle_max``. Minimum greens and intergreens always hold.
    """
    st = problem.stage_mask
    n = problem.n
    cmin, cmax = problem.cycle_min, problem.cycle_max
    lo0 = np.where(st, problem.min_green, 0.0)  # (N, P)
    hi0 = np.where(st, np.minimum(problem.max_green, cmax[:, None]), 0.0)  # (N, P)

    cur_c, cur_g = problem.current_cycle, problem.current_greens
    has_cur = np.isfinite(cur_c) & np.all(np.isfinite(cur_g) | ~st, axis=1)  # (N,)
    dg = np.inf if settings.max_green_change is None else settings.max_green_change
    dc = np.inf if settings.max_cycle_change is None else settings.max_cycle_change
    want_limits = has_cur & (np.isfinite(dg) | np.isfinite(dc))
    cg = np.where(st & has_cur[:, None], cur_g, 0.0)
    # change limits yield to the maximum greens, which yield to the minimum greens
    lo1 = np.where(want_limits[:, None], np.maximum(lo0, np.minimum(cg - dg, hi0)), lo0)
    hi1 = np.where(want_limits[:, None], np.maximum(np.minimum(hi0, cg + dg), lo1), hi0)
    lo1, hi1 = np.where(st, lo1, 0.0), np.where(st, hi1, 0.0)
    cc = np.where(has_cur, cur_c, 0.0)
    c_lo1 = np.where(want_limits, np.maximum(cmin, cc - dc), cmin)
    c_hi1 = np.where(want_limits, np.minimum(cmax, cc + dc), cmax)

    a1 = np.maximum(c_lo1, lo1.sum(1) + ig_sum)
    b1 = np.minimum(c_hi1, hi1.sum(1) + ig_sum)
    a2 = np.maximum(cmin, lo0.sum(1) + ig_sum)
    b2 = np.minimum(cmax, hi0.sum(1) + ig_sum)
    ok1 = a1 <= b1 + EPS
    ok2 = a2 <= b2 + EPS
    ok3 = a2 <= cmax + EPS
    big = np.maximum(cmax, a2)[:, None] * st  # (N, P) no max green
    use1 = ok1
    use2 = ~ok1 & ok2
    use3 = ~ok1 & ~ok2 & ok3
    lo = np.where(use1[:, None], lo1, lo0)
    hi = np.where(use1[:, None], hi1, np.where(use2[:, None], hi0, big))
    c_lo = np.where(use1, a1, a2)
    c_hi = np.where(use1, b1, np.where(use2, b2, np.where(use3, cmax, a2)))
    c_hi = np.maximum(c_hi, c_lo)

    # A running green outside [min, max] (e.g. above a new cycle_max) cannot stay within
    # its change limit: the limit yields, and says so.
    clamped = want_limits & (st & ((cg - dg > hi0 + EPS) | (cg + dg < lo0 - EPS))).any(axis=1)
    flags = np.zeros(n, dtype=np.int64)
    flags |= np.where(want_limits & (~ok1 | clamped), CHANGE_LIMITS_RELAXED, 0)
    flags |= np.where(~ok1 & ~ok2, MAX_GREEN_RELAXED, 0)
    flags |= np.where(~ok1 & ~ok2 & ~ok3, INFEASIBLE, 0)
    return lo, hi, c_lo, c_hi, want_limits & ok1 & ~clamped, flags


def candidate_cycles(
    c_lo: FloatArray, c_hi: FloatArray, step: float, fixed: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """Candidate cycles ``(N, C)`` on the ``step`` grid within ``[c_lo, c_hi]``, and a mask.

    An interval holding no grid point gets ``c_lo`` as its only candidate; a finite
    ``fixed (N,)`` cycle (clipped to the interval) replaces the grid for its row.
    """
    first = np.ceil(c_lo / step - EPS) * step  # (N,)
    count = np.floor((c_hi - first) / step + EPS).astype(np.int64) + 1  # (N,)
    empty = count <= 0
    first = np.where(empty, c_lo, first)
    count = np.maximum(count, 1)
    if fixed is not None:
        is_fixed = np.isfinite(fixed)
        first = np.where(is_fixed, np.clip(np.nan_to_num(fixed), c_lo, c_hi), first)
        count = np.where(is_fixed, 1, count)
    width = int(count.max())
    j = np.arange(width, dtype=np.float64)  # (C,)
    cycles = first[:, None] + step * j[None, :]  # (N, C)
    valid = j[None, :] < count[:, None]  # (N, C)
    return np.where(valid, cycles, first[:, None]), valid


def solve_greens(
    fractions: FloatArray, lost: FloatArray, lo: FloatArray, hi: FloatArray, total: FloatArray
) -> FloatArray:
    """Greens ``(N, C, P) = clip(mu f + lost, lo, hi)`` summing to ``total (N, C)``.

    ``mu (N, C)`` is found exactly: ``F(mu) = sum_p clip(mu f_p + lost_p, lo_p, hi_p)`` is
    piecewise linear and non-decreasing with breakpoints ``(lo - lost)/f``, ``(hi - lost)/f``,
    so it is evaluated at its ``2P`` sorted breakpoints ``(N, 2P)`` and inverted linearly.
    Padded stages must have ``lo = hi = 0``; ``f > 0`` on real stages.
    """
    pad = fractions <= 0
    f = np.where(pad, 1.0, fractions)  # (N, P)
    lost_ = np.where(pad, 0.0, lost)
    bps = np.sort(np.concatenate([(lo - lost_) / f, (hi - lost_) / f], axis=1), axis=1)  # (N, 2P)
    fb = np.clip(
        bps[:, :, None] * f[:, None, :] + lost_[:, None, :], lo[:, None, :], hi[:, None, :]
    )
    fb = fb.sum(axis=2)  # (N, 2P) F at each breakpoint, non-decreasing
    t = np.clip(total, fb[:, :1], fb[:, -1:])  # (N, C)
    db, dfb = np.diff(bps, axis=1), np.diff(fb, axis=1)  # (N, 2P-1)
    slope = np.divide(db, dfb, out=np.zeros_like(db), where=dfb > 0)  # d mu / d F
    mu = np.broadcast_to(bps[:, :1], t.shape)  # (N, C)
    for j in range(slope.shape[1]):  # the last segment starting below t holds t
        mu = np.where(
            t > fb[:, j : j + 1],
            bps[:, j : j + 1] + (t - fb[:, j : j + 1]) * slope[:, j : j + 1],
            mu,
        )
    greens = mu[:, :, None] * f[:, None, :] + lost_[:, None, :]  # (N, C, P)
    return np.clip(greens, lo[:, None, :], hi[:, None, :])


def evaluate(
    prep: Prepared,
    cycles: FloatArray,
    greens: FloatArray,
    settings: CoreSettings,
    rows: slice | NDArray[np.int64] = slice(None),
    dtype: type = np.float64,
) -> tuple[NDArray, NDArray, NDArray]:
    """Objective ``(n, C)``, delay ``(n, K, C)`` and degree of saturation ``(n, K, C)``.

    ``cycles (n, C)`` and ``greens (n, C, P)`` for the intersections ``rows`` of ``prep``,
    computed in ``dtype``. Lane groups are laid out before candidates so that sums over
    groups run over contiguous rows. The formulas are those of
    :mod:`signal_opt.core.delay`, rearranged to need fewer passes over ``(n, K, C)``:
    ``min(x, 1) u = min(y, u)`` and ``8 k I x / (c T) = (8 k I y / (s T)) / u^2``.
    """
    c: NDArray = cycles.astype(dtype, copy=False)  # (n, C)
    share: NDArray = (greens - prep.lost[rows][:, None, :]).astype(dtype, copy=False)  # (n, C, P)
    share /= c[:, :, None]  # effective green of each stage over the cycle
    serves_t: NDArray = prep.serves[rows].transpose(0, 2, 1).astype(dtype)  # (n, K, P)
    u = np.matmul(serves_t, share.transpose(0, 2, 1))  # (n, K, C) green ratio of groups
    np.maximum(u, (settings.min_effective_green / c)[:, None, :], out=u)
    y: NDArray = prep.flow_ratio[rows][:, :, None].astype(dtype)  # (n, K, 1)
    x = y / u  # (n, K, C)
    den = np.minimum(u, y)  # uniform delay 0.5 C (1 - u)^2 / (1 - min(x, 1) u)
    np.subtract(1.0, den, out=den)
    one_minus_u = 1.0 - u
    d = one_minus_u * one_minus_u
    d *= (0.5 * c)[:, None, :]
    d /= den
    # incremental delay 900 T [(x - 1) + sqrt((x - 1)^2 + 8 k I x / (c T))], c = s u
    t = settings.analysis_period_h
    k_i = 8.0 * settings.incremental_k * settings.upstream_filtering / t
    a: NDArray = (k_i * prep.flow_ratio[rows] / prep.saturation[rows])[:, :, None].astype(dtype)
    rad = u * u
    np.divide(a, rad, out=rad)
    xm1 = x - 1.0
    np.multiply(xm1, xm1, out=u)  # u is free now: reuse it for (x - 1)^2
    rad += u
    np.sqrt(rad, out=rad)
    rad += xm1
    rad *= 900.0 * t
    d += rad
    v: NDArray = prep.demand[rows][:, :, None].astype(dtype)  # (n, K, 1)
    if settings.stop_weight > 0:
        # Akcelik stops: factor (1 - u) / (1 - min(x, 1) u), weighted in seconds
        one_minus_u *= settings.stop_weight * settings.stop_rate_factor
        one_minus_u /= den
        one_minus_u += d
        objective = (v * one_minus_u).sum(axis=1)  # (n, C)
    else:
        objective = (v * d).sum(axis=1)  # (n, C)
    return objective, d, x


def retime(
    problem: RetimingProblem,
    settings: CoreSettings | None = None,
    cycle: ArrayLike | None = None,
) -> RetimingResult:
    """Best cycle and greens of every intersection of ``problem``.

    ``cycle (N,)``, optional: a cycle to impose (NaN = free), e.g. a coordinated group's
    common cycle; it is clipped to each intersection's feasible interval.
    """
    settings = settings or CoreSettings()
    prep = prepare(problem, settings)
    fixed = None if cycle is None else _fixed_cycle(cycle, problem.n)
    cycles, valid = candidate_cycles(prep.cycle_lo, prep.cycle_hi, settings.cycle_step, fixed)
    n, width = cycles.shape
    best = np.empty(n, dtype=np.float64)
    chunk = max(1, int(settings.chunk_size * 160 // max(width, 1)))
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        c = cycles[rows]  # (n, C)
        greens = solve_greens(
            prep.fractions[rows],
            prep.lost[rows],
            prep.lo[rows],
            prep.hi[rows],
            c - prep.intergreen_sum[rows][:, None],
        )  # (n, C, P)
        dtype = np.float32 if settings.fast_search else np.float64
        objective, _, x = evaluate(prep, c, greens, settings, rows, dtype)
        objective = np.where(valid[rows], objective, np.inf)
        if settings.max_degree_of_saturation is not None:
            ok = (x.max(axis=1) <= settings.max_degree_of_saturation) & valid[rows]
            objective = np.where(ok | ~ok.any(axis=1, keepdims=True), objective, np.inf)
        j = np.argmin(objective, axis=1)  # (n,)
        if settings.target_degree_of_saturation is not None:
            meets = (x.max(axis=1) <= settings.target_degree_of_saturation) & np.isfinite(objective)
            j = np.where(meets.any(axis=1), np.argmax(meets, axis=1), j)  # shortest that meets
        best[rows] = np.take_along_axis(c, j[:, None], axis=1)[:, 0]
    return _finish(problem, prep, best, settings)


def webster_plan(problem: RetimingProblem, settings: CoreSettings | None = None) -> RetimingResult:
    """Webster's plan for every intersection: ``C0 = (1.5 L + 5) / (1 - Y)``.

    ``L (N,)`` is the lost time per cycle (intergreens plus start-up lost time minus end
    gain, per stage), ``Y (N,)`` the critical flow ratio sum. ``C0`` is rounded to the
    ``cycle_step`` grid and kept within the feasible interval (``cycle_max`` when
    ``Y >= 1``); the effective greens are proportional to the critical ratios, then kept
    within the minimum / maximum greens.
    """
    settings = settings or CoreSettings()
    prep = prepare(problem, settings)
    c0 = webster_cycle(prep.lost_time, prep.critical_ratio)  # (N,)
    c0 = np.where(np.isfinite(c0), np.round(c0 / settings.cycle_step) * settings.cycle_step, np.inf)
    return _finish(problem, prep, np.clip(c0, prep.cycle_lo, prep.cycle_hi), settings)


def _fixed_cycle(cycle: ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(cycle, dtype=np.float64)
    if arr.shape == ():
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"retime: cycle has shape {arr.shape}, expected ({n},)")
    return arr


def plan_greens(prep: Prepared, cycle: FloatArray) -> FloatArray:
    """Greens ``(N, P)`` of the split allocation at ``cycle (N,)``."""
    return solve_greens(
        prep.fractions, prep.lost, prep.lo, prep.hi, (cycle - prep.intergreen_sum)[:, None]
    )[:, 0, :]


def _finish(
    problem: RetimingProblem, prep: Prepared, cycle: FloatArray, settings: CoreSettings
) -> RetimingResult:
    """Greens, performance and flags of the chosen ``cycle (N,)``; current plan on bad rows."""
    greens = plan_greens(prep, cycle)  # (N, P)
    flags = prep.flags.copy()

    st = problem.stage_mask
    cur_c, cur_g = problem.current_cycle, problem.current_greens
    cg = np.where(st, cur_g, 0.0)
    keep = (
        prep.bad
        & np.isfinite(cur_c)
        & np.all(np.isfinite(cg), axis=1)
        & np.all(cg >= np.where(st, problem.min_green, 0.0) - 1e-6, axis=1)
        & np.all(cg <= np.where(st, problem.max_green, 0.0) + 1e-6, axis=1)
        & (np.abs(cg.sum(1) + prep.intergreen_sum - cur_c) <= 1e-6)
        & (cur_c >= problem.cycle_min - 1e-6)
        & (cur_c <= problem.cycle_max + 1e-6)
    )
    cycle = np.where(keep, np.nan_to_num(cur_c), cycle)
    greens = np.where(keep[:, None], cg, greens)
    # Close the identity cycle == greens + intergreens exactly.
    cycle = greens.sum(axis=1) + prep.intergreen_sum

    objective, delay, x = evaluate(prep, cycle[:, None], greens[:, None, :], settings)
    objective, delay, x = objective[:, 0], delay[:, :, 0], x[:, :, 0]
    active = prep.serves.any(axis=1)  # (N, K)
    delay = np.where(active, delay, 0.0)
    x = np.where(active, x, 0.0)
    flags |= np.where((x > 1.0 + 1e-9).any(axis=1), OVERSATURATED, 0)

    if prep.limited.any():
        tol = 1e-6
        at_c = (np.abs(cycle - prep.cycle_lo) <= tol) | (np.abs(cycle - prep.cycle_hi) <= tol)
        cmin, cmax = problem.cycle_min, problem.cycle_max
        c_tight = (prep.cycle_lo > cmin + tol) | (prep.cycle_hi < cmax - tol)
        lo0 = np.where(st, problem.min_green, 0.0)
        hi0 = np.where(st, np.minimum(problem.max_green, cmax[:, None]), 0.0)
        g_tight = ((np.abs(greens - prep.lo) <= tol) & (prep.lo > lo0 + tol)) | (
            (np.abs(greens - prep.hi) <= tol) & (prep.hi < hi0 - tol)
        )
        binding = (at_c & c_tight) | (g_tight & st).any(axis=1)
        flags |= np.where(prep.limited & binding, CHANGE_LIMITED, 0)

    total = (prep.demand * delay).sum(axis=1) / 3600.0  # (N,)
    bad = prep.bad
    nan = np.nan
    return RetimingResult(
        cycle=cycle,
        greens=greens,
        offsets=np.zeros_like(cycle),
        delay=np.where(bad[:, None], nan, delay),
        degree_of_saturation=np.where(bad[:, None], nan, x),
        total_delay=np.where(bad, nan, total),
        objective=np.where(bad, nan, objective),
        flags=flags,
        ids=problem.ids,
    )
