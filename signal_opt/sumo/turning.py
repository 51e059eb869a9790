"""Design flows per lane group from a scenario's demand: the traffic engineer's count survey.

Strategies that are timed once from a demand period (``webster``, and the max greens of
``actuated``) need turning-movement flows. A field engineer counts them; here they are read
off the scenario's route files: every vehicle, trip or flow is followed along its route, and
each turn it makes at a signal is counted, by the time the vehicle departs. The design flow
is the busiest 15-minute rate of the period, as in HCM practice (peak-hour factor).

What is read (with :func:`sumolib.xml.parse`, so gzipped files and ``<include>`` work too):
``<vehicle>``, ``<trip>`` and ``<flow>``, also inside an ``<interval>``; their route is an
embedded ``<route>``, a ``route=`` reference to a ``<route>`` or a ``<routeDistribution>``,
or the fastest path ``from`` / ``via`` / ``to`` (or between ``fromJunction`` and
``toJunction``). A vehicle on a route distribution counts on every route of it, weighted by
the routes' probabilities. Flows are spaced as SUMO spaces them, random ones (``probability``,
``period="exp(r)"``) at their expected rate. Times may be in any form SUMO accepts. Persons,
containers and vehicles that wait for a trigger (``depart="triggered"``...) are not counted.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import sumolib

from signal_opt.model import Intersection
from signal_opt.sumo.files import read_elements, sumo_time

_VEHICLE = ("id", "depart", "route", "from", "to", "via", "fromJunction", "toJunction")
_FLOW = (*_VEHICLE, "begin", "end", "period", "vehsPerHour", "perHour", "probability", "number")
DEMAND_ATTRS = {
    "route": ("id", "edges", "refId", "probability"),
    "routeDistribution": ("id",),
    "vehicle": _VEHICLE,
    "trip": _VEHICLE,
    "flow": _FLOW,
    "interval": ("begin", "end"),
}
"""The elements of a route file that make demand, and the attributes read of each."""
TRIGGERED = ("triggered", "containerTriggered", "split")
"""Departures that wait for a person or container: their time is not known in advance."""

Member: TypeAlias = "tuple[str, ...] | str"
"""A route: its edges, or the id of a ``<route>`` or ``<routeDistribution>`` defined elsewhere."""
RouteSpec: TypeAlias = "Member | list[tuple[Member, float]]"
"""A vehicle's route: one member, or members with their probabilities (a distribution)."""


class Departure(NamedTuple):
    time: float
    edges: tuple[str, ...]
    weight: float = 1.0
    """Share of the vehicle on this route (below 1 for a route distribution)."""


def depart_time(value: str | None, begin: float, what: str = "depart") -> float | None:
    """Seconds of a ``depart`` (or flow ``begin``); ``begin`` for ``"begin"`` and ``"now"``,
    ``None`` for a triggered departure."""
    if value is None or value in ("begin", "now"):
        return begin
    if value in TRIGGERED:
        return None
    return sumo_time(value, what)


def _spacing(flow: Any, what: str) -> float | None:
    """Seconds between a flow's vehicles (the mean, for random ones); None if no rate is given,
    infinite for a rate of zero."""
    period = (flow.period or "").strip()
    if period.startswith("exp("):
        rate = float(period[4:-1])
    elif period:
        return sumo_time(period, f"{what}: period")
    elif flow.vehsPerHour is not None or flow.perHour is not None:
        rate = float(flow.vehsPerHour or flow.perHour) / 3600.0
    elif flow.probability is not None:
        rate = float(flow.probability)
    else:
        return None
    return 1.0 / rate if rate > 0 else math.inf


def flow_times(flow: Any, begin: float, end: float) -> list[float]:
    """Departure times of a ``<flow>`` (a :func:`sumolib.xml.parse` element), as SUMO spaces them.

    ``begin`` and ``end`` stand in for a missing ``begin`` / ``end`` (the simulation's, as in
    SUMO). ``period``, ``vehsPerHour`` / ``perHour`` or ``probability`` (per second) set the
    spacing, ``period="exp(r)"`` means r per second; ``number`` with a spacing ends the flow
    after that many vehicles, ``number`` alone spreads them evenly over ``[begin, end)``.
    """
    what = f"flow {flow.id!r}"
    start = depart_time(flow.begin, begin, f"{what}: begin")
    stop = end if flow.end is None else sumo_time(flow.end, f"{what}: end")
    spacing = _spacing(flow, what)
    if start is None or spacing == math.inf:
        return []
    if flow.number is not None:
        n = int(float(flow.number))
        if spacing is None:
            spacing = (stop - start) / n if n > 0 else 0.0
    elif spacing:
        n = math.ceil((stop - start) / spacing - 1e-9)  # no extra vehicle from rounding
    else:
        return []  # no rate at all: SUMO refuses the flow
    return [start + i * spacing for i in range(max(n, 0))]


class _Paths:
    """Fastest paths for trips, as SUMO's router would find them on an empty network."""

    def __init__(self, net: sumolib.net.Net) -> None:
        self.net = net
        self._cache: dict[tuple[str, str, str], tuple[str, ...]] = {}

    def _fastest(self, a: Any, b: Any) -> tuple[tuple[str, ...], float]:
        found, cost = self.net.getFastestPath(a, b)
        return (tuple(e.getID() for e in found), cost) if found else ((), math.inf)

    def between_edges(self, a: str, b: str, via: str | None = None) -> tuple[str, ...]:
        stops = [a, *(via.split() if via else []), b]
        edges: list[str] = []
        for u, v in itertools.pairwise(stops):
            key = ("edge", u, v)
            if key not in self._cache:
                try:
                    self._cache[key] = self._fastest(self.net.getEdge(u), self.net.getEdge(v))[0]
                except KeyError:
                    self._cache[key] = ()
            part = self._cache[key]
            if not part:
                return ()
            edges.extend(part if not edges else part[1:])
        return tuple(edges)

    def between_junctions(self, a: str, b: str) -> tuple[str, ...]:
        """The fastest path from any edge leaving junction ``a`` to any edge entering ``b``."""
        key = ("junction", a, b)
        if key not in self._cache:
            try:
                leaving = self.net.getNode(a).getOutgoing()
                entering = self.net.getNode(b).getIncoming()
            except KeyError:
                leaving = entering = []
            paths = [
                self._fastest(u, v)
                for u in leaving
                for v in entering
                if u.getFunction() == "" and v.getFunction() == ""
            ]
            self._cache[key] = min(paths, key=lambda p: p[1], default=((), math.inf))[0]
        return self._cache[key]


def _edges(route: Any) -> tuple[str, ...]:
    return tuple((route.edges or "").split())


def _members(dist: Any) -> list[tuple[Member, float]]:
    """Routes of a ``<routeDistribution>`` (own edges or a ``refId``) and their probabilities."""
    out: list[tuple[Member, float]] = []
    for r in dist.getChild("route") if dist.hasChild("route") else []:
        member: Member = r.refId or _edges(r)
        out.append((member, float(r.probability or 1.0)))
    return out


def _route_spec(el: Any, paths: _Paths) -> RouteSpec:
    if el.hasChild("route"):
        return _edges(el.getChild("route")[0])
    if el.hasChild("routeDistribution"):
        return _members(el.getChild("routeDistribution")[0])
    if el.route:
        return str(el.route)
    if el.attr_from and el.to:
        return paths.between_edges(el.attr_from, el.to, el.via)
    if el.fromJunction and el.toJunction:
        return paths.between_junctions(el.fromJunction, el.toJunction)
    return ()


class _Demand:
    """The routes, route distributions and vehicles of route files, read in order."""

    def __init__(self, net: sumolib.net.Net) -> None:
        self.paths = _Paths(net)
        self.routes: dict[str, tuple[str, ...]] = {}
        self.distributions: dict[str, list[tuple[Member, float]]] = {}
        self.vehicles: list[tuple[list[float], RouteSpec]] = []
        """Departure times (several for a flow) and route of each vehicle, trip or flow."""

    def read(self, el: Any, begin: float, end: float) -> None:
        """Take in one element; ``begin`` / ``end`` are the defaults for a flow's own."""
        if el.name == "interval":
            begin = begin if el.begin is None else sumo_time(el.begin, "interval begin")
            end = end if el.end is None else sumo_time(el.end, "interval end")
            for child in el.getChildList():
                self.read(child, begin, end)
        elif el.name == "route" and el.id:
            self.routes[el.id] = _edges(el)
        elif el.name == "routeDistribution" and el.id:
            self.distributions[el.id] = _members(el)
            for r in el.getChild("route") if el.hasChild("route") else []:
                if r.id and r.edges is not None:  # defined here, usable by id elsewhere
                    self.routes[r.id] = _edges(r)
        elif el.name == "flow":
            self.vehicles.append((flow_times(el, begin, end), _route_spec(el, self.paths)))
        elif el.name in ("vehicle", "trip"):
            t = depart_time(el.depart, begin, f"{el.name} {el.id!r}: depart")
            self.vehicles.append(([] if t is None else [t], _route_spec(el, self.paths)))

    def choices(self, spec: RouteSpec) -> list[tuple[tuple[str, ...], float]]:
        """The routes a vehicle may take, with their probabilities (summing to 1)."""
        if isinstance(spec, tuple):
            return [(spec, 1.0)]
        if isinstance(spec, str):
            if spec in self.routes:
                return [(self.routes[spec], 1.0)]
            return self.choices(self.distributions.get(spec, []))
        weighted = [(edges, p * w) for member, p in spec for edges, w in self.choices(member)]
        total = sum(p for _, p in weighted)
        return [(edges, p / total) for edges, p in weighted] if total > 0 else []


def route_departures(
    route_files: Iterable[Path], net: sumolib.net.Net, begin: float, end: float
) -> list[Departure]:
    """Every vehicle departing in ``[begin, end)`` with its route, in the files' order.

    A route may be referred to before the file that defines it; a vehicle whose route is
    unknown or shorter than two edges is left out.
    """
    demand = _Demand(net)
    for f in route_files:
        for el in read_elements(f, DEMAND_ATTRS):
            demand.read(el, begin, end)
    out: list[Departure] = []
    for times, spec in demand.vehicles:
        for edges, weight in demand.choices(spec):
            if len(edges) >= 2:
                out.extend(Departure(t, edges, weight) for t in times if begin <= t < end)
    return out


def design_flows(
    intersections: list[Intersection],
    route_files: Iterable[Path],
    net: sumolib.net.Net,
    begin: float,
    end: float,
    window: float = 900.0,
    step: float = 300.0,
    scale: float = 1.0,
) -> list[dict[str, float]]:
    """Peak ``window`` flow rate (veh/h) per lane group id, for each intersection.

    The window is the busiest of the whole network over ``[begin, end)``.
    """
    # (from_edge, to_edge) -> [(intersection index, group id, share)]
    turn_groups: dict[tuple[str, str], list[tuple[int, str, float]]] = defaultdict(list)
    for i, x in enumerate(intersections):
        by_turn: dict[tuple[str, str], list[str]] = defaultdict(list)
        links = {lk.index: lk for lk in x.links}
        for g in x.lane_groups:
            turns = {(links[k].from_edge, links[k].to_edge) for k in g.links}
            for turn in turns:
                by_turn[turn].append(g.id)
        for turn, gids in by_turn.items():
            for gid in gids:
                turn_groups[turn].append((i, gid, 1.0 / len(gids)))
    n_bins = max(1, int(np.ceil((end - begin) / step)))
    counts: list[dict[str, np.ndarray]] = [
        defaultdict(lambda: np.zeros(n_bins)) for _ in intersections
    ]
    for depart, edges, weight in route_departures(route_files, net, begin, end):
        b = min(int((depart - begin) // step), n_bins - 1)
        for turn in itertools.pairwise(edges):
            for i, gid, share in turn_groups.get(turn, ()):
                counts[i][gid][b] += share * weight
    per_window = max(1, round(window / step))
    total = np.zeros(n_bins)
    for c in counts:
        for arr in c.values():
            total += arr
    kernel = np.ones(per_window)
    moving = (
        np.convolve(total, kernel, mode="valid")
        if n_bins >= per_window
        else total.sum(keepdims=True)
    )
    start = int(np.argmax(moving))
    stop = min(start + per_window, n_bins)
    hours = (stop - start) * step / 3600.0
    out = []
    for c in counts:
        out.append({gid: float(arr[start:stop].sum() / hours * scale) for gid, arr in c.items()})
    return out
