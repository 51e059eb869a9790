"""The schedule: each network's interval, pause and resume, run now."""

from __future__ import annotations

from fastapi import APIRouter, Request

from signal_opt.api.deps import Operator, ServiceDep, Viewer
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    PROTECTED,
    RetimingPublic,
    SchedulePublic,
    ScheduleUpdate,
    error_responses,
)
from signal_opt.service.control import UNCHANGED
from signal_opt.service.scheduler import Scheduler

router = APIRouter(
    prefix=API_PREFIX, tags=["holds and schedule"], responses=error_responses(*PROTECTED)
)


@router.get("/schedule", summary="The schedule of every network")
def list_schedules(service: ServiceDep, _: Viewer) -> list[SchedulePublic]:
    return [SchedulePublic.of(v) for v in service.control.schedules()]


@router.get("/networks/{network}/schedule", summary="A network's schedule")
def get_schedule(network: str, service: ServiceDep, _: Viewer) -> SchedulePublic:
    return SchedulePublic.of(service.control.schedule(network))


@router.patch(
    "/networks/{network}/schedule",
    summary="Change a network's interval, pause or resume it",
    description="A new interval takes effect at once: the next run is one new interval "
    "after the last one (at the next tick if that is already past).",
    responses=error_responses(*BODY),
)
def update_schedule(
    network: str, body: ScheduleUpdate, service: ServiceDep, key: Operator
) -> SchedulePublic:
    interval = body.interval_s if "interval_s" in body.model_fields_set else UNCHANGED
    view = service.control.update_schedule(network, interval, body.paused, body.reason, key.key_id)
    return SchedulePublic.of(view)


@router.post(
    "/networks/{network}/schedule/run",
    summary="Run the network's scheduled retiming now",
    description="Retimes the network from its detector data now (`trigger: run_now`; held "
    "intersections left out); the next scheduled run is one interval later.",
    responses=error_responses(409),
)
def run_now(network: str, request: Request, service: ServiceDep, key: Operator) -> RetimingPublic:
    scheduler: Scheduler = request.app.state.scheduler
    return RetimingPublic.of_outcome(scheduler.run_now(network, key.key_id))
