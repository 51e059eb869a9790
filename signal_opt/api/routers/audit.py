"""The audit log: who changed what, when, and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from signal_opt.api.deps import ServiceDep, Viewer
from signal_opt.api.paging import NEXT_HEADERS, Cursor, Limit, set_next
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import PROTECTED, error_responses
from signal_opt.storage import AuditFilter, AuditRecord

router = APIRouter(prefix=API_PREFIX, tags=["audit"], responses=error_responses(*PROTECTED))


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    network: str | None
    target: str | None
    before: Any
    after: Any
    reason: str | None
    request_id: str | None

    @classmethod
    def of(cls, r: AuditRecord) -> AuditPublic:
        return cls(**r.__dict__)


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).astimezone(UTC)


@router.get(
    "/audit",
    summary="The audit log, newest first",
    description="Every change of state: API keys, network uploads, reading batches, "
    "retimings (API, run now, scheduled), rollbacks, holds, schedule changes. `action` "
    "matches one action (`hold.create`) or a family (`hold`).",
    responses={200: {"description": "Audit entries", "headers": NEXT_HEADERS}},
)
def audit_log(
    request: Request,
    response: Response,
    service: ServiceDep,
    _: Viewer,
    network: str | None = None,
    actor: Annotated[str | None, Query(description="An API key id, `scheduler@...`, `cli`")] = None,
    action: str | None = None,
    target: Annotated[str | None, Query(description="An intersection id, `key:<id>`...")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[AuditPublic]:
    where = AuditFilter(network, actor, action, target, _utc(since), _utc(until))
    rows = service.repo.audit_log(where, limit, cursor)
    set_next(request, response, len(rows), limit, rows[-1].id if rows else None)
    return [AuditPublic.of(r) for r in rows]
