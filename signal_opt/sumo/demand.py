"""Time-of-day demand: a zone-to-zone spec turned into a SUMO ``.rou.xml`` of trips.

A spec (the ``demand.json`` of each bundled network, or one a user writes) has

- ``zones``: name -> ``{"sources": {edge: weight}, "sinks": {edge: weight}}``, optionally
  ``"depart_pos"`` / ``"arrival_pos"`` (SUMO values, e.g. ``"random_free"`` for trips that
  start along a block, from driveways and factory gates);
- ``profiles``: name -> 24 hourly factors (hour ``h`` covers ``h:00``-``h+1:00``);
- ``flows``: ``{"from": zone, "to": zone, "rate": veh/h, "profile": name,
  "truck_share": 0..1}``; the flow's rate in real hour ``h`` is ``rate * profile[h]``;
- optionally ``network`` (a ``.net.xml`` path relative to the spec) used to check that every
  trip's origin reaches its destination, and ``vtypes`` overriding :data:`DEFAULT_VTYPES`.

The day is compressed into ``day_seconds`` of simulated time, each real hour becoming
``day_seconds / 24`` seconds, keeping every hour's *rate* (veh/h): a peak stays a peak,
only shorter. Arrivals are Poisson (a Poisson count per flow and hour, departures uniform
within the hour), drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import sumolib

__all__ = [
    "DEFAULT_DAY_SECONDS",
    "DEFAULT_VTYPES",
    "DemandSummary",
    "load_spec",
    "write_routes",
]

DEFAULT_DAY_SECONDS = 14400.0
"""A 24 h day compressed into 4 simulated hours: each real hour lasts 10 minutes."""
HOURS = 24

DEFAULT_VTYPES: dict[str, dict[str, str]] = {
    "passenger": {
        "vClass": "passenger",
        "length": "4.8",
        "minGap": "2.5",
        "accel": "2.6",
        "decel": "4.5",
        "sigma": "0.5",
        "speedDev": "0.1",
    },
    "truck": {
        "vClass": "truck",
        "length": "10.0",
        "minGap": "3.0",
        "accel": "1.1",
        "decel": "4.0",
        "sigma": "0.5",
        "maxSpeed": "25.0",
        "speedDev": "0.05",
        "guiShape": "truck",
    },
}


@dataclass(frozen=True)
class DemandSummary:
    """What :func:`write_routes` wrote."""

    path: Path
    trips: int
    trucks: int
    scale: float
    seed: int
    day_seconds: float
    hourly_rates: tuple[float, ...]
    """Generated trips per real hour, as a rate in veh/h (24 values)."""
    zone_trips: dict[str, tuple[int, int]]
    """Per zone: (trips starting there, trips ending there)."""

    @property
    def truck_share(self) -> float:
        return self.trucks / self.trips if self.trips else 0.0

    @property
    def hour_seconds(self) -> float:
        return self.day_seconds / HOURS


def load_spec(spec: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], Path]:
    """The spec as a dict and the folder its relative paths start from; validated."""
    if isinstance(spec, Mapping):
        data, base = dict(spec), Path.cwd()
    else:
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"demand spec {str(path)!r} does not exist")
        data, base = json.loads(path.read_text(encoding="utf-8")), path.parent
    _validate(data)
    return data, base


def _validate(spec: Mapping[str, Any]) -> None:
    for key in ("zones", "profiles", "flows"):
        if key not in spec:
            raise ValueError(f"demand spec has no {key!r}")
    for name, profile in spec["profiles"].items():
        if len(profile) != HOURS or any(not (f >= 0) for f in profile):
            raise ValueError(f"profile {name!r} must have 24 non-negative hourly factors")
    for name, zone in spec["zones"].items():
        for role in ("sources", "sinks"):
            weights = zone.get(role, {})
            if any(not (w >= 0) for w in weights.values()):
                raise ValueError(f"zone {name!r} has a negative {role[:-1]} weight")
    for i, flow in enumerate(spec["flows"]):
        where = f"flow {i} ({flow.get('from')!r} -> {flow.get('to')!r})"
        for key, role in (("from", "sources"), ("to", "sinks")):
            zone = spec["zones"].get(flow.get(key))
            if zone is None:
                raise ValueError(f"{where}: zone {flow.get(key)!r} is not defined")
            if not zone.get(role):
                raise ValueError(f"{where}: zone {flow.get(key)!r} has no {role}")
        if flow.get("profile") not in spec["profiles"]:
            raise ValueError(f"{where}: profile {flow.get('profile')!r} is not defined")
        if not (float(flow["rate"]) >= 0):
            raise ValueError(f"{where}: rate {flow['rate']!r} is not a non-negative number")
        if not (0.0 <= float(flow.get("truck_share", 0.0)) <= 1.0):
            raise ValueError(f"{where}: truck_share {flow['truck_share']!r} is not in [0, 1]")


class _Reach:
    """Which edges each edge reaches (for passenger cars and trucks), computed lazily."""

    def __init__(self, net: sumolib.net.Net) -> None:
        self.net = net
        self._cache: dict[str, set[str]] = {}

    def reachable(self, edge_id: str) -> set[str]:
        if edge_id not in self._cache:
            start = self.net.getEdge(edge_id)
            seen = {edge_id}
            todo = [start]
            while todo:
                edge = todo.pop()
                for nxt, conns in edge.getOutgoing().items():
                    usable = any(
                        c.getFromLane().allows("truck") and c.getToLane().allows("truck")
                        for c in conns
                    )
                    if usable and nxt.getID() not in seen:
                        seen.add(nxt.getID())
                        todo.append(nxt)
            self._cache[edge_id] = seen
        return self._cache[edge_id]


def _weights(zone: Mapping[str, Any], role: str) -> tuple[list[str], np.ndarray]:
    edges = sorted(zone[role])
    w = np.array([float(zone[role][e]) for e in edges])  # (E,)
    return edges, w / w.sum()


def write_routes(
    spec_path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
    out_path: str | os.PathLike[str],
    scale: float = 1.0,
    seed: int = 0,
    day_seconds: float | None = None,
    *,
    net: sumolib.net.Net | str | os.PathLike[str] | None = None,
) -> DemandSummary:
    """Write the trips of one compressed day to ``out_path`` (a SUMO ``.rou.xml``).

    ``scale`` multiplies every rate (1.0 = base year, 1.2 = +20 %); ``seed`` fixes the
    draw; ``day_seconds`` is the simulated length of the 24 h day (default 14400). When a
    network is known (``net`` or the spec's ``network``) every origin-destination edge pair
    is checked to be connected, and a :class:`ValueError` names the first that is not.
    """
    if not (scale >= 0):
        raise ValueError(f"scale must be a non-negative number, got {scale!r}")
    day = DEFAULT_DAY_SECONDS if day_seconds is None else float(day_seconds)
    if not (day > 0):
        raise ValueError(f"day_seconds must be positive, got {day_seconds!r}")
    spec, base = load_spec(spec_path_or_dict)
    if net is None and spec.get("network"):
        net = base / spec["network"]
    if net is not None and not isinstance(net, sumolib.net.Net):
        if not Path(net).is_file():
            raise FileNotFoundError(f"network file {str(net)!r} does not exist")
        net = sumolib.net.readNet(str(net))
    reach = _Reach(net) if net is not None else None

    vtypes = {**DEFAULT_VTYPES, **spec.get("vtypes", {})}
    zones = spec["zones"]
    hour_s = day / HOURS
    rng = np.random.default_rng(seed)

    rows: list[tuple[float, str, str, str, str, str]] = []  # depart, from, to, type, dpos, apos
    hourly = np.zeros(HOURS)  # (24,)
    zone_counts = {name: [0, 0] for name in zones}
    for flow in spec["flows"]:
        src_zone, dst_zone = zones[flow["from"]], zones[flow["to"]]
        src_edges, src_w = _weights(src_zone, "sources")
        dst_edges, dst_w = _weights(dst_zone, "sinks")
        profile = np.asarray(spec["profiles"][flow["profile"]], dtype=float)  # (24,)
        lam = float(flow["rate"]) * scale * profile * hour_s / 3600.0  # (24,) trips per hour
        counts = rng.poisson(lam)  # (24,)
        n = int(counts.sum())
        if n == 0:
            continue
        hours = np.repeat(np.arange(HOURS), counts)  # (n,)
        departs = (hours + rng.random(n)) * hour_s  # (n,)
        src = rng.choice(len(src_edges), size=n, p=src_w)  # (n,)
        dst = rng.choice(len(dst_edges), size=n, p=dst_w)  # (n,)
        truck = rng.random(n) < float(flow.get("truck_share", 0.0))  # (n,)
        for k in range(n):
            a, b = src_edges[src[k]], dst_edges[dst[k]]
            if a == b:
                # a trip within one block is no trip: send it to the next sink of the zone
                b = dst_edges[(dst[k] + 1) % len(dst_edges)]
                if a == b:
                    continue
            if reach is not None and b not in reach.reachable(a):
                raise ValueError(
                    f"flow {flow['from']!r} -> {flow['to']!r}: edge {b!r} cannot be reached "
                    f"from edge {a!r}"
                )
            rows.append(
                (
                    float(departs[k]),
                    a,
                    b,
                    "truck" if truck[k] else "passenger",
                    str(src_zone.get("depart_pos", "base")),
                    str(dst_zone.get("arrival_pos", "max")),
                )
            )
            hourly[hours[k]] += 1
            zone_counts[flow["from"]][0] += 1
            zone_counts[flow["to"]][1] += 1

    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(
            f"<!-- {spec.get('name', 'demand')}: scale={scale:g} seed={seed} "
            f"day_seconds={day:g} trips={len(rows)} -->\n"
        )
        f.write("<routes>\n")
        for vid, attrs in sorted(vtypes.items()):
            attr_text = " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items())
            f.write(f'    <vType id="{vid}" {attr_text}/>\n')
        for i, (depart, a, b, vtype, dpos, apos) in enumerate(rows):
            f.write(
                f'    <trip id="{i}" type="{vtype}" depart="{depart:.2f}" from="{a}" to="{b}" '
                f'departLane="best" departSpeed="max" departPos="{dpos}" arrivalPos="{apos}"/>\n'
            )
        f.write("</routes>\n")
    return DemandSummary(
        path=out,
        trips=len(rows),
        trucks=sum(1 for r in rows if r[3] == "truck"),
        scale=float(scale),
        seed=int(seed),
        day_seconds=day,
        hourly_rates=tuple(float(x) for x in hourly * 3600.0 / hour_s),
        zone_trips={k: (v[0], v[1]) for k, v in zone_counts.items()},
    )
