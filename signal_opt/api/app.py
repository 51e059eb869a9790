"""The FastAPI application factory: ``create_app(settings)``.

Nothing happens at import time. The app's lifespan opens storage, registers and loads the
networks, and starts the scheduler; shutting down stops the scheduler and closes storage.
Errors are translated to HTTP in one place (:func:`_install_error_handlers`).
"""

from __future__ import annotations

import gc
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.types import Scope

import signal_opt
from signal_opt.api.docs import install_docs
from signal_opt.api.middleware import BodyLimitMiddleware, MetricsMiddleware, RequestIdMiddleware
from signal_opt.api.routers import (
    API_PREFIX,
    audit,
    holds,
    keys,
    networks,
    plans,
    readings,
    retiming,
    schedule,
)
from signal_opt.metrics import Metrics
from signal_opt.service import (
    Conflict,
    InvalidInput,
    NotFound,
    Optimizer,
    RetimingService,
    Scheduler,
    optimize_with_core,
)
from signal_opt.service.monitoring import StorageCollector
from signal_opt.settings import Settings, load_settings
from signal_opt.storage import Repository
from signal_opt.storage.schema import head as schema_head

log = logging.getLogger(__name__)

GZIP_MIN_BYTES = 1024
"""Responses at least this large are gzip-compressed when the client accepts it."""

UPLOAD_SLACK = 64 * 1024
"""Room for the multipart framing around an uploaded network file."""

_DESCRIPTION = """Detector-driven retiming of traffic signals.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`).
Roles: **viewer** reads; **operator** also ingests detector data and retimes; **admin**
also manages keys and networks and rolls plans back. `/healthz`, `/readyz` and `/metrics`
are open.
"""


def create_app(
    settings: Settings | None = None,
    *,
    registry: CollectorRegistry | None = None,
    optimizer: Optimizer = optimize_with_core,
) -> FastAPI:
    """A new application; ``registry`` and ``optimizer`` are injectable for tests."""
    settings = settings or load_settings()
    metrics = Metrics(registry, settings.metrics_max_intersections)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repo = Repository.from_url(settings.database_url, settings.db_auto_upgrade)
        log.info(
            "storage %s (schema %s)",
            repo.engine.url.render_as_string(hide_password=True),
            schema_head(),
        )
        service = RetimingService(settings, repo, metrics, optimizer)
        service.start()
        # Start-up objects (network models...) never die: keep them out of the
        # collector's full passes, which otherwise show up as request-latency spikes.
        gc.collect()
        gc.freeze()
        scheduler = Scheduler(service, settings.retime_interval_s)
        if settings.scheduler_enabled:
            scheduler.start()
        collector = StorageCollector(
            service, lambda: scheduler.running, settings.metrics_max_intersections
        )
        metrics.registry.register(collector)
        app.state.service = service
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            metrics.registry.unregister(collector)
            scheduler.stop()
            repo.close()

    app = FastAPI(
        title="signal-opt retiming service",
        version=signal_opt.__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package, not a CDN: install_docs
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.metrics = metrics
    for module in (networks, readings, retiming, plans, holds, schedule, keys, audit):
        app.include_router(module.router)
    _install_operational_routes(app, settings, metrics)
    _install_error_handlers(app)

    upload_path = f"{API_PREFIX}/networks"

    def limit_for(scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == upload_path:
            return settings.max_upload_bytes + UPLOAD_SLACK
        return settings.max_body_bytes

    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries the id
    return app


def _install_operational_routes(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: storage reachable and scheduler running",
        responses={503: {"description": "not ready; the body says what is missing"}},
    )
    def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        service: RetimingService | None = getattr(request.app.state, "service", None)
        try:
            if service is None:
                raise RuntimeError("not started")
            service.ready()
            checks["storage"] = "ok"
        except Exception as exc:
            checks["storage"] = f"unreachable: {type(exc).__name__}"
        scheduler: Scheduler | None = getattr(request.app.state, "scheduler", None)
        if not settings.scheduler_enabled:
            checks["scheduler"] = "disabled"
        else:
            checks["scheduler"] = "running" if scheduler and scheduler.running else "stopped"
        ok = checks["storage"] == "ok" and checks["scheduler"] in ("running", "disabled")
        return JSONResponse(
            {"status": "ready" if ok else "not ready", **checks},
            status_code=200 if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _detail(loc: tuple[Any, ...], message: str, kind: str) -> list[dict[str, Any]]:
    return [{"loc": list(loc), "msg": message, "type": kind}]


def _json_safe(value: Any) -> Any:
    """Validation errors echo the input, which may hold NaN / inf: not valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _count_rejected_readings(request: Request, exc: RequestValidationError) -> None:
    """Readings refused by the schema (NaN, negative, occupancy over 100...) are rejected
    readings too: counted by field (``invalid_count``...)."""
    route = getattr(request.scope.get("route"), "path", "")
    if route != f"{API_PREFIX}/networks/{{network}}/readings":
        return
    network = request.path_params.get("network", "")
    if network not in {n.name for n in request.app.state.service.networks()}:
        return  # bounded labels: only registered networks
    rows: dict[tuple[Any, ...], str] = {}
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        if len(loc) >= 4 and loc[:2] == ("body", "readings"):
            rows.setdefault(loc[:3], f"invalid_{loc[3]}")
    for reason, n in Counter(rows.values()).items():
        request.app.state.metrics.readings_rejected.labels(network, reason).inc(n)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        _count_rejected_readings(request, exc)
        return JSONResponse(
            {"detail": _json_safe(jsonable_encoder(exc.errors()))},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        detail = _detail(exc.loc, exc.message, "value_error")
        for loc, message in exc.more:
            detail += _detail(loc, message, "value_error")
        return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=status.HTTP_409_CONFLICT)

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("write conflict: %s", exc)
        return JSONResponse(
            {"detail": "a concurrent update got there first; retry"},
            status_code=status.HTTP_409_CONFLICT,
        )

    @app.exception_handler(OperationalError)
    async def storage_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("storage unavailable: %s", exc)
        return JSONResponse(
            {"detail": "storage unavailable; retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
