"""Design flows per lane group from a scenario's demand: the traffic engineer's count survey.

Strategies that are timed once from a demand period (``webster``, and the max greens of
``actuated``) need turning-movement flows. A field engineer counts them; here they are read
off the scenario's route files: every vehicle, trip or flow is followed along its route
(trips without a route take the fastest path), and each turn it makes at a signal is
counted, by the time the vehicle departs. The design flow is the busiest 15-minute rate
of the period, as in HCM practice (peak-hour factor).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sumolib

from signal_opt.model import Intersection


def _flow_times(el: ET.Element, begin: float, end: float) -> list[float]:
    b = float(el.get("begin", begin))
    e = float(el.get("end", end))
    if el.get("number") is not None:
        n = int(float(el.get("number", 0)))
        return list(np.linspace(b, e, n, endpoint=False)) if n > 0 else []
    if el.get("vehsPerHour") is not None:
        rate = float(el.get("vehsPerHour", 0)) / 3600.0
    elif el.get("period") is not None and not el.get("period", "").startswith("exp"):
        rate = 1.0 / max(float(el.get("period", 1)), 1e-9)
    elif el.get("probability") is not None:
        rate = float(el.get("probability", 0))
    else:
        return []
    n = int((e - b) * rate)
    return list(np.linspace(b, e, n, endpoint=False)) if n > 0 else []


def route_departures(
    route_files: Iterable[Path], net: sumolib.net.Net, begin: float, end: float
) -> list[tuple[float, tuple[str, ...]]]:
    """``(depart, edges)`` of every vehicle departing in ``[begin, end)``."""
    routes: dict[str, tuple[str, ...]] = {}
    cache: dict[tuple[str, str], tuple[str, ...]] = {}
    out: list[tuple[float, tuple[str, ...]]] = []

    def path(a: str, b: str, via: str | None = None) -> tuple[str, ...]:
        stops = [a, *(via.split() if via else []), b]
        edges: list[str] = []
        for u, v in itertools.pairwise(stops):
            key = (u, v)
            if key not in cache:
                try:
                    found = net.getFastestPath(net.getEdge(u), net.getEdge(v))[0]
                except (KeyError, AttributeError):
                    found = None
                cache[key] = tuple(e.getID() for e in found) if found else ()
            part = cache[key]
            edges.extend(part if not edges else part[1:])
        return tuple(edges)

    for f in route_files:
        for _, el in ET.iterparse(f, events=("end",)):
            tag = el.tag
            if tag == "route" and el.get("id"):
                routes[el.get("id", "")] = tuple(el.get("edges", "").split())
                continue
            if tag not in ("vehicle", "trip", "flow"):
                continue
            edges: tuple[str, ...] = ()
            child = el.find("route")
            if child is not None:
                edges = tuple(child.get("edges", "").split())
            elif el.get("route") in routes:
                edges = routes[el.get("route", "")]
            elif el.get("from") and el.get("to"):
                edges = path(el.get("from", ""), el.get("to", ""), el.get("via"))
            if len(edges) < 2:
                el.clear()
                continue
            if tag == "flow":
                times = _flow_times(el, begin, end)
            else:
                try:
                    times = [float(el.get("depart", "0"))]
                except ValueError:
                    times = [begin]
            out.extend((t, edges) for t in times if begin <= t < end)
            el.clear()
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
    for depart, edges in route_departures(route_files, net, begin, end):
        b = min(int((depart - begin) // step), n_bins - 1)
        for turn in itertools.pairwise(edges):
            for i, gid, share in turn_groups.get(turn, ()):
                counts[i][gid][b] += share
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
