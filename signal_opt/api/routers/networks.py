"""Networks: list, register (upload a ``.net.xml``), intersection models, detector layout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status

from signal_opt.api.deps import Admin, ServiceDep, Viewer
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    PROTECTED,
    DetectorPublic,
    IntersectionPublic,
    NetworkPublic,
    error_responses,
)
from signal_opt.api.uploads import UploadError, check_net_xml
from signal_opt.service import InvalidInput

router = APIRouter(
    prefix=f"{API_PREFIX}/networks", tags=["networks"], responses=error_responses(*PROTECTED)
)


@router.get("", summary="List the registered networks")
def list_networks(service: ServiceDep, _: Viewer) -> list[NetworkPublic]:
    return [NetworkPublic.of(n) for n in service.networks()]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a network",
    description="Upload a SUMO `.net.xml` (multipart field `file`). It must be safe, "
    "well-formed XML without DTD or entities, within the upload size "
    "limit, and contain traffic lights. Every intersection starts at "
    "plan version 1, the network's own program.",
    responses=error_responses(409, *BODY),
)
def register_network(
    service: ServiceDep,
    admin: Admin,
    file: Annotated[UploadFile, File(description="the .net.xml")],
    name: Annotated[
        str | None, Form(description="default: the file name without `.net.xml`")
    ] = None,
) -> NetworkPublic:
    limit = service.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"network file larger than {limit} bytes"
        )
    try:
        check_net_xml(data)
    except UploadError as exc:
        raise InvalidInput(str(exc), ("body", "file")) from exc
    if name is None:
        name = (file.filename or "").removesuffix(".xml").removesuffix(".net")
    return NetworkPublic.of(service.register_network(name, data, admin.key_id))


@router.get("/{network}", summary="One network")
def get_network(network: str, service: ServiceDep, _: Viewer) -> NetworkPublic:
    return NetworkPublic.of(service.network(network))


@router.get("/{network}/intersections", summary="Intersection models of a network")
def list_intersections(network: str, service: ServiceDep, _: Viewer) -> list[IntersectionPublic]:
    return [IntersectionPublic.of(x) for x in service.network(network).intersections]


@router.get(
    "/{network}/intersections/{intersection_id}",
    summary="Intersection model: stages, lane groups, intergreens, minimum greens, cycle bounds",
)
def get_intersection(
    network: str, intersection_id: str, service: ServiceDep, _: Viewer
) -> IntersectionPublic:
    return IntersectionPublic.of(service.intersection(network, intersection_id))


@router.get("/{network}/detectors", summary="Detectors whose readings the network accepts")
def list_detectors(network: str, service: ServiceDep, _: Viewer) -> list[DetectorPublic]:
    net = service.network(network)
    return [
        DetectorPublic(
            id=d.id,
            kind=d.kind,  # type: ignore[arg-type]
            lane=d.lane,
            intersection_id=net.detector_tls[d.id],
        )
        for d in net.detectors
    ]
