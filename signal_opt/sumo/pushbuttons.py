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
                crossing = (
                    lk.to_edge
                    if net.hasEdge(lk.to_edge) and _is_crossing(net.getEdge(lk.to_edge))
                    else lk.from_edge
                )
                if not net.hasEdge(crossing):
                    continue
                edge = net.getEdge(crossing)
                ends = [*edge.getIncoming(), *edge.getOutgoing()]
                for walk in ends:
                    self.at.setdefault(walk.getID(), {})[crossing] = (x.id, lk.index)
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


def _is_crossing(edge) -> bool:
    return edge.getFunction() == "crossing"
