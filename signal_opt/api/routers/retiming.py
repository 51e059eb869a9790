"""Retiming: one intersection, a list, or a whole network; past retimings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response

from signal_opt.api.deps import Operator, ServiceDep, Viewer
from signal_opt.api.paging import NEXT_HEADERS, Cursor, Limit, set_next
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    MAX_ID,
    PROTECTED,
    RetimeOneRequest,
    RetimeRequest,
    RetimingPublic,
    error_responses,
)
from signal_opt.service import NotFound

router = APIRouter(
    prefix=f"{API_PREFIX}/networks/{{network}}",
    tags=["retiming"],
    responses=error_responses(*PROTECTED),
)

_DOC = (
    "Each retimed intersection gets a new plan version: the optimized plan, or a safe "
    "fallback (its current plan, else the network's own) with the reason in `error`. "
    "Intersections an operator holds are left out and listed under `held`."
)


@router.post(
    "/retime",
    summary="Retime a network or some of its intersections",
    description=_DOC,
    responses=error_responses(*BODY),
)
def retime_network(
    network: str,
    service: ServiceDep,
    key: Operator,
    request: Annotated[RetimeRequest | None, Body()] = None,
) -> RetimingPublic:
    request = request or RetimeRequest()
    outcome = service.retime(network, request.intersections, request.demand, actor=key.key_id)
    return RetimingPublic.of_outcome(outcome)


@router.post(
    "/intersections/{intersection_id}/retime",
    summary="Retime one intersection",
    description=_DOC,
    responses=error_responses(*BODY),
)
def retime_one(
    network: str,
    intersection_id: str,
    service: ServiceDep,
    key: Operator,
    request: Annotated[RetimeOneRequest | None, Body()] = None,
) -> RetimingPublic:
    service.intersection(network, intersection_id)
    demand = (
        None if request is None or request.demand is None else {intersection_id: request.demand}
    )
    outcome = service.retime(network, [intersection_id], demand, actor=key.key_id)
    return RetimingPublic.of_outcome(outcome)


@router.get(
    "/retimings",
    summary="Retimings, newest first",
    description="Cursor paging: the `X-Next-Cursor` header (and `Link: rel=next`) of a "
    "page is the `cursor` of the next one.",
    responses={200: {"description": "Retimings", "headers": NEXT_HEADERS}},
)
def list_retimings(
    network: str,
    request: Request,
    response: Response,
    service: ServiceDep,
    _: Viewer,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> list[RetimingPublic]:
    service.network(network)
    found = service.repo.retimings(network, limit, cursor)
    set_next(request, response, len(found), limit, found[-1].id if found else None)
    return [RetimingPublic.of(r) for r in found]


@router.get("/retimings/{retiming_id}", summary="One retiming with the plans it stored")
def get_retiming(
    network: str, retiming_id: Annotated[int, Path(ge=1, le=MAX_ID)], service: ServiceDep, _: Viewer
) -> RetimingPublic:
    service.network(network)
    found = service.repo.retiming(network, retiming_id)
    if found is None:
        raise NotFound(
            f"network {network!r} has no retiming {retiming_id}", ("path", "retiming_id")
        )
    return RetimingPublic.of(*found)
