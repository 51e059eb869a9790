"""Steady mixed load against a real ``signal-opt serve`` on 127.0.0.1.

Closed-loop clients ingest fresh readings, retime one intersection or the whole network
and read plans, history and retimings, for 30 s (``-m slow``: 5 minutes). Zero errors;
the server's RSS, sampled every half second, must level off (the second half of the run
may not grow it by more than a bound); throughput and p50 / p99 latency are printed.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest

from signal_opt.storage import Repository
from tests.api.conftest import NETWORK
from tests.api.servers import ServiceProcess

NET = f"/v1/networks/{NETWORK}"
CLIENTS = 6
MIX = (("ingest", 0.25), ("retime_one", 0.25), ("retime_network", 0.05), ("read", 0.45))
RSS_GROWTH_BOUND_MB = 40.0
"""Largest RSS growth allowed over the second half of the run."""


async def _client(
    c: httpx.AsyncClient,
    seed: int,
    until: float,
    dets: list[dict[str, Any]],
    xs: list[str],
    out: dict[str, Any],
) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX)
    # a separate past per client, all within the retention window (30 days)
    minute = int(time.time() // 60) - 1 - seed * 5_000
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        t = time.perf_counter()
        if kind == "ingest":
            start = datetime.fromtimestamp(minute * 60, UTC).isoformat()
            minute -= 1
            rows = [
                {
                    "detector_id": d["id"],
                    "interval_start": start,
                    "count": float(rng.randint(0, 12)),
                    "occupancy": 12.0,
                }
                for d in rng.sample(dets, 60)
            ]
            r = await c.post(f"{NET}/readings", json={"readings": rows})
        elif kind == "retime_one":
            r = await c.post(f"{NET}/intersections/{rng.choice(xs)}/retime")
        elif kind == "retime_network":
            r = await c.post(f"{NET}/retime")
        else:
            x = rng.choice(xs)
            url = rng.choice(
                [
                    f"{NET}/plans",
                    f"{NET}/intersections/{x}/plan",
                    f"{NET}/intersections/{x}/plans?limit=20",
                    f"{NET}/retimings",
                    NET,
                ]
            )
            r = await c.get(url)
        out["latency"].append(time.perf_counter() - t)
        out["count"][kind] = out["count"].get(kind, 0) + 1
        if r.status_code not in (200, 201):
            out["errors"].append(f"{kind}: {r.status_code} {r.text[:200]}")


async def _sample_rss(proc: psutil.Process, until: float, out: list[tuple[float, float]]) -> None:
    t0 = time.monotonic()
    while time.monotonic() < until:
        out.append((time.monotonic() - t0, proc.memory_info().rss / 2**20))
        await asyncio.sleep(0.5)


async def _run(svc: ServiceProcess, h: dict[str, str], seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=svc.base, headers=h, timeout=60, trust_env=False, limits=limits
    ) as c:
        dets = (await c.get(f"{NET}/detectors")).json()
        xs = [x["id"] for x in (await c.get(f"{NET}/intersections")).json()]
        out: dict[str, Any] = {"latency": [], "count": {}, "errors": []}
        await _client(
            c,
            0,  # its own past: the minutes just before now
            time.monotonic() + 2.0,
            dets,
            xs,  # warm-up, not counted
            {"latency": [], "count": {}, "errors": out["errors"]},
        )
        rss: list[tuple[float, float]] = []
        t0 = time.monotonic()
        until = t0 + seconds
        await asyncio.gather(
            _sample_rss(psutil.Process(svc.pid), until, rss),
            *(_client(c, i + 1, until, dets, xs, out) for i in range(CLIENTS)),
        )
        out["wall"] = time.monotonic() - t0
        out["rss"] = rss
    return out


def _load(tmp: Path, networks_dir: Path, seconds: float) -> None:
    repo = Repository.from_url(f"sqlite:///{tmp / 'service.db'}")
    _, token = repo.create_key("operator", "load test")
    repo.close()
    svc = ServiceProcess(tmp, networks_dir)
    try:
        svc.start()
        out = asyncio.run(_run(svc, {"Authorization": f"Bearer {token}"}, seconds))
    finally:
        svc.stop()
    lat = np.asarray(out["latency"]) * 1000.0
    rss = np.asarray([m for _, m in out["rss"]])
    half = len(rss) // 2
    growth = float(rss[half:].max() - rss[:half].max())
    n = len(lat)
    print(
        f"\nload: {seconds:.0f} s, {CLIENTS} clients, {n} requests "
        f"({', '.join(f'{k} {v}' for k, v in sorted(out['count'].items()))}), "
        f"{n / out['wall']:.0f} req/s, p50 {np.percentile(lat, 50):.1f} ms, "
        f"p99 {np.percentile(lat, 99):.1f} ms, max {lat.max():.0f} ms, "
        f"{len(out['errors'])} errors; server RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB "
        f"(max {rss.max():.0f}, second-half growth {growth:+.1f} MB)"
    )
    assert not out["errors"], out["errors"][:5]
    assert growth <= RSS_GROWTH_BOUND_MB


def test_steady_mixed_load(tmp_path: Path, networks_dir: Path) -> None:
    _load(tmp_path, networks_dir, 30.0)


@pytest.mark.slow
def test_steady_mixed_load_long(tmp_path: Path, networks_dir: Path) -> None:
    _load(tmp_path, networks_dir, 300.0)
