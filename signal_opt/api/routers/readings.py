"""Detector readings: batch ingest, idempotent on (detector, interval start)."""

from __future__ import annotations

from fastapi import APIRouter

from signal_opt.api.deps import Operator, ServiceDep
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import BODY, PROTECTED, IngestPublic, ReadingBatchIn, error_responses

router = APIRouter(
    prefix=f"{API_PREFIX}/networks/{{network}}/readings",
    tags=["detector data"],
    responses=error_responses(*PROTECTED),
)


@router.post(
    "",
    summary="Ingest a batch of detector readings",
    description="All or nothing: one bad reading rejects the batch (422 naming it). "
    "A reading already stored for the same detector and interval start "
    "is skipped, so a retried batch is never counted twice.",
    responses=error_responses(*BODY),
)
def ingest(network: str, batch: ReadingBatchIn, service: ServiceDep, key: Operator) -> IngestPublic:
    result = service.ingest(network, [r.to_record() for r in batch.readings], key.key_id)
    return IngestPublic(
        received=result.received, stored=result.stored, duplicates=result.duplicates
    )
