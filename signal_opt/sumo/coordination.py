"""Which signals feed which: platoon links between neighbouring stop lines.

For every lane group of every signal, follow its approach upstream (through plain
junctions and edge splits such as turn-bay tapers, never through another signal) until a
signalized intersection is reached; the upstream lane groups whose links enter that
approach feed the group, and the travel time is the path length at 90 % of the speed
limit. The optimization core turns these into cyclic flow profiles to choose offsets.
"""

from __future__ import annotations

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


def platoon_links(net: sumolib.net.Net, intersections: list[Intersection]) -> list[PlatoonLink]:
    node_owner: dict[str, int] = {}
    for i, x in enumerate(intersections):
        for n in x.node_ids:
            node_owner[n] = i
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
            edge = net.getEdge(g.approach)
            length = 0.0
            time = 0.0
            seen = set()
            while edge is not None and edge.getID() not in seen:
                seen.add(edge.getID())
                length += edge.getLength()
                time += edge.getLength() / max(edge.getSpeed() * CRUISE_FACTOR, 1.0)
                feeders = [(i, gg) for i, gg in leaving.get(edge.getID(), ()) if i != j]
                if feeders:
                    up = feeders[0][0]
                    groups = tuple(sorted({gg for i, gg in feeders if i == up}))
                    out.append(PlatoonLink(up, groups, j, g_idx, time, length))
                    break
                node = edge.getFromNode()
                if node.getID() in node_owner or length > MAX_LINK_LENGTH_M:
                    break
                incoming = [
                    e
                    for e in node.getIncoming()
                    if e.getFunction() == "" and e.getFromNode() is not edge.getToNode()
                ]
                edge = incoming[0] if len(incoming) == 1 else None
    return out
