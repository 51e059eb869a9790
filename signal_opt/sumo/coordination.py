"""Which signals feed which: platoon links between neighbouring stop lines, and where
each link is entered.

For every lane group of every signal, follow its approach upstream (through plain
junctions and edge splits such as turn-bay tapers, never through another signal) until a
signalized intersection is reached; the upstream lane groups whose links enter that
approach feed the group, and the travel time is the path length at 90 % of the speed
limit. The optimization core turns these into cyclic flow profiles to choose offsets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sumolib

from signal_opt.model import Intersection

MAX_LINK_LENGTH_M = 1500.0
CRUISE_FACTOR = 0.9


@dataclass(frozen=True)
class PlatoonLink:
    """Upstream lane groups of intersection ``up`` feed group ``down_group`` of ``down``."""

    up: int
    up_groups: tuple[int, ...]
    down: int
    down_group: int
    travel_time: float
    length: float


def _approach(
    edge: sumolib.net.edge.Edge, owned: set[str]
) -> Iterator[tuple[sumolib.net.edge.Edge, float, float]]:
    """The edges of an approach from ``edge`` upstream, each with the length and cruise
    time from its start to the stop line: through plain junctions and edge splits (a
    turn-bay taper) while one edge leads into it (a connection, not a U-turn from the
    opposite direction), never past a signalized node (``owned``) or
    :data:`MAX_LINK_LENGTH_M`."""
    length = 0.0
    time = 0.0
    seen: set[str] = set()
    while edge is not None and edge.getID() not in seen:
        seen.add(edge.getID())
        length += edge.getLength()
        time += edge.getLength() / max(edge.getSpeed() * CRUISE_FACTOR, 1.0)
        yield edge, length, time
        if edge.getFromNode().getID() in owned or length > MAX_LINK_LENGTH_M:
            return
        incoming = [
            e
            for e in edge.getIncoming()  # edges with a connection into this one
            if e.getFunction() == "" and e.getFromNode() is not edge.getToNode()
        ]
        edge = incoming[0] if len(incoming) == 1 else None


def platoon_links(net: sumolib.net.Net, intersections: list[Intersection]) -> list[PlatoonLink]:
    owned = {n for x in intersections for n in x.node_ids}
    # edge id -> (intersection, groups whose links leave onto that edge)
    leaving: dict[str, list[tuple[int, int]]] = {}
    for i, x in enumerate(intersections):
        links = {lk.index: lk for lk in x.links}
        for g_idx, g in enumerate(x.lane_groups):
            for e in {links[k].to_edge for k in g.links}:
                leaving.setdefault(e, []).append((i, g_idx))
    out: list[PlatoonLink] = []
    for j, x in enumerate(intersections):
        for g_idx, g in enumerate(x.lane_groups):
            for edge, length, time in _approach(net.getEdge(g.approach), owned):
                feeders = [(i, gg) for i, gg in leaving.get(edge.getID(), ()) if i != j]
                if feeders:
                    up = feeders[0][0]
                    groups = tuple(sorted({gg for i, gg in feeders if i == up}))
                    out.append(PlatoonLink(up, groups, j, g_idx, time, length))
                    break
    return out


def link_entries(
    net: sumolib.net.Net,
    intersections: list[Intersection],
    exit_zones: dict[str, list[str]],
) -> dict[str, tuple[str, ...]]:
    """Incoming lane of a signal -> the exit zones (``exit_zones``: lane leaving a signal
    -> its exit zone ids) where the vehicles reaching that lane enter its link: those of
    the edge that leaves the upstream signal, found along the approach (:func:`_approach`).
    Lanes whose link has another way in (a side street, the network's edge) or no exit
    zone at its entry are left out: what enters them is not seen."""
    owned = {n for x in intersections for n in x.node_ids}
    out: dict[str, tuple[str, ...]] = {}
    for x in intersections:
        for lane_id in sorted({lk.from_lane for lk in x.links if not lk.is_crossing}):
            for edge, _, _ in _approach(net.getLane(lane_id).getEdge(), owned):
                zones = [d for ln in edge.getLanes() for d in exit_zones.get(ln.getID(), ())]
                if zones:
                    out[lane_id] = tuple(sorted(zones))
                    break
    return out
