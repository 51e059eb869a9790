"""Pedestrian push buttons at signalized crossings, read from a running simulation.

SUMO has no push-button detector, so one is emulated as SUMO's pedestrian-actuated
crossing tutorial does: the button at either end of a crossing is pressed while a person
stands on the walking area there with that crossing next on their walk. Only those
walking areas are watched (one subscription each, read once per step); nothing else
about pedestrians is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sumolib
import traci.constants as tc

from signal_opt.model import Intersection


class PushButtons:
    """The push buttons of every crossing the ``intersections`` control."""

    def __init__(self, conn, net: sumolib.net.Net, intersections: Sequence[Intersection]):
        self.conn = conn
        self.at: dict[str, dict[str, tuple[str, int]]] = {}
        """Walking area -> {crossing edge: (signal id, crossing link index)}."""
        for x in intersections:
            for lk in x.links:
                if not lk.is_crossing:
                    continue
                edge = _crossing_edge(net, lk.to_edge) or _crossing_edge(net, lk.from_edge)
                if edge is None:
                    continue
                for walk in [*edge.getIncoming(), *edge.getOutgoing()]:
                    self.at.setdefault(walk.getID(), {})[edge.getID()] = (x.id, lk.index)
        for walk in self.at:
            conn.edge.subscribe(walk, (tc.LAST_STEP_PERSON_ID_LIST,))

    def pressed(self) -> dict[str, frozenset[int]]:
        """Per signal, the crossing link indices whose button is pressed now."""
        out: dict[str, set[int]] = {}
        for walk, res in self.conn.edge.getAllSubscriptionResults().items():
            persons = res.get(tc.LAST_STEP_PERSON_ID_LIST)
            crossings = self.at.get(walk)
            if not persons or not crossings:
                continue
            for person in persons:
                hit = crossings.get(self.conn.person.getNextEdge(person))
                if hit is not None:
                    out.setdefault(hit[0], set()).add(hit[1])
        return {tls: frozenset(idx) for tls, idx in out.items()}


def _crossing_edge(net: sumolib.net.Net, edge_id: str):
    """The crossing edge ``edge_id``, or None if it is not one."""
    if not net.hasEdge(edge_id):
        return None
    edge = net.getEdge(edge_id)
    return edge if edge.getFunction() == "crossing" else None
