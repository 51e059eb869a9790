"""Plain-Python reference of the retiming model (loops, no numpy).

The same model as :func:`signal_opt.core.retime.retime`, one intersection and one candidate
cycle at a time, written for reading rather than speed. Tests check the vectorized search
against it; the benchmark measures the speed-up over it. Flags are not reproduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from signal_opt.core.problem import CoreSettings, RetimingProblem
from signal_opt.core.retime import EPS, F_MIN, SPLIT_TOL


@dataclass(frozen=True)
class ReferenceResult:
    """Per intersection: cycle, greens per stage, delay and degree of saturation per group."""

    cycle: list[float]
    greens: list[list[float]]
    delay: list[list[float]]
    degree_of_saturation: list[list[float]]
    objective: list[float]


def reference_retime(
    problem: RetimingProblem, settings: CoreSettings | None = None
) -> ReferenceResult:
    """Retime every intersection of ``problem`` with plain loops."""
    settings = settings or CoreSettings()
    cycles, greens, delays, xs, objectives = [], [], [], [], []
    arrays = {
        name: getattr(problem, name).tolist()
        for name in (
            "demand",
            "saturation",
            "group_mask",
            "serves",
            "stage_mask",
            "intergreen",
            "min_green",
            "max_green",
            "cycle_min",
            "cycle_max",
            "current_cycle",
            "current_greens",
        )
    }
    for i in range(problem.n):
        row = {name: value[i] for name, value in arrays.items()}
        c, g, d, x, obj = _retime_one(row, settings)
        cycles.append(c)
        greens.append(g)
        delays.append(d)
        xs.append(x)
        objectives.append(obj)
    return ReferenceResult(cycles, greens, delays, xs, objectives)


def _retime_one(
    row: dict, settings: CoreSettings
) -> tuple[float, list[float], list[float], list[float], float]:
    st: list[bool] = row["stage_mask"]
    gm: list[bool] = row["group_mask"]
    n_p, n_k = len(st), len(gm)
    served = [any(row["serves"][p][k] and st[p] for p in range(n_p)) for k in range(n_k)]
    active = [gm[k] and served[k] for k in range(n_k)]
    sat = [row["saturation"][k] if gm[k] else 1.0 for k in range(n_k)]
    bad = False
    for k in range(n_k):
        v = row["demand"][k]
        if gm[k] and not (math.isfinite(v) and 0 <= v <= settings.max_flow_ratio * sat[k]):
            bad = True
    demand = [row["demand"][k] if active[k] and not bad else 0.0 for k in range(n_k)]
    y = [demand[k] / sat[k] for k in range(n_k)]
    serves = [
        [bool(row["serves"][p][k] and st[p] and active[k]) for k in range(n_k)] for p in range(n_p)
    ]
    ig = [row["intergreen"][p] if st[p] else 0.0 for p in range(n_p)]
    lost = [
        settings.startup_lost_time - min(settings.end_gain, ig[p]) if st[p] else 0.0
        for p in range(n_p)
    ]
    lost_s = [sum(lost[p] for p in range(n_p) if serves[p][k]) for k in range(n_k)]
    ig_sum = sum(ig)
    f = _fractions(y, serves, st, settings.split_iterations)
    lo, hi, c_lo, c_hi = _bounds(row, settings, ig_sum)

    step = settings.cycle_step
    first = math.ceil(c_lo / step - EPS) * step
    count = math.floor((c_hi - first) / step + EPS) + 1
    candidates = [first + j * step for j in range(count)] if count > 0 else [c_lo]

    scored = []
    for c in candidates:
        g = _greens(f, lost, lo, hi, st, c - ig_sum)
        obj, _, x = _evaluate(c, g, demand, y, sat, serves, lost_s, active, settings)
        scored.append((obj, max(x) if x else 0.0))
    limit = settings.max_degree_of_saturation
    allowed = [True] * len(candidates)
    if limit is not None and any(xm <= limit for _, xm in scored):
        allowed = [xm <= limit for _, xm in scored]
    best_j, best_obj = 0, math.inf
    for j, (obj, _) in enumerate(scored):
        if allowed[j] and obj < best_obj:
            best_j, best_obj = j, obj
    target = settings.target_degree_of_saturation
    if target is not None:
        for j, (obj, xm) in enumerate(scored):
            if xm <= target and math.isfinite(obj):
                best_j = j
                break
    cycle = candidates[best_j]
    greens = _greens(f, lost, lo, hi, st, cycle - ig_sum)

    cur_g = row["current_greens"]
    if bad and _valid_current(row, ig_sum):
        greens = [cur_g[p] if st[p] else 0.0 for p in range(n_p)]
    cycle = sum(greens) + ig_sum
    if bad:
        nan = math.nan
        return cycle, greens, [nan] * n_k, [nan] * n_k, nan
    obj, d, x = _evaluate(cycle, greens, demand, y, sat, serves, lost_s, active, settings)
    return cycle, greens, d, x, obj


def _fractions(
    y: list[float], serves: list[list[bool]], st: list[bool], iterations: int
) -> list[float]:
    n_p, n_k = len(st), len(y)
    m = [sum(1 for p in range(n_p) if serves[p][k]) for k in range(n_k)]
    r = [max([y[k] / m[k] for k in range(n_k) if serves[p][k]], default=0.0) for p in range(n_p)]
    f = _normalise(r, st)
    for _ in range(iterations):
        x = _saturations(y, serves, f)
        xbar = max(x)
        pi = [max([x[k] for k in range(n_k) if serves[p][k]], default=0.0) for p in range(n_p)]
        ratio = [pi[p] / xbar if xbar > 0 else 1.0 for p in range(n_p)]
        new = _normalise([f[p] * math.sqrt(ratio[p]) for p in range(n_p)], st)
        moved = max(abs(a - b) for a, b in zip(new, f, strict=True))
        f = new
        if moved <= SPLIT_TOL:
            break
    return f


def _normalise(f: list[float], st: list[bool]) -> list[float]:
    total = sum(f)
    f = [v / total for v in f] if total > 0 else [1.0 if s else 0.0 for s in st]
    f = [max(v, F_MIN) if s else 0.0 for v, s in zip(f, st, strict=True)]
    total = sum(f)
    return [v / total for v in f]


def _saturations(y: list[float], serves: list[list[bool]], f: list[float]) -> list[float]:
    out = []
    for k in range(len(y)):
        h = sum(f[p] for p in range(len(f)) if serves[p][k])
        out.append(y[k] / h if h > 0 else 0.0)
    return out


def _bounds(
    row: dict, settings: CoreSettings, ig_sum: float
) -> tuple[list[float], list[float], float, float]:
    st = row["stage_mask"]
    n_p = len(st)
    cmin, cmax = row["cycle_min"], row["cycle_max"]
    lo0 = [row["min_green"][p] if st[p] else 0.0 for p in range(n_p)]
    hi0 = [min(row["max_green"][p], cmax) if st[p] else 0.0 for p in range(n_p)]
    cur_c, cur_g = row["current_cycle"], row["current_greens"]
    has_cur = math.isfinite(cur_c) and all(math.isfinite(cur_g[p]) for p in range(n_p) if st[p])
    dg = math.inf if settings.max_green_change is None else settings.max_green_change
    dc = math.inf if settings.max_cycle_change is None else settings.max_cycle_change
    limits = has_cur and (math.isfinite(dg) or math.isfinite(dc))
    if limits:
        lo1 = [max(lo0[p], min(cur_g[p] - dg, hi0[p])) if st[p] else 0.0 for p in range(n_p)]
        hi1 = [max(min(hi0[p], cur_g[p] + dg), lo1[p]) if st[p] else 0.0 for p in range(n_p)]
        a1 = max(max(cmin, cur_c - dc), sum(lo1) + ig_sum)
        b1 = min(min(cmax, cur_c + dc), sum(hi1) + ig_sum)
        if a1 <= b1 + EPS:
            return lo1, hi1, a1, max(a1, b1)
    a2 = max(cmin, sum(lo0) + ig_sum)
    b2 = min(cmax, sum(hi0) + ig_sum)
    if a2 <= b2 + EPS:
        return lo0, hi0, a2, max(a2, b2)
    big = [max(cmax, a2) if st[p] else 0.0 for p in range(n_p)]
    if a2 <= cmax + EPS:
        return lo0, big, a2, max(a2, cmax)
    return lo0, big, a2, a2


def _greens(
    f: list[float],
    lost: list[float],
    lo: list[float],
    hi: list[float],
    st: list[bool],
    total: float,
) -> list[float]:
    """Greens ``clip(mu f + lost, lo, hi)`` summing to ``total``: walk the sorted breakpoints."""
    active = [p for p in range(len(f)) if st[p]]

    def green_sum(mu: float) -> float:
        return sum(min(max(mu * f[p] + lost[p], lo[p]), hi[p]) for p in active)

    points = sorted(
        {(lo[p] - lost[p]) / f[p] for p in active} | {(hi[p] - lost[p]) / f[p] for p in active}
    )
    values = [green_sum(b) for b in points]
    total = min(max(total, values[0]), values[-1])
    mu = points[0]
    for j in range(len(points) - 1):
        if values[j] < total <= values[j + 1]:
            mu = points[j] + (total - values[j]) * (points[j + 1] - points[j]) / (
                values[j + 1] - values[j]
            )
            break
    return [min(max(mu * f[p] + lost[p], lo[p]), hi[p]) if st[p] else 0.0 for p in range(len(f))]


def _evaluate(
    cycle: float,
    greens: list[float],
    demand: list[float],
    y: list[float],
    sat: list[float],
    serves: list[list[bool]],
    lost_s: list[float],
    active: list[bool],
    settings: CoreSettings,
) -> tuple[float, list[float], list[float]]:
    t, kk, ii = settings.analysis_period_h, settings.incremental_k, settings.upstream_filtering
    objective, delays, xs = 0.0, [], []
    for k in range(len(y)):
        if not active[k]:
            delays.append(0.0)
            xs.append(0.0)
            continue
        g = sum(greens[p] for p in range(len(greens)) if serves[p][k]) - lost_s[k]
        g = max(g, settings.min_effective_green)
        u = g / cycle
        x = y[k] / u
        cap = sat[k] * u
        d1 = 0.5 * cycle * (1 - u) ** 2 / (1 - min(x, 1.0) * u)
        d2 = 900 * t * ((x - 1) + math.sqrt((x - 1) ** 2 + 8 * kk * ii * x / (cap * t)))
        d = d1 + d2
        stops = settings.stop_rate_factor * (1 - u) / (1 - min(x, 1.0) * u)
        objective += demand[k] * (d + settings.stop_weight * stops)
        delays.append(d)
        xs.append(x)
    return objective, delays, xs


def _valid_current(row: dict, ig_sum: float) -> bool:
    st = row["stage_mask"]
    cur_c, cur_g = row["current_cycle"], row["current_greens"]
    if not math.isfinite(cur_c):
        return False
    greens = [cur_g[p] if st[p] else 0.0 for p in range(len(st))]
    if not all(math.isfinite(g) for g in greens):
        return False
    for p in range(len(st)):
        if st[p] and not (row["min_green"][p] - 1e-6 <= greens[p] <= row["max_green"][p] + 1e-6):
            return False
    return (
        abs(sum(greens) + ig_sum - cur_c) <= 1e-6
        and row["cycle_min"] - 1e-6 <= cur_c <= row["cycle_max"] + 1e-6
    )
