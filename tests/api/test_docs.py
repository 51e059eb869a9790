"""Docs that match behaviour: every route in docs/service.md's table and no other; Swagger
UI and ReDoc served from the package (no CDN); cursor paging of every history listing
(SQLite and PostgreSQL); gzip for large responses; the statuses the docs promise."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from signal_opt.settings import Settings
from tests.api.conftest import NETWORK, REPO, _key

N = f"/v1/networks/{NETWORK}"


def test_the_endpoint_table_lists_every_route(client: TestClient) -> None:
    text = (REPO / "docs" / "service.md").read_text()
    documented = set(re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|", text, re.M))
    spec = client.get("/openapi.json").json()
    served = {
        (method.upper(), path.replace("{intersection_id}", "{id}"))
        for path, ops in spec["paths"].items()
        for method in ops
    }
    assert documented == served, (sorted(served - documented), sorted(documented - served))


def test_docs_pages_need_no_internet(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        assert urls, page
        assert not [u for u in urls if "//" in u], (page, urls)  # nothing off this server
        assert "fonts.googleapis" not in r.text and "cdn" not in r.text.lower()
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
    js = client.get("/docs-static/swagger-ui-bundle.js")
    assert js.headers["content-type"].startswith(("application/javascript", "text/javascript"))


def test_large_responses_are_gzipped(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(f"{N}/intersections", headers={**viewer, "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.json()  # the client inflates it
    raw = client.get(
        f"{N}/intersections", headers={**viewer, "Accept-Encoding": "identity"}
    ).content
    assert len(gzip.compress(raw)) < len(raw) / 3
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_statuses_the_docs_promise(client: TestClient, operator: dict[str, str]) -> None:
    r = client.post(
        f"{N}/readings", headers={**operator, "Content-Type": "application/json"}, content="{no"
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    ready = client.get("/readyz")  # the tests run with the scheduler off
    assert ready.status_code == 200 and ready.json()["scheduler"] == "disabled"


@pytest.fixture
def paged(make_client: Callable[..., TestClient], settings: Settings, db_url: str) -> TestClient:
    return make_client(settings=settings.model_copy(update={"database_url": db_url}))


def _pages(c: TestClient, h: dict[str, str], url: str, key: str) -> list[list[int]]:
    pages = []
    while url:
        r = c.get(url, headers=h)
        assert r.status_code == 200, r.text
        pages.append([item[key] for item in r.json()])
        nxt = r.headers.get("X-Next-Cursor")
        link = r.headers.get("Link", "")
        assert (nxt is None) == (link == "")
        url = link[link.index("<") + 1 : link.index(">")] if nxt else ""
        if nxt:
            assert f"cursor={nxt}" in url
    return pages


def test_cursor_paging_of_every_history_listing(paged: TestClient) -> None:
    c = paged
    admin = _key(c, "admin")
    x = c.app.state.service.network(NETWORK).intersections[0]
    demand = {g.id: 150.0 for g in x.lane_groups}
    for _ in range(6):
        c.post(f"{N}/intersections/{x.id}/retime", headers=admin, json={"demand": demand})
    for _ in range(6):  # each replaces the one before: one active, six in all
        c.post(f"{N}/holds", headers=admin, json={"intersections": [x.id], "reason": "x"})
    versions = _pages(c, admin, f"{N}/intersections/{x.id}/plans?limit=3", "version")
    assert versions == [[7, 6, 5], [4, 3, 2], [1]]
    retimings = _pages(c, admin, f"{N}/retimings?limit=4", "id")
    assert [len(p) for p in retimings] == [4, 2] and retimings[0][0] > retimings[1][-1]
    holds = _pages(c, admin, f"{N}/holds?all=true&limit=4", "id")
    assert sum(len(p) for p in holds) == 6
    audit = _pages(c, admin, "/v1/audit?limit=5&action=retime", "id")
    flat = [i for p in audit for i in p]
    assert len(flat) == 6 and flat == sorted(flat, reverse=True)
    # a page fetched again after new items arrive is the same (unlike offset paging)
    first = c.get(f"{N}/intersections/{x.id}/plans?limit=3", headers=admin)
    cursor = first.headers["X-Next-Cursor"]
    c.post(f"{N}/intersections/{x.id}/plans/1/rollback", headers=admin, json={"reason": "x"})
    again = c.get(f"{N}/intersections/{x.id}/plans?limit=3&cursor={cursor}", headers=admin)
    assert [p["version"] for p in again.json()] == [4, 3, 2]
