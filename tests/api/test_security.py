"""Security: keys compared in constant time and never logged; bodies and uploads bounded;
unsafe XML and path tricks in uploaded network names and file names refused."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import signal_opt.storage.repository as repository
from tests.api.conftest import NETWORK


def test_keys_are_compared_in_constant_time(
    client: TestClient, viewer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(repository.hmac, "compare_digest", spy)
    token = viewer["Authorization"].removeprefix("Bearer ")
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/v1/networks", headers={"X-API-Key": wrong}).status_code == 401
    assert client.get("/v1/networks", headers={"X-API-Key": token}).status_code == 200
    assert len(calls) == 2  # the stored hash against the presented token's hash, each time
    assert all(len(a) == len(b) == 64 for a, b in calls)


def test_keys_never_logged(
    client: TestClient, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "uvicorn", "uvicorn.access", "signal_opt", "fastapi"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        r = client.post("/v1/keys", headers=admin, json={"role": "operator", "name": "feed"})
        created = r.json()["token"]
        tokens = [admin["Authorization"].removeprefix("Bearer "), created]
        h = {"X-API-Key": created}
        client.get("/v1/networks", headers=h)
        client.post(f"/v1/networks/{NETWORK}/readings", headers=h, json={"readings": []})
        client.post(f"/v1/networks/{NETWORK}/retime", headers=h, json={"demand": {"nowhere": {}}})
        client.get("/v1/networks", headers={"X-API-Key": created + "x"})
        client.delete(f"/v1/keys/{r.json()['key_id']}", headers=admin)
        client.get("/v1/networks", headers=h)  # revoked
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert caplog.records  # something was logged...
    for token in tokens:  # ...but never a key, whole or its secret part
        assert token not in caplog.text
        assert token.split("_", 2)[2] not in caplog.text


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<net><tlLogic id="&lol3;"/></net>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE net SYSTEM "http://127.0.0.1:9/evil.dtd"><net><tlLogic id="a"/></net>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE net [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><net><tlLogic id="a"/></net>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_unsafe_xml_is_refused(client: TestClient, admin: dict[str, str], data: bytes) -> None:
    r = client.post(
        "/v1/networks", headers=admin, data={"name": "evil"}, files={"file": ("evil.net.xml", data)}
    )
    assert r.status_code == 422 and "unsafe XML" in r.json()["detail"][0]["msg"]


@pytest.fixture
def grid_bytes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    from tests.api.test_networks import _netgenerate

    yield _netgenerate(tmp_path_factory.mktemp("g") / "g.net.xml", tls=True)


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "/etc/passwd",
        "nul\x00x",
        "x" * 65,
        "%2e%2e%2fevil",
        " spaced",
    ],
)
def test_path_tricks_in_names_are_refused(
    client: TestClient, admin: dict[str, str], grid_bytes: bytes, name: str
) -> None:
    r = client.post(
        "/v1/networks",
        headers=admin,
        data={"name": name},
        files={"file": ("g.net.xml", grid_bytes)},
    )
    assert r.status_code == 422, (name, r.text)
    names = [n["name"] for n in client.get("/v1/networks", headers=admin).json()]
    assert names == [NETWORK]


@pytest.mark.parametrize(
    "filename", ["../../evil.net.xml", "/tmp/evil.net.xml", "..\\..\\evil.net.xml", "....net.xml"]
)
def test_path_tricks_in_file_names(
    client: TestClient, admin: dict[str, str], grid_bytes: bytes, filename: str, tmp_path: Path
) -> None:
    """A file name never becomes a path: without a name it must itself be a valid name;
    with a name it is ignored."""
    r = client.post("/v1/networks", headers=admin, files={"file": (filename, grid_bytes)})
    assert r.status_code == 422, (filename, r.text)
    r = client.post(
        "/v1/networks", headers=admin, data={"name": "safe"}, files={"file": (filename, grid_bytes)}
    )
    assert r.status_code == 201 and r.json()["name"] == "safe"
    assert not Path("/tmp/evil.net.xml").exists() and not (tmp_path / "evil.net.xml").exists()


def test_uploads_are_bounded_while_streaming(client: TestClient, admin: dict[str, str]) -> None:
    limit = client.app.state.settings.max_upload_bytes
    boundary = b"XyZ"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.net.xml"\r\n\r\n<net>'
        )
        for _ in range(limit // 65_536 + 3):
            yield b" " * 65_536
        yield b"</net>\r\n--" + boundary + b"--\r\n"

    r = client.post(
        "/v1/networks",
        content=chunks(),
        headers={**admin, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert r.status_code == 413
