"""Request and response bodies. Inputs (``*In``, ``*Request``) and outputs (``*Public``) are
separate families; storage records never leave the API as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signal_opt.model import Intersection
from signal_opt.service import LoadedNetwork, RetimingOutcome
from signal_opt.service.control import ScheduleView
from signal_opt.storage import ApiKey, Hold, ReadingRecord, RetimingRecord, StoredPlan

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- detector readings ---------------------------------------------------------------------
class ReadingIn(_In):
    """One detector's reading over one interval."""

    detector_id: str = Field(min_length=1, max_length=128, examples=["sl_BX6_S2_1"])
    interval_start: datetime = Field(
        description="Start of the interval (ISO 8601; no time zone means UTC). "
        "Idempotency key together with detector_id."
    )
    interval_s: float = Field(default=60.0, gt=0, le=3600, description="Interval length, s.")
    count: NonNegative = Field(description="Vehicles counted in the interval.")
    occupancy: float = Field(ge=0, le=100, description="Percent of the interval occupied.")
    speed: NonNegative | None = Field(default=None, description="Mean speed, m/s (optional).")
    jam_length: NonNegative | None = Field(
        default=None, description="Queue length at the end of the interval, m (queue detectors)."
    )

    @field_validator("count", "occupancy", "speed", "jam_length", "interval_s", mode="before")
    @classmethod
    def _a_number(cls, v: Any) -> Any:
        if isinstance(v, (bool, str)):
            raise ValueError("must be a JSON number")
        return v

    @field_validator("interval_start", mode="before")
    @classmethod
    def _a_timestamp(cls, v: Any) -> Any:
        if not isinstance(v, str | datetime):
            raise ValueError("must be an ISO 8601 date-time string, e.g. 2025-05-01T08:00:00Z")
        return v

    def to_record(self) -> ReadingRecord:
        start = self.interval_start
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return ReadingRecord(
            self.detector_id,
            round(start.timestamp() * 1000),
            self.interval_s,
            self.count,
            self.occupancy,
            self.speed,
            self.jam_length,
        )


class ReadingBatchIn(_In):
    readings: list[ReadingIn] = Field(min_length=1)


class ReadingReplaceIn(ReadingBatchIn):
    reason: Annotated[
        str, Field(min_length=1, max_length=1000, description="Why: kept in the audit log.")
    ]


class IngestPublic(BaseModel):
    received: int
    stored: int
    duplicates: int = Field(description="Readings already stored (same detector and interval).")
    replaced: int = Field(default=0, description="Stored readings corrected (PUT only).")


# -- retiming ----------------------------------------------------------------------------
class RetimeRequest(_In):
    intersections: list[str] | None = Field(
        default=None, description="Intersections to retime (default: all, or those in `demand`)."
    )
    demand: dict[str, dict[str, NonNegative]] | None = Field(
        default=None,
        description="Demand per intersection and lane group, veh/h. Without it the "
        "demand is estimated from the stored detector readings. Lane groups "
        "left out count as 0 veh/h.",
    )


class RetimeOneRequest(_In):
    demand: dict[str, NonNegative] | None = Field(
        default=None, description="Demand per lane group, veh/h (default: from detector readings)."
    )


class PlanPublic(BaseModel):
    network: str
    intersection_id: str
    version: int
    cycle_s: float
    greens_s: list[float] = Field(description="Green of each stage, in stage order.")
    offset_s: float
    source: Literal["base", "optimized", "fallback", "rollback"]
    retiming_id: int | None
    rolled_back_from: int | None
    error: str | None = Field(description="Why this is a fallback plan, if it is one.")
    created_at: datetime
    demand_veh_h: dict[str, float] | None = None
    delay_s: dict[str, float | None] | None = Field(
        default=None, description="Predicted delay per lane group, s/veh."
    )
    degree_of_saturation: dict[str, float | None] | None = None
    flags: list[str] = []
    actor: str | None = Field(
        default=None,
        description="Who stored it: an API key id or `scheduler@<replica>` (None before 0.2).",
    )

    @classmethod
    def of(cls, p: StoredPlan) -> PlanPublic:
        d: dict[str, Any] = p.details
        return cls(
            network=p.network,
            intersection_id=p.intersection_id,
            version=p.version,
            cycle_s=p.cycle,
            greens_s=list(p.greens),
            offset_s=p.offset,
            source=p.source,  # type: ignore[arg-type]
            retiming_id=p.retiming_id,
            rolled_back_from=p.rolled_back_from,
            error=p.error,
            created_at=p.created_at,
            demand_veh_h=d.get("demand_veh_h"),
            delay_s=d.get("delay_s"),
            degree_of_saturation=d.get("degree_of_saturation"),
            flags=list(d.get("flags") or []),
            actor=p.actor,
        )


class RetimingPublic(BaseModel):
    id: int
    network: str
    trigger: Literal["api", "schedule", "run_now"]
    demand_source: Literal["detectors", "request"]
    started_at: datetime
    duration_s: float
    outcome: Literal["ok", "partial", "fallback", "held"] = Field(
        description="ok: every intersection retimed optimized; partial: some on a fallback "
        "plan; fallback: none optimized; held: every intersection asked for is held."
    )
    n_optimized: int
    n_fallback: int
    held: dict[str, str] = Field(
        default={},
        description="Intersections left out because an operator holds them: id -> the hold.",
    )
    actor: str | None = None
    plans: list[PlanPublic] | None = None

    @classmethod
    def of(cls, r: RetimingRecord, plans: list[StoredPlan] | None = None) -> RetimingPublic:
        return cls(
            id=r.id,
            network=r.network,
            trigger=r.trigger,  # type: ignore[arg-type]
            demand_source=r.demand_source,  # type: ignore[arg-type]
            started_at=r.started_at,
            duration_s=r.duration_s,
            outcome=r.outcome,  # type: ignore[arg-type]
            n_optimized=r.n_optimized,
            n_fallback=r.n_fallback,
            held=dict(r.held or {}),
            actor=r.actor,
            plans=None if plans is None else [PlanPublic.of(p) for p in plans],
        )

    @classmethod
    def of_outcome(cls, o: RetimingOutcome) -> RetimingPublic:
        return cls.of(o.retiming, o.plans)


# -- holds and schedule --------------------------------------------------------------------
Reason = Annotated[
    str,
    Field(min_length=1, max_length=1000, description="Why: kept in the audit log."),
]


class RollbackRequest(_In):
    reason: Reason
    hold: bool = Field(
        default=True,
        description="Hold the intersection on the rolled-back plan (no retiming replaces "
        "it) until `hold_until` or until the hold is released.",
    )
    hold_until: datetime | None = Field(default=None, description="End of the hold (UTC).")


class HoldRequest(_In):
    intersections: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Intersections to hold on their current plans (default: the whole network).",
    )
    reason: Reason
    until: datetime | None = Field(
        default=None, description="End of the hold (no time zone means UTC); none: until released."
    )


class ReleaseRequest(_In):
    reason: Reason


class HoldPublic(BaseModel):
    id: int
    network: str
    intersection_id: str | None = Field(description="None: every intersection of the network.")
    plan_version: int | None = Field(description="The plan version in force when held.")
    reason: str
    created_by: str
    created_at: datetime
    ends_at: datetime | None
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None
    active: bool

    @classmethod
    def of(cls, h: Hold) -> HoldPublic:
        return cls(
            **{k: v for k, v in h.__dict__.items()},
            active=h.active(datetime.now(UTC)),
        )


class ScheduleUpdate(_In):
    interval_s: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="The network's own interval, s; `null` returns it to the service's "
        "setting. Left out: unchanged. Takes effect at once.",
    )
    paused: bool | None = Field(default=None, description="Pause (true) or resume (false).")
    reason: Reason


class SchedulePublic(BaseModel):
    network: str
    interval_s: float
    interval_source: Literal["setting", "network"]
    paused: bool
    reason: str | None
    updated_by: str | None
    updated_at: datetime | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_by: str | None

    @classmethod
    def of(cls, v: ScheduleView) -> SchedulePublic:
        def at(t: float | None) -> datetime | None:
            return None if t is None else datetime.fromtimestamp(t, UTC)

        return cls(
            network=v.network,
            interval_s=v.interval_s,
            interval_source=v.interval_source,  # type: ignore[arg-type]
            paused=v.paused,
            reason=v.reason,
            updated_by=v.updated_by,
            updated_at=v.updated_at,
            next_run_at=at(v.next_run_at),
            last_run_at=at(v.last_run_at),
            last_run_by=v.last_run_by,
        )


# -- networks ----------------------------------------------------------------------------
class NetworkPublic(BaseModel):
    name: str
    source: Literal["bundled", "uploaded"]
    n_intersections: int
    n_detectors: int
    intersections: list[str]

    @classmethod
    def of(cls, n: LoadedNetwork) -> NetworkPublic:
        return cls(
            name=n.name,
            source=n.source,  # type: ignore[arg-type]
            n_intersections=len(n.intersections),
            n_detectors=len(n.detectors),
            intersections=[x.id for x in n.intersections],
        )


class DetectorPublic(BaseModel):
    id: str
    kind: Literal["stopline", "advance", "queue"]
    lane: str = Field(description="Incoming lane of the intersection the detector serves.")
    intersection_id: str


class LaneGroupPublic(BaseModel):
    id: str
    approach: str
    movement: str
    lanes: list[str]
    lane_shares: list[float]
    saturation_flow_veh_h: float


class PhasePublic(BaseModel):
    duration_s: float
    state: str


class StagePublic(BaseModel):
    index: int
    phase_index: int
    state: str
    lane_groups: list[str]
    min_green_s: float = Field(description="Pedestrian crossing time included.")
    base_green_s: float
    intergreen: list[PhasePublic]
    intergreen_s: float


class IntersectionPublic(BaseModel):
    id: str
    program_id: str
    cycle_min_s: float
    cycle_max_s: float
    lost_time_s: float
    min_cycle_feasible_s: float
    base_cycle_s: float
    base_offset_s: float
    lane_groups: list[LaneGroupPublic]
    stages: list[StagePublic]
    x: float
    y: float

    @classmethod
    def of(cls, x: Intersection) -> IntersectionPublic:
        groups = [
            LaneGroupPublic(
                id=g.id,
                approach=g.approach,
                movement=g.movement,
                lanes=list(g.lanes),
                lane_shares=list(g.lane_shares),
                saturation_flow_veh_h=g.saturation_flow,
            )
            for g in x.lane_groups
        ]
        stages = [
            StagePublic(
                index=i,
                phase_index=s.phase_index,
                state=s.state,
                lane_groups=[x.lane_groups[k].id for k in s.lane_groups],
                min_green_s=s.min_green,
                base_green_s=s.base_green,
                intergreen=[
                    PhasePublic(duration_s=p.duration, state=p.state) for p in s.intergreen
                ],
                intergreen_s=s.intergreen_time,
            )
            for i, s in enumerate(x.stages)
        ]
        return cls(
            id=x.id,
            program_id=x.program_id,
            cycle_min_s=x.cycle_min,
            cycle_max_s=x.cycle_max,
            lost_time_s=x.lost_time,
            min_cycle_feasible_s=x.min_cycle_feasible,
            base_cycle_s=x.base_cycle,
            base_offset_s=x.base_offset,
            lane_groups=groups,
            stages=stages,
            x=x.x,
            y=x.y,
        )


# -- API keys ------------------------------------------------------------------------------
class KeyCreateIn(_In):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field(default="", max_length=128)


class KeyPublic(BaseModel):
    key_id: str
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, k: ApiKey) -> KeyPublic:
        return cls(
            key_id=k.key_id,
            role=k.role,
            name=k.name,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )


class KeyCreatedPublic(KeyPublic):
    token: str = Field(description="The key itself: shown once, only its hash is stored.")


class ErrorPublic(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="What is wrong: a sentence, or (422) a list of "
        "`{loc, msg, type}` naming each offending field."
    )


_ERRORS = {
    400: "Malformed multipart form data (a JSON body that is not JSON is a 422).",
    401: "Missing, unknown or revoked API key.",
    403: "The key's role is too low for this route.",
    404: "Unknown network, intersection, version or retiming.",
    409: "The request conflicts with what is stored.",
    413: "Request body larger than the limit.",
    422: "Invalid input; `detail` names each offending field.",
    503: "Storage unavailable; retry later.",
}

PROTECTED = (401, 403, 404, 422, 503)
"""Statuses every ``/v1`` route can answer with."""

BODY = (400, 413)
"""Further statuses of every route that reads a body."""

MAX_ID = 2**31 - 1
"""Largest version / retiming id / offset accepted (beyond: 422, not a database overflow)."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting error ``codes`` with the :class:`ErrorPublic` body."""
    return {c: {"model": ErrorPublic, "description": _ERRORS[c]} for c in codes}
