"""Holds: keep an intersection (or a whole network) on its plan; list and release them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from signal_opt.api.deps import Operator, ServiceDep, Viewer
from signal_opt.api.paging import NEXT_HEADERS, Cursor, Limit, set_next
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    MAX_ID,
    PROTECTED,
    HoldPublic,
    HoldRequest,
    ReleaseRequest,
    error_responses,
)

router = APIRouter(
    prefix=f"{API_PREFIX}/networks/{{network}}/holds",
    tags=["holds and schedule"],
    responses=error_responses(*PROTECTED),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Hold intersections (or the whole network) on their current plans",
    description="Every retiming (scheduled or asked for) leaves a held intersection out "
    "and lists it under `held`, until the hold ends (`until`) or is released. A new hold "
    "replaces the active hold of the same intersection (or of the network).",
    responses=error_responses(*BODY),
)
def create_hold(
    network: str, body: HoldRequest, service: ServiceDep, key: Operator
) -> list[HoldPublic]:
    holds = service.control.hold(network, body.intersections, body.reason, body.until, key.key_id)
    return [HoldPublic.of(h) for h in holds]


@router.get(
    "",
    summary="Holds, newest first (active ones only unless `all=true`)",
    responses={200: {"description": "Holds", "headers": NEXT_HEADERS}},
)
def list_holds(
    network: str,
    request: Request,
    response: Response,
    service: ServiceDep,
    _: Viewer,
    all: Annotated[bool, Query(description="Released and ended holds too.")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[HoldPublic]:
    holds = service.control.holds(network, not all, limit, cursor)
    set_next(request, response, len(holds), limit, holds[-1].id if holds else None)
    return [HoldPublic.of(h) for h in holds]


@router.post(
    "/{hold_id}/release",
    summary="Release a hold: retimings change the plan again",
    responses=error_responses(*BODY),
)
def release_hold(
    network: str,
    hold_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ReleaseRequest,
    service: ServiceDep,
    key: Operator,
) -> HoldPublic:
    return HoldPublic.of(service.control.release(network, hold_id, body.reason, key.key_id))
