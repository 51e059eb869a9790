"""Detector ingest: idempotent, all or nothing, clear 4xx naming the field."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import NETWORK, minute_start, readings_for

URL = f"/v1/networks/{NETWORK}/readings"


def _first_x(client: TestClient) -> str:
    return client.app.state.service.network(NETWORK).intersections[0].id


def _stored(client: TestClient) -> int:
    return len(client.app.state.service.repo.readings_since(NETWORK, 0))


def test_ingest_is_idempotent(client: TestClient, operator: dict[str, str]) -> None:
    batch = readings_for(client, _first_x(client), minutes=3)
    r = client.post(URL, headers=operator, json={"readings": batch})
    assert r.status_code == 200
    assert r.json() == {
        "received": len(batch),
        "stored": len(batch),
        "duplicates": 0,
        "replaced": 0,
    }
    r = client.post(URL, headers=operator, json={"readings": batch})
    assert r.json() == {
        "received": len(batch),
        "stored": 0,
        "duplicates": len(batch),
        "replaced": 0,
    }
    # the same interval given with a different time zone is the same reading
    one = dict(batch[0])
    one["interval_start"] = minute_start(3).astimezone().isoformat()
    assert client.post(URL, headers=operator, json={"readings": [one]}).json()["stored"] == 0
    assert _stored(client) == len(batch)


def _reject(
    client: TestClient,
    headers: dict[str, str],
    batch: list[dict[str, Any]],
    loc: list[Any],
    content: str | None = None,
) -> str:
    if content is None:
        r = client.post(URL, headers=headers, json={"readings": batch})
    else:
        r = client.post(
            URL, headers={**headers, "Content-Type": "application/json"}, content=content
        )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"] == loc, detail
    assert _stored(client) == 0, "nothing of a rejected batch may be stored"
    return str(detail[0]["msg"])


def test_bad_readings_reject_the_whole_batch(client: TestClient, operator: dict[str, str]) -> None:
    batch = readings_for(client, _first_x(client), minutes=2)
    last = len(batch) - 1

    def with_last(**changes: Any) -> list[dict[str, Any]]:
        return [*batch[:-1], {**batch[-1], **changes}]

    _reject(client, operator, with_last(count=-1), ["body", "readings", last, "count"])
    _reject(client, operator, with_last(occupancy=101), ["body", "readings", last, "occupancy"])
    _reject(client, operator, with_last(speed=-3), ["body", "readings", last, "speed"])
    msg = _reject(
        client,
        operator,
        with_last(detector_id="sl_nowhere"),
        ["body", "readings", last, "detector_id"],
    )
    assert "sl_nowhere" in msg
    msg = _reject(
        client,
        operator,
        with_last(interval_start=minute_start(-5).isoformat()),
        ["body", "readings", last, "interval_start"],
    )
    assert "future" in msg
    _reject(
        client,
        operator,
        with_last(interval_start="yesterday"),
        ["body", "readings", last, "interval_start"],
    )
    _reject(client, operator, with_last(extra=1), ["body", "readings", last, "extra"])
    _reject(
        client,
        operator,
        [*batch, {**batch[0], "count": 9}],
        ["body", "readings", len(batch), "interval_start"],
    )
    _reject(client, operator, [], ["body", "readings"])
    nan = json.dumps({"readings": batch}).replace('"count": 4.0', '"count": NaN', 1)
    assert "NaN" in nan
    _reject(client, operator, batch, ["body", "readings", 0, "count"], content=nan)
    # an exact duplicate inside one batch is fine and stored once
    r = client.post(URL, headers=operator, json={"readings": [*batch, batch[0]]})
    assert r.json() == {
        "received": len(batch) + 1,
        "stored": len(batch),
        "duplicates": 1,
        "replaced": 0,
    }


def test_unknown_network_and_malformed_json(client: TestClient, operator: dict[str, str]) -> None:
    r = client.post(
        "/v1/networks/atlantis/readings",
        headers=operator,
        json={"readings": readings_for(client, _first_x(client), 1)},
    )
    assert r.status_code == 404
    r = client.post(
        URL, headers={**operator, "Content-Type": "application/json"}, content="{not json"
    )
    assert r.status_code == 422


def test_oversized_body_is_413(client: TestClient, operator: dict[str, str]) -> None:
    limit = client.app.state.settings.max_body_bytes
    body = b'{"readings": [' + b" " * limit + b"]}"
    r = client.post(URL, headers={**operator, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'{"readings": ['
        for _ in range(limit // 10_000 + 1):
            yield b" " * 10_000
        yield b"]}"

    r = client.post(URL, headers={**operator, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413
    assert _stored(client) == 0


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "detector_id",
                "interval_start",
                "interval_s",
                "count",
                "occupancy",
                "speed",
                "jam_length",
                "other",
            ]
        ),
        _value,
        max_size=3,
    )
)
def test_arbitrary_input_never_500(
    client: TestClient, operator: dict[str, str], changes: dict[str, Any]
) -> None:
    base = readings_for(client, _first_x(client), minutes=1)[0]
    body = json.dumps({"readings": [{**base, **changes}]}, allow_nan=True)
    r = client.post(URL, headers={**operator, "Content-Type": "application/json"}, content=body)
    # 409: a change of a stored reading's values (the correction path is PUT)
    assert r.status_code in (200, 409, 422), r.text
