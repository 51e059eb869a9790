"""Detector readings: batch ingest (idempotent on detector and interval start), and the
explicit correction path."""

from __future__ import annotations

from fastapi import APIRouter

from signal_opt.api.deps import Operator, ServiceDep
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    PROTECTED,
    IngestPublic,
    ReadingBatchIn,
    ReadingReplaceIn,
    error_responses,
)
from signal_opt.service import IngestResult

router = APIRouter(
    prefix=f"{API_PREFIX}/networks/{{network}}/readings",
    tags=["detector data"],
    responses=error_responses(*PROTECTED),
)

_CHECKS = (
    "Every reading is checked before anything is stored, and one bad reading refuses the "
    "batch (422 listing every bad row and field): unknown detector, a count above what the "
    "detector's lane can carry in the interval, speed above 50 m/s, queue above 1,000 m, "
    "occupancy outside 0-100, an interval ending in the future or starting before the "
    "retention window, an interval overlapping another of the same detector (in the batch "
    "or stored), the same reading twice with other values. Refused readings are counted "
    "by reason (`signal_opt_detector_readings_rejected_total`)."
)


def _public(result: IngestResult) -> IngestPublic:
    return IngestPublic(
        received=result.received,
        stored=result.stored,
        duplicates=result.duplicates,
        replaced=result.replaced,
    )


@router.post(
    "",
    summary="Ingest a batch of detector readings",
    description="All or nothing. A reading already stored with the same values (same "
    "detector and interval start) is skipped, so a retried batch is never counted twice; "
    "one stored with other values is a 409: corrections go through PUT. " + _CHECKS,
    responses=error_responses(409, *BODY),
)
def ingest(network: str, batch: ReadingBatchIn, service: ServiceDep, key: Operator) -> IngestPublic:
    return _public(service.ingest(network, [r.to_record() for r in batch.readings], key.key_id))


@router.put(
    "",
    summary="Correct stored detector readings",
    description="Each reading replaces the stored one of the same detector and interval "
    "start (or is stored, if there is none), with a `reason`; the audit log keeps the "
    "values before and after. " + _CHECKS,
    responses=error_responses(*BODY),
)
def replace(
    network: str, batch: ReadingReplaceIn, service: ServiceDep, key: Operator
) -> IngestPublic:
    records = [r.to_record() for r in batch.readings]
    return _public(service.replace_readings(network, records, batch.reason, key.key_id))
