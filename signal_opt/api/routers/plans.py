"""Plans: current, history, one version, rollback, SUMO ``tlLogic`` export."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from signal_opt.api.deps import Admin, ServiceDep, Viewer
from signal_opt.api.paging import NEXT_HEADERS, Cursor, Limit, set_next
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    MAX_ID,
    PROTECTED,
    PlanPublic,
    RollbackRequest,
    error_responses,
)
from signal_opt.service.field_units import SHEET_COLUMNS, timing_sheet

router = APIRouter(
    prefix=f"{API_PREFIX}/networks/{{network}}",
    tags=["plans"],
    responses=error_responses(*PROTECTED),
)
_ONE = "/intersections/{intersection_id}"
Version = Annotated[int, Path(ge=1, le=MAX_ID, description="plan version (1: the network's own)")]


@router.get("/plans", summary="Current plan of every intersection (or of `intersection`)")
def current_plans(
    network: str,
    service: ServiceDep,
    _: Viewer,
    intersection: Annotated[list[str] | None, Query()] = None,
) -> list[PlanPublic]:
    return [PlanPublic.of(p) for p in service.current_plans(network, intersection)]


@router.get(
    "/plans/export",
    summary="Current plans as a SUMO additional file",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "`<additional>` with one `<tlLogic>` per "
            "intersection; load it with sumo -a FILE",
        },
        **error_responses(409),
    },
)
def export_plans(
    network: str,
    service: ServiceDep,
    _: Viewer,
    intersection: Annotated[list[str] | None, Query()] = None,
) -> Response:
    xml = service.export(network, intersection)
    return Response(
        xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{network}.plans.add.xml"'},
    )


@router.get(
    "/plans/timing-sheet",
    summary="Current plans as a controller-neutral timing sheet (CSV or JSON)",
    description="One row per stage: " + ", ".join(f"`{c}`" for c in SHEET_COLUMNS) + ". "
    "Times in seconds on the service's grid (`plan_resolution_s`); `max_green_s` is the "
    "longest green the stage can take in the cycle with every other stage at its minimum; "
    "`green_start_s` is when its green starts, counted like the offset.",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "description": "The timing sheet",
        }
    },
)
def timing_sheet_export(
    network: str,
    service: ServiceDep,
    _: Viewer,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    intersection: Annotated[list[str] | None, Query()] = None,
) -> Response:
    net = service.network(network)
    rows = timing_sheet(network, net.by_id, service.current_plans(network, intersection))
    if format == "json":
        return Response(json.dumps(rows), media_type="application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{network}.timing-sheet.csv"'},
    )


@router.get(_ONE + "/plan", summary="Current plan of one intersection")
def current_plan(network: str, intersection_id: str, service: ServiceDep, _: Viewer) -> PlanPublic:
    return PlanPublic.of(service.current_plan(network, intersection_id))


@router.get(
    _ONE + "/plans",
    summary="Plan history of one intersection, newest first",
    description="Cursor paging: the `X-Next-Cursor` header (and `Link: rel=next`) of a "
    "page is the `cursor` of the next one. `offset` still works but is deprecated.",
    responses={200: {"description": "Plan versions", "headers": NEXT_HEADERS}},
)
def plan_history(
    network: str,
    intersection_id: str,
    request: Request,
    response: Response,
    service: ServiceDep,
    _: Viewer,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, deprecated=True)] = 0,
    cursor: Cursor = None,
) -> list[PlanPublic]:
    plans = service.history(network, intersection_id, limit, offset, cursor)
    set_next(request, response, len(plans), limit, plans[-1].version if plans else None)
    return [PlanPublic.of(p) for p in plans]


@router.get(_ONE + "/plans/{version}", summary="One past plan version")
def plan_version(
    network: str, intersection_id: str, version: Version, service: ServiceDep, _: Viewer
) -> PlanPublic:
    return PlanPublic.of(service.plan_version(network, intersection_id, version))


@router.post(
    _ONE + "/plans/{version}/rollback",
    status_code=201,
    summary="Roll back to a past version",
    description="Stores the past plan again as a new, current version and (unless "
    "`hold` is false) holds the intersection on it, so no retiming replaces it until the "
    "hold ends or is released.",
    responses=error_responses(409, *BODY),
)
def rollback(
    network: str,
    intersection_id: str,
    version: Version,
    body: RollbackRequest,
    service: ServiceDep,
    key: Admin,
) -> PlanPublic:
    saved = service.rollback(
        network, intersection_id, version, body.reason, key.key_id, body.hold, body.hold_until
    )
    return PlanPublic.of(saved)
