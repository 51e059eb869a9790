"""API fuzzing with schemathesis against the app's own OpenAPI document (in-process ASGI).

Every operation gets random valid requests (with random path ids, and with the real
network and intersection so that requests reach the use-cases) and invalid ones; checks:
no 5xx (nor an exception escaping the app), every status documented, every body
matching its schema and content type. Every ``/v1`` route refuses a request without a
key (401). A summary line gives requests sent and failures found.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from signal_opt.api import create_app
from signal_opt.settings import Settings
from signal_opt.storage import Repository
from tests.api.conftest import NETWORK

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
DEFAULT_EXAMPLES = 15
"""Per operation and mode (three modes): ~1,000 requests in the default run."""
SLOW_EXAMPLES = 300


@pytest.fixture
def fuzzed(settings: Settings) -> Iterator[tuple[Any, dict[str, str], str]]:
    repo = Repository.from_url(settings.database_url)
    _, token = repo.create_key("admin", "fuzz")
    repo.close()
    app = create_app(settings, registry=CollectorRegistry())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    x = _first_intersection(settings)
    try:
        yield schema, {"Authorization": f"Bearer {token}"}, x
    finally:
        shutdown_lifespans()


def _first_intersection(settings: Settings) -> str:
    from signal_opt.service import load_network

    assert settings.networks_dir is not None
    path = settings.networks_dir / NETWORK / f"{NETWORK}.net.xml"
    return load_network(NETWORK, "bundled", path).intersections[0].id


def _fuzz(schema: Any, headers: dict[str, str], x: str, examples: int) -> dict[str, Any]:
    sent = 0
    failures: collections.Counter[tuple[str, str]] = collections.Counter()
    first: dict[tuple[str, str], str] = {}
    real = {"network": NETWORK, "intersection_id": x}
    for result in schema.get_all_operations():
        op = result.ok()
        known = {k: v for k, v in real.items() if k in op.path_parameters}
        for mode, params in (
            (GenerationMode.POSITIVE, None),
            (GenerationMode.POSITIVE, known),
            (GenerationMode.NEGATIVE, None),
        ):
            if params == {}:
                continue
            strategy = op.as_strategy(
                generation_mode=mode, **({"path_parameters": params} if params else {})
            )

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal sent
                sent += 1
                try:
                    response = case.call(headers=headers)
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:
                    key = (case.operation.label, type(exc).__name__)
                    failures[key] += 1
                    first.setdefault(key, str(exc)[:800])

            with contextlib.suppress(Unsatisfiable):  # no invalid request to GET /healthz
                run()
    return {"sent": sent, "failures": failures, "first": first}


def _run_and_report(fuzzed: tuple[Any, dict[str, str], str], examples: int) -> None:
    schema, headers, x = fuzzed
    out = _fuzz(schema, headers, x, examples)
    n_fail = sum(out["failures"].values())
    print(
        f"\nschemathesis: {out['sent']} requests over "
        f"{len(list(schema.get_all_operations()))} operations, {n_fail} failures "
        f"({len(out['failures'])} distinct)"
    )
    assert not out["failures"], "\n\n".join(f"{k}: {v}" for k, v in out["first"].items())


def test_fuzz_the_openapi_document(fuzzed: tuple[Any, dict[str, str], str]) -> None:
    _run_and_report(fuzzed, DEFAULT_EXAMPLES)


@pytest.mark.slow
def test_fuzz_the_openapi_document_long(fuzzed: tuple[Any, dict[str, str], str]) -> None:
    _run_and_report(fuzzed, SLOW_EXAMPLES)


def test_every_protected_route_refuses_without_a_key(
    fuzzed: tuple[Any, dict[str, str], str],
) -> None:
    schema, _, x = fuzzed
    real = {"network": NETWORK, "intersection_id": x}
    protected = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if not op.path.startswith("/v1/"):
            continue
        protected += 1
        known = {k: v for k, v in real.items() if k in op.path_parameters}

        @settings(
            max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=op.as_strategy(path_parameters=known) if known else op.as_strategy())
        def run(case: Any) -> None:
            case.headers = {
                k: v
                for k, v in (case.headers or {}).items()
                if k.lower() not in ("authorization", "x-api-key")
            }
            response = case.call()
            assert response.status_code == 401, (case.operation.label, response.text)
            assert response.headers["www-authenticate"] in (["Bearer"], "Bearer")

        run()
    assert protected >= 20
