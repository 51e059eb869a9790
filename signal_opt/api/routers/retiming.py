"""Retiming: one intersection, a list, or a whole network; past retimings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from signal_opt.api.deps import Operator, ServiceDep, Viewer
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


@router.get("/retimings", summary="Recent retimings, newest first")
def list_retimings(
    network: str,
    service: ServiceDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RetimingPublic]:
    service.network(network)
    return [RetimingPublic.of(r) for r in service.repo.retimings(network, limit)]


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
