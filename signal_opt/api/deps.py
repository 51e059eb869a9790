"""Dependencies of the routes: the service, and the caller's API key with its role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from signal_opt.service import RetimingService
from signal_opt.service.audit import current_request
from signal_opt.storage import ROLES, ApiKey

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def get_service(request: Request) -> RetimingService:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[RetimingService, Depends(get_service)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def current_key(
    service: ServiceDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    """The live API key of the request (401 when missing, unknown or revoked)."""
    token = bearer.credentials if bearer is not None else header
    if not token:
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    key = service.authenticate(token)
    if key is None:
        raise _unauthorized("invalid or revoked API key")
    info = current_request.get()
    if info is not None:
        info.actor = key.key_id
    return key


def require(role: str) -> Callable[[ApiKey], ApiKey]:
    """Dependency: the caller's key, if its role is ``role`` or above (else 403)."""
    need = ROLES.index(role)

    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if ROLES.index(key.role) < need:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {role!r} role; the key has {key.role!r}"
            )
        return key

    return check


Viewer = Annotated[ApiKey, Depends(require("viewer"))]
Operator = Annotated[ApiKey, Depends(require("operator"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
