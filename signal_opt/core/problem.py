"""Inputs of the optimization core: the padded array problem and the settings.

Shapes: ``N`` intersections, ``K`` lane groups and ``P`` stages per intersection (padded to
the largest counts, with masks).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


@dataclass
class CoreSettings:
    """Model and search settings of the core (plain defaults; every field is optional).

    Units are seconds, hours (``analysis_period_h``) and vehicles per hour.
    """

    analysis_period_h: float = 0.25
    """Analysis period ``T`` of the incremental delay term (h)."""
    startup_lost_time: float = 2.0
    """Start-up lost time at the beginning of every stage's green (s)."""
    end_gain: float = 0.0
    """Part of the intergreen after a stage that traffic still uses (s, at most the intergreen).

    Effective green of a stage = displayed green - ``startup_lost_time`` + ``end_gain``.
    """
    cycle_step: float = 1.0
    """Spacing of the candidate cycle lengths (s)."""
    max_cycle_change: float | None = None
    """Largest change of the cycle per retiming (s); ``None`` = unlimited."""
    max_green_change: float | None = None
    """Largest change of any stage's green per retiming (s); ``None`` = unlimited."""
    stop_weight: float = 0.0
    """Seconds of delay one stop is worth in the objective (0 = delay only)."""
    max_degree_of_saturation: float | None = 1.0
    """Candidate plans with a lane group above this degree of saturation are discarded,
    unless every candidate of the intersection is above it (``None`` = no limit: the delay
    model alone then weighs oversaturation, and accepts a little of it)."""
    target_degree_of_saturation: float | None = None
    """Cycle policy. ``None``: the cycle of least predicted delay. A value (e.g. 0.85):
    the shortest candidate cycle whose most saturated lane group stays at or below it, as
    SCATS-style controllers run (short cycles when demand is light); the least-delay cycle
    when no candidate meets it."""
    incremental_k: float = 0.5
    """HCM incremental-delay factor ``k`` (0.5 for pretimed control)."""
    upstream_filtering: float = 1.0
    """HCM upstream filtering / metering factor ``I`` (1.0 for isolated intersections)."""
    stop_rate_factor: float = 0.9
    """Akcelik's stop-rate factor: stops per vehicle ``h = 0.9 (1-u) / (1-min(x,1) u)``."""
    max_flow_ratio: float = 10.0
    """Demand above this multiple of a group's saturation flow is treated as a detector
    fault (``BAD_INPUT``), like NaN, negative or infinite demand."""
    split_iterations: int = 20
    """Iterations of the equal-degree-of-saturation split refinement (overlapping stages)."""
    min_effective_green: float = 1.0
    """Floor of a lane group's effective green in the delay model (s), to keep it finite."""
    fast_search: bool = True
    """Search candidates in float32 (about twice as fast); the chosen plan is evaluated in
    float64. Near-ties (objectives within ~1e-6) may then pick a neighbouring cycle."""
    chunk_size: int = 64
    """Intersections evaluated per array pass (bounds the (n, C, K) temporaries)."""
    # Coordination (offsets)
    offset_step: float = 1.0
    """Resolution of cyclic flow profiles and candidate offsets (s)."""
    dispersion_alpha: float = 0.35
    """Robertson's platoon dispersion factor alpha."""
    dispersion_beta: float = 0.8
    """Robertson's travel-time factor beta (the platoon head arrives after beta * t)."""
    half_cycle_ratio: float = 0.55
    """A coordinated member whose own best cycle is at most this fraction of the group's
    cycle runs half the group cycle (if its bounds allow)."""
    max_offset_rounds: int = 200
    """Rounds of the network-wide offset descent."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"CoreSettings.{f.name} must be a finite number >= 0, got {value!r}"
                )
        for name in ("analysis_period_h", "cycle_step", "offset_step", "chunk_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CoreSettings.{name} must be > 0, got {getattr(self, name)!r}")


def _array(name: str, value: ArrayLike, dtype: type, shape: tuple[int, ...]) -> NDArray:
    arr: NDArray = np.array(value, dtype=dtype, copy=True)
    if arr.shape != shape:
        raise ValueError(f"RetimingProblem.{name} has shape {arr.shape}, expected {shape}")
    arr.setflags(write=False)
    return arr


def _check(name: str, bad: NDArray[np.bool_], what: str) -> None:
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"RetimingProblem.{name} {what} (first at index {where})")


@dataclass(frozen=True, eq=False)
class RetimingProblem:
    """Timing problem of ``N`` intersections, padded to ``K`` lane groups and ``P`` stages.

    Arrays (converted to read-only numpy arrays and validated at construction):

    - ``demand (N, K)`` veh/h per lane group. Not validated: NaN, negative, infinite or
      absurd values mark that intersection ``BAD_INPUT`` in the result instead of raising.
    - ``saturation (N, K)`` veh/h of green, ``> 0`` for active groups.
    - ``group_mask (N, K)`` bool, True for real lane groups.
    - ``serves (N, P, K)`` bool, stage ``p`` gives green to group ``k`` (a group may be
      served by several stages).
    - ``stage_mask (N, P)`` bool, True for real stages (every intersection needs one).
    - ``intergreen (N, P)`` s of yellow + all-red after each stage (fixed).
    - ``min_green (N, P)`` s, pedestrian time included; ``max_green (N, P)`` s (inf allowed).
    - ``cycle_min (N,)``, ``cycle_max (N,)`` s.
    - ``current_cycle (N,)`` and ``current_greens (N, P)``: the plan running now; NaN means
      no plan, and then no change limits apply.
    - ``ids``: optional intersection ids (for messages and :meth:`RetimingResult.to_plans`).
    """

    demand: FloatArray
    saturation: FloatArray
    group_mask: BoolArray
    serves: BoolArray
    stage_mask: BoolArray
    intergreen: FloatArray
    min_green: FloatArray
    max_green: FloatArray
    cycle_min: FloatArray
    cycle_max: FloatArray
    current_cycle: FloatArray = None  # type: ignore[assignment]  # NaN-filled if None
    current_greens: FloatArray = None  # type: ignore[assignment]
    ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        serves = np.asarray(self.serves)
        if serves.ndim != 3:
            raise ValueError(
                f"RetimingProblem.serves must have shape (N, P, K), got {serves.shape}"
            )
        n, p, k = serves.shape
        if n == 0 or p == 0 or k == 0:
            raise ValueError(f"RetimingProblem.serves has an empty axis: shape {serves.shape}")
        set_ = object.__setattr__
        set_(self, "serves", _array("serves", serves, bool, (n, p, k)))
        for name in ("demand", "saturation"):
            set_(self, name, _array(name, getattr(self, name), np.float64, (n, k)))
        set_(self, "group_mask", _array("group_mask", self.group_mask, bool, (n, k)))
        set_(self, "stage_mask", _array("stage_mask", self.stage_mask, bool, (n, p)))
        for name in ("intergreen", "min_green", "max_green"):
            set_(self, name, _array(name, getattr(self, name), np.float64, (n, p)))
        for name in ("cycle_min", "cycle_max"):
            set_(self, name, _array(name, getattr(self, name), np.float64, (n,)))
        cc = np.full(n, np.nan) if self.current_cycle is None else self.current_cycle
        cg = np.full((n, p), np.nan) if self.current_greens is None else self.current_greens
        set_(self, "current_cycle", _array("current_cycle", cc, np.float64, (n,)))
        set_(self, "current_greens", _array("current_greens", cg, np.float64, (n, p)))
        if self.ids and len(self.ids) != n:
            raise ValueError(f"RetimingProblem.ids has {len(self.ids)} entries, expected {n}")
        set_(self, "ids", tuple(str(i) for i in self.ids))
        self._validate()

    def _validate(self) -> None:
        g, s = self.group_mask, self.stage_mask
        no_stage = np.asarray(~s.any(axis=1))[:, None]
        _check("stage_mask", no_stage, "has an intersection without stages")
        sat = self.saturation
        _check("saturation", g & ~(np.isfinite(sat) & (sat > 0)), "must be finite and > 0")
        for name in ("intergreen", "min_green"):
            a = getattr(self, name)
            _check(name, s & ~(np.isfinite(a) & (a >= 0)), "must be finite and >= 0")
        mx = self.max_green
        _check("max_green", s & ~(mx >= self.min_green), "must be >= min_green (inf allowed)")
        cmin, cmax = self.cycle_min, self.cycle_max
        _check("cycle_min", ~(np.isfinite(cmin) & (cmin > 0)), "must be finite and > 0")
        _check(
            "cycle_max", ~(np.isfinite(cmax) & (cmax >= cmin)), "must be finite and >= cycle_min"
        )
        cc = self.current_cycle
        _check(
            "current_cycle", ~(np.isnan(cc) | (np.isfinite(cc) & (cc > 0))), "must be > 0 or NaN"
        )
        cg = self.current_greens
        _check(
            "current_greens",
            s & ~(np.isnan(cg) | (np.isfinite(cg) & (cg >= 0))),
            "must be >= 0 or NaN",
        )

    @property
    def n(self) -> int:
        """Number of intersections ``N``."""
        return int(self.serves.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(N, P, K)``."""
        n, p, k = self.serves.shape
        return int(n), int(p), int(k)

    def subset(self, index: ArrayLike) -> RetimingProblem:
        """The problem restricted to the intersections ``index`` (ints or a bool mask)."""
        idx = np.arange(self.n)[np.asarray(index)]
        ids = tuple(self.ids[i] for i in idx) if self.ids else ()
        return RetimingProblem(
            demand=self.demand[idx],
            saturation=self.saturation[idx],
            group_mask=self.group_mask[idx],
            serves=self.serves[idx],
            stage_mask=self.stage_mask[idx],
            intergreen=self.intergreen[idx],
            min_green=self.min_green[idx],
            max_green=self.max_green[idx],
            cycle_min=self.cycle_min[idx],
            cycle_max=self.cycle_max[idx],
            current_cycle=self.current_cycle[idx],
            current_greens=self.current_greens[idx],
            ids=ids,
        )

    def with_demand(self, demand: ArrayLike) -> RetimingProblem:
        """The same intersections with new demand ``(N, K)`` (e.g. for what-if studies)."""
        return _replace(self, demand=demand)

    def with_current(self, cycle: ArrayLike, greens: ArrayLike) -> RetimingProblem:
        """The same problem with a new running plan (``cycle (N,)``, ``greens (N, P)``)."""
        return _replace(self, current_cycle=cycle, current_greens=greens)


def _replace(problem: RetimingProblem, **changes: object) -> RetimingProblem:
    values = {f.name: getattr(problem, f.name) for f in fields(problem)}
    values.update(changes)
    return RetimingProblem(**values)  # type: ignore[arg-type]
