"""Model types shared by every layer: intersections, their stages and lane groups, and plans.

These are plain frozen dataclasses with no dependency on SUMO, numpy or HTTP, so that
``core`` (numpy), ``sumo`` (simulation), ``storage`` and ``api`` can all speak them.

Vocabulary (as in the Highway Capacity Manual and SUMO):

- A *link* is one controlled connection, from an incoming lane to an outgoing lane; its
  ``index`` is its position in the signal state string (``"GGrryy..."``).
- A *lane group* is the set of links of one approach that always get green together
  (e.g. the two through lanes of the eastbound approach); demand and saturation flow are
  counted per lane group.
- A *stage* is one green phase of the cycle. Between two stages run the *intergreen*
  phases (yellow, then all-red), whose durations are never changed by retiming.
- A *plan* gives the cycle length, the green of every stage and the offset; together with
  the intergreens it determines the full phase sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GREEN_STATES = frozenset("Gg")
"""Signal characters that let traffic go (``G`` priority, ``g`` yielding)."""

YELLOW_STATES = frozenset("yY")


@dataclass(frozen=True)
class Phase:
    """One phase of a signal program, as SUMO has it."""

    duration: float
    state: str
    min_dur: float | None = None
    max_dur: float | None = None

    @property
    def is_transition(self) -> bool:
        """True for yellow / all-red phases, whose durations retiming never changes."""
        return any(c in YELLOW_STATES for c in self.state) or not any(
            c in GREEN_STATES for c in self.state
        )


@dataclass(frozen=True)
class Link:
    """One signal-controlled connection (``index`` is its position in the state string)."""

    index: int
    from_edge: str
    from_lane: str
    to_edge: str
    to_lane: str
    direction: str
    """SUMO's direction code: ``s`` straight, ``l``/``L`` left, ``r``/``R`` right, ``t`` U-turn."""
    is_crossing: bool = False
    """True for a pedestrian crossing controlled by the signal."""
    crossing_length: float = 0.0


@dataclass(frozen=True)
class LaneGroup:
    """Links of one approach that receive green in the same stages."""

    id: str
    approach: str
    """Incoming edge id."""
    links: tuple[int, ...]
    lanes: tuple[str, ...]
    """Incoming lanes feeding the group (a lane shared by two groups appears in both)."""
    lane_shares: tuple[float, ...]
    """Fraction of each lane in ``lanes`` that belongs to this group (1.0 for a dedicated lane)."""
    movement: str
    """``through``, ``left``, ``right`` or ``uturn`` (the dominant direction of its links)."""
    saturation_flow: float
    """Saturation flow of the whole group, veh/h of green."""

    @property
    def n_lanes(self) -> float:
        return float(sum(self.lane_shares))


@dataclass(frozen=True)
class Stage:
    """One green phase of the base program, with the intergreen phases that follow it."""

    phase_index: int
    """Index of the green phase in the network's own program (as SUMO numbers it)."""
    state: str
    lane_groups: tuple[int, ...]
    """Indices into ``Intersection.lane_groups`` of the groups that have green."""
    min_green: float
    """Seconds; already the larger of the vehicle minimum and the pedestrian crossing time."""
    base_green: float
    """Green of this stage in the network's own program."""
    intergreen: tuple[Phase, ...]
    """Yellow / all-red phases that follow this stage, in order (their durations are fixed)."""
    vehicle_min_green: float | None = None
    """Minimum green when the stage runs without its pedestrian walk (crossings kept red,
    no pedestrian call); None: ``min_green``."""
    walk_min_green: float | None = None
    """Minimum green with the walk when any stage may follow (a crossing that stays green
    into the program's next stage gets its full walk and clearance here too); None:
    ``min_green``."""

    @property
    def intergreen_time(self) -> float:
        return float(sum(p.duration for p in self.intergreen))

    def min_green_for(self, walk: bool) -> float:
        """Minimum green of the stage when any stage may follow it (free operation), with
        (``walk``) or without the pedestrian walk."""
        if walk:
            return max(self.min_green, self.walk_min_green or 0.0)
        if self.vehicle_min_green is None:
            return self.min_green
        return min(self.min_green, self.vehicle_min_green)


@dataclass(frozen=True)
class Intersection:
    """A signalized intersection: one SUMO traffic light and what it controls."""

    id: str
    program_id: str
    links: tuple[Link, ...]
    lane_groups: tuple[LaneGroup, ...]
    stages: tuple[Stage, ...]
    lead_phases: tuple[Phase, ...]
    """Transition phases before the first stage (rare; kept verbatim)."""
    conflicts: frozenset[tuple[int, int]]
    """Pairs ``(i, j)``, ``i < j``, of link indices that must never both show ``G``."""
    base_offset: float
    cycle_min: float
    cycle_max: float
    node_ids: tuple[str, ...] = ()
    x: float = 0.0
    y: float = 0.0

    @property
    def base_cycle(self) -> float:
        return float(
            sum(s.base_green + s.intergreen_time for s in self.stages)
            + sum(p.duration for p in self.lead_phases)
        )

    @property
    def lost_time(self) -> float:
        """Total intergreen per cycle (the part of the cycle no stage can use)."""
        return float(
            sum(s.intergreen_time for s in self.stages) + sum(p.duration for p in self.lead_phases)
        )

    @property
    def min_cycle_feasible(self) -> float:
        """Shortest cycle that fits every minimum green and intergreen."""
        return float(sum(s.min_green for s in self.stages) + self.lost_time)

    @property
    def crossings(self) -> frozenset[int]:
        """Link indices of the signal's pedestrian crossings."""
        return frozenset(lk.index for lk in self.links if lk.is_crossing)

    def without_walk(self, state: str) -> str:
        """``state`` with every pedestrian crossing red (don't walk)."""
        cross = self.crossings
        return "".join("r" if i in cross else c for i, c in enumerate(state))

    def base_plan(self) -> Plan:
        return Plan(
            intersection_id=self.id,
            cycle=self.base_cycle,
            greens=tuple(s.base_green for s in self.stages),
            offset=self.base_offset % max(self.base_cycle, 1e-9),
        )


@dataclass(frozen=True)
class Plan:
    """A timing plan for one intersection: cycle, green per stage (in stage order), offset.

    ``cycle == sum(greens) + intergreens`` always holds for a valid plan; ``offset`` is the
    time within the cycle (seconds, ``0 <= offset < cycle``) at which the first stage starts,
    counted from simulation time 0.
    """

    intersection_id: str
    cycle: float
    greens: tuple[float, ...]
    offset: float = 0.0
    source: str = "base"
    details: dict[str, object] = field(default_factory=dict, compare=False)


def plan_phases(intersection: Intersection, greens: tuple[float, ...] | list[float]) -> list[Phase]:
    """Full phase list of ``intersection`` running ``greens``, intergreens kept as they are."""
    if len(greens) != len(intersection.stages):
        raise ValueError(
            f"plan for {intersection.id!r} has {len(greens)} greens; "
            f"the intersection has {len(intersection.stages)} stages"
        )
    phases = list(intersection.lead_phases)
    for stage, green in zip(intersection.stages, greens):
        phases.append(Phase(float(green), stage.state, float(green), float(green)))
        phases.extend(stage.intergreen)
    return phases


class PlanError(ValueError):
    """A plan that breaks a safety rule of its intersection."""


def check_plan(intersection: Intersection, plan: Plan, tol: float = 1e-6) -> None:
    """Raise :class:`PlanError` naming the first rule ``plan`` breaks.

    Rules: one green per stage, every green at least its minimum (pedestrian time
    included), cycle equal to greens plus the fixed intergreens, cycle within bounds, offset
    within the cycle.
    """
    where = f"plan for intersection {intersection.id!r}"
    if len(plan.greens) != len(intersection.stages):
        raise PlanError(
            f"{where}: {len(plan.greens)} greens given, {len(intersection.stages)} stages exist"
        )
    for i, (stage, green) in enumerate(zip(intersection.stages, plan.greens)):
        if not green == green or green < stage.min_green - tol:  # NaN or too short
            raise PlanError(
                f"{where}: stage {i} green {green} s is below its minimum {stage.min_green} s"
            )
    expected = sum(plan.greens) + intersection.lost_time
    if abs(expected - plan.cycle) > 1e-3:
        raise PlanError(
            f"{where}: cycle {plan.cycle} s does not equal greens + intergreens {expected} s"
        )
    outside = plan.cycle < intersection.cycle_min - tol or plan.cycle > intersection.cycle_max + tol
    # The network's own program may run outside the bounds signal-opt sets for new plans.
    if outside and not (plan.source == "base" and plan == intersection.base_plan()):
        raise PlanError(
            f"{where}: cycle {plan.cycle} s is outside "
            f"[{intersection.cycle_min}, {intersection.cycle_max}] s"
        )
    if not (0.0 <= plan.offset < plan.cycle + tol):
        raise PlanError(f"{where}: offset {plan.offset} s is outside [0, cycle)")
