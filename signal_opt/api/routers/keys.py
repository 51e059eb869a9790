"""API keys (admin): create, list, revoke. Only SHA-256 hashes are stored."""

from __future__ import annotations

from fastapi import APIRouter, status

from signal_opt.api.deps import Admin, ServiceDep
from signal_opt.api.routers import API_PREFIX
from signal_opt.api.schemas import (
    BODY,
    PROTECTED,
    KeyCreatedPublic,
    KeyCreateIn,
    KeyPublic,
    error_responses,
)
from signal_opt.service import NotFound

router = APIRouter(
    prefix=f"{API_PREFIX}/keys", tags=["api keys"], responses=error_responses(*PROTECTED)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    description="The token is in this response only; store it now.",
    responses=error_responses(*BODY),
)
def create_key(body: KeyCreateIn, service: ServiceDep, admin: Admin) -> KeyCreatedPublic:
    key, token = service.create_key(body.role, body.name, admin.key_id)
    return KeyCreatedPublic(**KeyPublic.of(key).model_dump(), token=token)


@router.get("", summary="List API keys (never their tokens)")
def list_keys(service: ServiceDep, _: Admin) -> list[KeyPublic]:
    return [KeyPublic.of(k) for k in service.repo.api_keys()]


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: str, service: ServiceDep, admin: Admin) -> KeyPublic:
    key = service.revoke_key(key_id, admin.key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}", ("path", "key_id"))
    return KeyPublic.of(key)
