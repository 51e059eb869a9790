"""The demand of a stress draw: a ``demand.json`` spec for :func:`write_routes`.

The simulated horizon is split into 24 equal slots (the spec's "hours"; each keeps its
rate in veh/h). Over them:

- a directional peak builds from one side of the network (``peak_from``) towards the
  opposite side and the ``work`` half of the interior blocks, then reverses: the
  ``reverse`` profile carries the opposite side and ``work`` back towards ``peak_from``
  and the ``home`` half, while the first dies down;
- cross traffic between the two lateral sides runs all along (``base``);
- a surge leaves a single zone for ``surge_slots`` slots around the reversal: a venue
  (the blocks leaving one signal, trips starting along them) or one street end;
- every flow has the draw's truck share (5-25 %).

Rates are per entry lane (``lane_rate`` veh/h at the peak), so a wide street brings more
traffic than a narrow one; ``write_routes(..., scale=1.3)`` is the heavier demand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from signal_opt.stress.assign import load
from signal_opt.stress.design import Design, Link

SLOTS = 24
LOAD = (0.6, 0.8)
"""Range of the drawn load at scale 1.0 (see :class:`DemandParams`)."""
OPPOSITE = {"west": "east", "east": "west", "south": "north", "north": "south"}
SIDE_OF = {"W": "west", "E": "east", "S": "south", "N": "north"}
LATERAL = {"west": ("south", "north"), "east": ("south", "north")}
LATERAL |= {"south": ("west", "east"), "north": ("west", "east")}

# slot factors, each profile peaks at 1.0; the last slots are light so the network drains
PROFILES: dict[str, list[float]] = {
    "peak": [0.35, 0.5, 0.7, 0.85, 1.0, 1.0, 1.0, 0.9, 0.7, 0.5, 0.35, 0.25,
             0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.15, 0.1, 0.1, 0.1],
    "reverse": [0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.2, 0.25, 0.35, 0.5, 0.7, 0.85,
                1.0, 1.0, 1.0, 0.9, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.1, 0.1],
    "base": [0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 0.9, 0.85, 0.85, 0.85,
             0.9, 1.0, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.3],
}  # fmt: skip


@dataclass(frozen=True)
class DemandParams:
    peak_from: str
    """Side the first peak comes from (and the reverse peak goes back to)."""
    load: float
    """Target of the busiest block's volume / nominal capacity at scale 1.0, surge left
    out (:mod:`signal_opt.stress.assign`); ``lane_rate`` follows from it."""
    lane_rate: float
    """Peak-direction veh/h per entry lane at the peak, at scale 1.0."""
    counter: float
    """Traffic against the peak, as a share of the peak direction's."""
    reverse: float
    """The reverse peak's strength relative to the first."""
    lateral: float
    """Cross traffic between the lateral sides, as a share of ``lane_rate`` per lane."""
    truck_share: float
    surge_zone: str
    surge_rate: float
    """veh/h leaving the surge zone while it surges, at scale 1.0."""
    surge_start: int
    """First slot of the surge."""
    surge_slots: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fringe_links(design: Design) -> tuple[dict[str, list[Link]], dict[str, list[Link]]]:
    """Per side: the links entering the network there, and those leaving it there."""
    entries: dict[str, list[Link]] = defaultdict(list)
    exits: dict[str, list[Link]] = defaultdict(list)
    signals = set(design.signals)
    for lk in design.links:
        if lk.src not in signals:
            entries[SIDE_OF[lk.src[0]]].append(lk)
        if lk.dst not in signals:
            exits[SIDE_OF[lk.dst[0]]].append(lk)
    return entries, exits


def _inner_links(design: Design) -> list[Link]:
    signals = set(design.signals)
    return [lk for lk in design.links if lk.src in signals and lk.dst in signals]


def draw_demand(rng: np.random.Generator, design: Design) -> DemandParams:
    """The demand parameters of a layout, drawn from ``rng``; the rates are set so that the
    busiest block carries the drawn load (:func:`signal_opt.stress.assign.load`)."""
    sides = ["west", "east"] if design.kind == "arterial" else list(OPPOSITE)
    peak_from = str(rng.choice(sides))
    entries, _ = _fringe_links(design)
    if design.has_interior and rng.random() < 0.6:
        venue = str(rng.choice(design.signals))
        surge_zone = f"venue:{venue}"
        lanes = sum(lk.lanes for lk in _inner_links(design) if lk.src == venue)
        surge_rate = float(rng.uniform(100.0, 200.0)) * lanes  # 2-4 blocks leave a venue
    else:
        side = str(rng.choice(sorted(entries)))
        entry = entries[side][int(rng.integers(len(entries[side])))]
        surge_zone = f"{side}:{entry.street}"
        surge_rate = float(rng.uniform(450.0, 650.0)) * entry.lanes
    unit = DemandParams(
        peak_from=peak_from,
        load=round(float(rng.uniform(*LOAD)), 3),
        lane_rate=1.0,
        counter=round(float(rng.uniform(0.25, 0.45)), 3),
        reverse=round(float(rng.uniform(0.8, 1.1)), 3),
        lateral=round(float(rng.uniform(0.3, 0.6)), 3),
        truck_share=round(float(rng.uniform(0.05, 0.25)), 3),
        surge_zone=surge_zone,
        surge_rate=round(surge_rate, 1),
        surge_start=int(rng.integers(8, 13)),
        surge_slots=int(rng.integers(2, 4)),
    )
    at_unit_rate = load(design, demand_spec(design, unit, ""), skip_profiles=("surge",))
    return replace(unit, lane_rate=round(unit.load / at_unit_rate, 1))


def _axis_value(design: Design, lk: Link, side: str) -> float:
    """How far the middle of ``lk`` lies from ``side`` (larger = farther)."""
    a, b = design.node(lk.src), design.node(lk.dst)
    x, y = (a.x + b.x) / 2, (a.y + b.y) / 2
    return {"west": x, "east": -x, "south": y, "north": -y}[side]


def zones(design: Design, params: DemandParams) -> dict[str, dict[str, Any]]:
    """Side zones, one zone per street end (``side:street``), ``home`` / ``work`` halves of
    the interior blocks and, for a venue surge, the venue's blocks."""
    entries, exits = _fringe_links(design)
    out: dict[str, dict[str, Any]] = {}
    for side in OPPOSITE:
        if entries.get(side):
            out[side] = {
                "kind": "fringe",
                "sources": {lk.id: float(lk.lanes) for lk in entries[side]},
                "sinks": {lk.id: float(lk.lanes) for lk in exits[side]},
            }
    for side in OPPOSITE:
        for lk in entries.get(side, []):
            back = next(e for e in exits[side] if e.street == lk.street)
            out[f"{side}:{lk.street}"] = {
                "kind": "fringe",
                "sources": {lk.id: 1.0},
                "sinks": {back.id: 1.0},
            }
    if not design.has_interior:
        return out
    inner = _inner_links(design)
    inner.sort(key=lambda lk: (_axis_value(design, lk, params.peak_from), lk.id))
    half = len(inner) // 2
    for name, part in (("home", inner[:half]), ("work", inner[half:])):
        out[name] = _interior({lk.id: float(lk.lanes) for lk in part})
    if params.surge_zone.startswith("venue:"):
        venue = params.surge_zone.split(":", 1)[1]
        out[params.surge_zone] = _interior(
            {lk.id: float(lk.lanes) for lk in inner if lk.src == venue}
        )
    return out


def _interior(weights: dict[str, float]) -> dict[str, Any]:
    return {
        "kind": "interior",
        "sources": weights,
        "sinks": dict(weights),
        "depart_pos": "random_free",
        "arrival_pos": "random",
    }


def _flow(src: str, dst: str, rate: float, profile: str, trucks: float) -> dict[str, Any]:
    return {
        "from": src,
        "to": dst,
        "rate": round(rate, 1),
        "profile": profile,
        "truck_share": trucks,
    }


def _split(
    src: str, total: float, shares: dict[str, float], profile: str, trucks: float
) -> list[dict[str, Any]]:
    return [_flow(src, dst, total * s, profile, trucks) for dst, s in shares.items() if s > 0]


def flows(design: Design, params: DemandParams) -> list[dict[str, Any]]:
    """The zone-to-zone flows (veh/h at their profile's 1.0) described in the module."""
    entries, _ = _fringe_links(design)
    p = params.peak_from
    q = OPPOSITE[p]
    lat = [s for s in LATERAL[p] if entries.get(s)]
    trucks = params.truck_share
    rate = params.lane_rate
    # without interior zones the work half is the far side, the home half the near one
    work, home = ("work", "home") if design.has_interior else (q, p)
    out: list[dict[str, Any]] = []

    def add(src: str, total: float, shares: dict[str, float], profile: str) -> None:
        merged: dict[str, float] = defaultdict(float)
        side = src.split(":")[0]
        for dst, share in shares.items():
            if dst == side:  # no trips back out where they came in: cross the network
                for t in lat or [OPPOSITE[side]]:
                    merged[t] += share / max(len(lat), 1)
            else:
                merged[dst] += share
        out.extend(_split(src, total, dict(merged), profile, trucks))

    peak_total = 0.0
    for lk in entries[p]:
        total = rate * lk.lanes
        peak_total += total
        src = f"{p}:{lk.street}"
        add(src, total, {q: 0.45, work: 0.3} | {s: 0.25 / len(lat) for s in lat}, "peak")
        add(src, params.counter * total, {q: 0.6, work: 0.4}, "reverse")
    for lk in entries[q]:
        total = rate * lk.lanes
        src = f"{q}:{lk.street}"
        add(src, params.reverse * total, {p: 0.6} | {s: 0.4 / len(lat) for s in lat}, "reverse")
        add(src, params.counter * total, {p: 0.6, work: 0.4}, "peak")
    if design.has_interior:
        add("work", params.reverse * 0.3 * peak_total, {p: 0.7, home: 0.3}, "reverse")
        add("home", 0.3 * 0.3 * peak_total, {work: 1.0}, "peak")
    for s in lat:
        for lk in entries[s]:
            shares = {t: 0.6 for t in lat if t != s} | {p: 0.2, q: 0.2}
            add(f"{s}:{lk.street}", params.lateral * rate * lk.lanes, shares, "base")
    surge_to = [s for s in (p, q, *lat) if not params.surge_zone.startswith(f"{s}:")]
    add(params.surge_zone, params.surge_rate, {s: 1 / len(surge_to) for s in surge_to}, "surge")
    return out


def surge_profile(params: DemandParams) -> list[float]:
    """(24,) slot factors: 1.0 while the zone surges, 0 otherwise."""
    start, stop = params.surge_start, params.surge_start + params.surge_slots
    return [1.0 if start <= k < stop else 0.0 for k in range(SLOTS)]


def demand_spec(design: Design, params: DemandParams, network: str) -> dict[str, Any]:
    """The ``demand.json`` of a draw; ``network`` is the net file relative to it."""
    return {
        "name": "stress",
        "description": (
            f"stress demand: peak from {params.peak_from}, reversing; surge from "
            f"{params.surge_zone}; {100 * params.truck_share:.0f} % trucks"
        ),
        "network": network,
        "rate_unit": "veh/h at profile factor 1.0; 24 slots of equal length over the horizon",
        "stress": params.to_dict(),
        "zones": zones(design, params),
        "profiles": PROFILES | {"surge": surge_profile(params)},
        "flows": flows(design, params),
    }
