"""Detectors of a smart intersection: place them on a network, write them, read a scenario's own.

Per incoming lane of every traffic light the layout is the one real detector-equipped
intersections have (and SUMO's ``tools/output/generateTLSE1Detectors.py`` /
``generateTLSE2Detectors.py`` generate):

- ``sl_<lane>``: a stop-line induction loop (E1) :data:`STOPLINE_SETBACK` m before the
  stop line, counting discharge;
- ``adv_<lane>``: an advance induction loop (E1) :data:`ADVANCE_DISTANCE` m upstream,
  counting arrivals before the queue reaches them. A lane too short for that (a turn
  bay, the last piece of an approach split at a lane change) hands it over to the lanes
  feeding it across unsignalized junctions (the one going straight on, else the longest);
  only where no lane feeds it does it sit at :data:`SHORT_LANE_FRACTION` of the lane,
  never closer than :data:`MIN_ADVANCE` m to the stop line;
- ``q_<lane>``: a lane-area detector (E2) from the stop line back to the advance loop
  (video queue detection). Where the lane is short it continues over the lanes that feed
  it (a multi-lane E2), back to the advance loop, so that a queue is seen however short
  the last edge before the stop line is.

Detectors write to ``file="NUL"``: their interval values are read through TraCI /
libsumo (``getLastIntervalVehicleNumber`` ...), not from files.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import sumolib

from signal_opt.detectors import DetectorInfo
from signal_opt.sumo.detector_reader import served_lane
from signal_opt.sumo.files import read_elements, sumo_time

__all__ = [
    "ADVANCE_DISTANCE",
    "DetectorKind",
    "DetectorSpec",
    "detectors_from_additional",
    "place_detectors",
    "write_detectors",
]

log = logging.getLogger(__name__)

DetectorKind = Literal["stopline", "advance", "queue", "exit"]

STOPLINE_SETBACK = 1.5
"""Distance (m) of the stop-line loop from the end of the lane."""
ADVANCE_DISTANCE = 110.0
"""Distance (m) of the advance loop from the stop line where the lane allows."""
ADVANCE_MARGIN = 5.0
"""A lane holds its advance loop when at least this much of it (m) is left upstream of
the loop; a shorter lane's loop and zone reach back over the lane feeding it."""
SHORT_LANE_FRACTION = 0.6
"""Where no lane feeds a short lane, its advance loop sits this share of it back."""
MIN_ADVANCE = 15.0
"""An advance loop never sits closer than this (m) to the stop line."""
STOPLINE_ZONE = 10.0
"""When classifying foreign detectors: an E1 this close (m) to the lane end is a stop-line loop."""
E2_END_GAP = 0.1
EXIT_ZONE = 30.0
"""Length (m) of the exit zone at the start of each lane leaving a signal."""
MIN_EXIT_ZONE = 5.0
"""A lane leaving a signal shorter than this gets no exit zone."""
_E1 = ("inductionLoop", "e1Detector")
_E2 = ("laneAreaDetector", "e2Detector")
_DETECTOR_ATTRS = ("id", "lane", "lanes", "pos", "endPos", "length", "period", "freq")

NetLike: TypeAlias = "sumolib.net.Net | str | os.PathLike[str]"


@dataclass(frozen=True)
class DetectorSpec:
    """One detector: where it is and what it measures.

    ``position`` is metres from the start of ``lane`` (the E2's upstream end for a queue
    zone, whose extent is ``length``). ``incoming_lane`` is the traffic light's incoming
    lane the detector serves; it differs from ``lane`` only for an advance loop that was
    moved onto the upstream lane. ``tls`` is that traffic light's id ("" if unknown).
    """

    id: str
    kind: DetectorKind
    lane: str
    position: float
    length: float = 0.0
    tls: str = ""
    period: float = 60.0
    incoming_lane: str = ""
    upstream_lanes: tuple[str, ...] = ()
    """For a queue zone reaching back over the lanes feeding ``lane``: those lanes, most
    upstream first (``position`` is then on the first of them)."""
    end_position: float = 0.0
    """End of a multi-lane queue zone on ``lane`` (m from the lane start)."""

    @property
    def is_e2(self) -> bool:
        return self.kind in ("queue", "exit")


def _read_net(net: NetLike) -> sumolib.net.Net:
    if isinstance(net, sumolib.net.Net):
        return net
    path = Path(net)
    if not path.is_file():
        raise FileNotFoundError(f"network file {str(path)!r} does not exist")
    return sumolib.net.readNet(str(path))


def _is_vehicle_lane(lane: sumolib.net.lane.Lane) -> bool:
    """A normal lane cars or buses use: what a roadside system's loops and queue zones
    count. Bicycle and tram lanes are left to their own detection (the demand estimate
    leaves them out), sidewalks and crossings have none."""
    return lane.getEdge().getFunction() == "" and (lane.allows("passenger") or lane.allows("bus"))


def tls_incoming_lanes(
    net: sumolib.net.Net, tls_ids: Iterable[str] | None = None
) -> list[tuple[str, sumolib.net.lane.Lane]]:
    """``(tls id, lane)`` for every car or bus lane entering a traffic light, in link-index
    order."""
    wanted = None if tls_ids is None else set(tls_ids)
    known = {t.getID() for t in net.getTrafficLights()}
    if wanted is not None and wanted - known:
        raise ValueError(f"traffic lights {sorted(wanted - known)} are not in the network")
    out = []
    seen: set[str] = set()
    for tls in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        if wanted is not None and tls.getID() not in wanted:
            continue
        for lane, _, _ in sorted(tls.getConnections(), key=lambda c: c[2]):
            if lane.getID() in seen or not _is_vehicle_lane(lane):
                continue
            seen.add(lane.getID())
            out.append((tls.getID(), lane))
    return out


def _place_lane(tls: str, lane: sumolib.net.lane.Lane, period: float) -> list[DetectorSpec]:
    lid = lane.getID()
    length = lane.getLength()
    stop_pos = max(length - STOPLINE_SETBACK, 0.0)
    specs = [DetectorSpec(f"sl_{lid}", "stopline", lid, round(stop_pos, 2), 0.0, tls, period, lid)]

    # A lane too short to hold the advance loop ADVANCE_DISTANCE m back (with room
    # before it) looks back over its feeding lanes.
    long_enough = length >= ADVANCE_DISTANCE + ADVANCE_MARGIN
    chain = [] if long_enough else _upstream_chain(lane, ADVANCE_DISTANCE + ADVANCE_MARGIN - length)
    if chain:
        # Advance loop and queue zone reach back over the feeding lanes.
        reach = length + sum(up.getLength() for up in chain)
        first = chain[0]
        adv_pos = min(max(reach - ADVANCE_DISTANCE, 0.0), max(first.getLength() - 0.5, 0.0))
        adv_lane, upstream, end = first.getID(), tuple(up.getID() for up in chain), length
    else:
        fallback = max(SHORT_LANE_FRACTION * length, MIN_ADVANCE)
        reach = ADVANCE_DISTANCE if long_enough else min(ADVANCE_DISTANCE, fallback)
        if reach > length - 0.5:
            log.info("lane %s (%.1f m) is too short for an advance detector", lid, length)
            return specs
        adv_pos, adv_lane, upstream, end = length - reach, lid, (), 0.0
    specs.append(
        DetectorSpec(f"adv_{lid}", "advance", adv_lane, round(adv_pos, 2), 0.0, tls, period, lid)
    )
    zone_len = reach - E2_END_GAP - (adv_pos if chain else 0.0)
    specs.append(
        DetectorSpec(
            f"q_{lid}", "queue", lid, round(adv_pos, 2), round(zone_len, 2), tls, period, lid,
            upstream, round(end - E2_END_GAP, 2) if chain else 0.0,
        )
    )  # fmt: skip
    return specs


def _upstream_chain(lane: sumolib.net.lane.Lane, need: float) -> list[sumolib.net.lane.Lane]:
    """Lanes feeding ``lane`` back for about ``need`` metres, most upstream first.

    At each junction (never a signalized one) the feeder that goes straight on is taken,
    else the longest. Empty when there is no such feeder.
    """
    chain: list[sumolib.net.lane.Lane] = []
    seen = {lane.getID()}
    cur = lane
    while need > 0 and len(chain) < 8:
        node = cur.getEdge().getFromNode()
        if node.getType().startswith("traffic_light"):
            break
        feeders = []
        for conn in _feeding_connections(cur):
            up = conn.getFromLane()
            if _is_vehicle_lane(up) and up.getID() not in seen:
                feeders.append((conn.getDirection() == "s", up.getLength(), up.getID(), up))
        if not feeders:
            break
        up = max(feeders)[3]
        chain.insert(0, up)
        seen.add(up.getID())
        need -= up.getLength()
        cur = up
    return chain


def _feeding_connections(lane: sumolib.net.lane.Lane) -> list:
    return [c for up in lane.getIncoming() for c in up.getOutgoing() if c.getToLane() is lane]


def place_detectors(
    net: NetLike, tls_ids: Iterable[str] | None = None, period: float = 60.0
) -> list[DetectorSpec]:
    """Stop-line, advance and queue detectors for every car or bus lane entering a traffic
    light.

    ``net`` is a :class:`sumolib.net.Net` or a ``.net.xml`` path; ``tls_ids`` restricts the
    placement to some traffic lights (all by default); ``period`` is the aggregation
    interval in seconds. Bus lanes get detectors like car lanes; internal lanes, bicycle
    and tram lanes, sidewalks and crossings get none.
    """
    if period <= 0:
        raise ValueError(f"detector period must be positive, got {period}")
    loaded = _read_net(net)
    specs: list[DetectorSpec] = []
    for tls, lane in tls_incoming_lanes(loaded, tls_ids):
        specs.extend(_place_lane(tls, lane, float(period)))
    return specs


def place_exit_zones(
    net: NetLike, tls_ids: Iterable[str] | None = None, period: float = 60.0
) -> list[DetectorSpec]:
    """An exit zone ``x_<lane>`` (E2) over the first :data:`EXIT_ZONE` m of every car or bus
    lane leaving a traffic light, as radar or video just past the junction gives: vehicles
    standing there mean the exit is blocked (the queue of the next link reaches back to
    the junction). ``tls_ids`` and ``period`` as for :func:`place_detectors`."""
    if period <= 0:
        raise ValueError(f"detector period must be positive, got {period}")
    loaded = _read_net(net)
    wanted = None if tls_ids is None else set(tls_ids)
    specs: list[DetectorSpec] = []
    seen: set[str] = set()
    for tls in sorted(loaded.getTrafficLights(), key=lambda t: t.getID()):
        if wanted is not None and tls.getID() not in wanted:
            continue
        for _, lane, _ in sorted(tls.getConnections(), key=lambda c: c[2]):
            lid = lane.getID()
            if lid in seen or not _is_vehicle_lane(lane):
                continue
            seen.add(lid)
            length = min(EXIT_ZONE, lane.getLength() - E2_END_GAP)
            if length < MIN_EXIT_ZONE:
                continue
            specs.append(
                DetectorSpec(
                    f"x_{lid}", "exit", lid, 0.0, round(length, 2), tls.getID(), period, lid
                )
            )
    return specs


def write_detectors(
    specs: Sequence[DetectorSpec], path: str | os.PathLike[str], output: str = "NUL"
) -> Path:
    """Write ``specs`` as a SUMO additional file at ``path``; detectors write to ``output``."""
    root = ET.Element("additional")
    for s in specs:
        common = {
            "id": s.id,
            "lane": s.lane,
            "pos": f"{s.position:.2f}",
            "period": f"{s.period:g}",
            "file": output,
            "friendlyPos": "true",
        }
        if s.is_e2 and s.upstream_lanes:
            lanes = " ".join((*s.upstream_lanes, s.lane))
            del common["lane"]
            ET.SubElement(
                root,
                "laneAreaDetector",
                {**common, "lanes": lanes, "endPos": f"{s.end_position:.2f}"},
            )
        elif s.is_e2:
            ET.SubElement(root, "laneAreaDetector", {**common, "length": f"{s.length:.2f}"})
        else:
            ET.SubElement(root, "inductionLoop", common)
    ET.indent(root, space="    ")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = ET.tostring(root, encoding="unicode")
    out.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n', encoding="utf-8")
    return out


def _lane_tls(lane: sumolib.net.lane.Lane, max_hops: int = 3) -> tuple[str, str]:
    """``(tls id, incoming lane id)`` reached from ``lane`` along its unique successors."""
    for _ in range(max_hops + 1):
        tls_ids = {c.getTLSID() for c in lane.getOutgoing() if c.getTLSID()}
        if tls_ids:
            return sorted(tls_ids)[0], lane.getID()
        nexts = {c.getToLane() for c in lane.getOutgoing()}
        if len(nexts) != 1:
            break
        lane = nexts.pop()
    return "", ""


def detectors_from_additional(path: str | os.PathLike[str], net: NetLike) -> list[DetectorSpec]:
    """Classify a scenario's own E1 / E2 detectors into stop-line, advance and queue.

    An induction loop within :data:`STOPLINE_ZONE` m of its lane's end is a stop-line loop,
    one further upstream an advance loop; every lane-area detector is a queue zone (a
    multi-lane E2 is reported on its downstream lane). Other elements are ignored. The file
    may be gzipped and ``<include>`` others (see :func:`~signal_opt.sumo.scenario.read_elements`).
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"additional file {str(source)!r} does not exist")
    loaded = _read_net(net)
    specs = []
    for elem in read_elements(source, dict.fromkeys((*_E1, *_E2), _DETECTOR_ATTRS)):
        det_id = elem.id or ""
        lane_ids = (elem.lanes or elem.lane or "").split()
        if not lane_ids:
            raise ValueError(f"detector {det_id!r} in {str(source)!r} names no lane")
        lane_id = lane_ids[-1]
        try:
            lane = loaded.getLane(lane_id)
        except KeyError:
            raise ValueError(
                f"detector {det_id!r} in {str(source)!r} is on lane {lane_id!r}, "
                "which is not in the network"
            ) from None
        length = lane.getLength()
        period_value = elem.period or elem.freq
        period = sumo_time(period_value, f"detector {det_id!r}: period") if period_value else 900.0
        tls, incoming = _lane_tls(lane)

        def _pos(value: str | None, default: float, lane_len: float = length) -> float:
            p = default if value is None else float(value)
            return lane_len + p if p < 0 else p

        if elem.name in _E1:
            pos = min(_pos(elem.pos, 0.0), length)
            kind: DetectorKind = "stopline" if length - pos <= STOPLINE_ZONE else "advance"
            specs.append(DetectorSpec(det_id, kind, lane_id, pos, 0.0, tls, period, incoming))
            continue
        upstream: tuple[str, ...] = ()
        end_position = 0.0
        if len(lane_ids) > 1:
            try:
                lens = [loaded.getLane(i).getLength() for i in lane_ids]
            except KeyError:
                raise ValueError(f"detector {det_id!r} names a lane not in the network") from None
            start = min(_pos(elem.pos, 0.0, lens[0]), lens[0])
            end_position = min(_pos(elem.endPos, length), length)
            zone = (lens[0] - start) + sum(lens[1:-1]) + end_position
            upstream = tuple(lane_ids[:-1])
        else:
            end_attr, pos_attr, len_attr = elem.endPos, elem.pos, elem.length
            if pos_attr is not None and len_attr is not None:
                start = _pos(pos_attr, 0.0)
                zone = float(len_attr)
            elif end_attr is not None and len_attr is not None:
                end = _pos(end_attr, length)
                zone = float(len_attr)
                start = end - zone
            else:
                start = _pos(pos_attr, 0.0)
                zone = _pos(end_attr, length) - start
            start = max(start, 0.0)
            zone = max(min(zone, length - start), 0.0)
        specs.append(
            DetectorSpec(
                det_id,
                "queue",
                lane_id,
                round(start, 2),
                round(zone, 2),
                tls,
                period,
                incoming,
                upstream,
                end_position,
            )
        )
    return specs


def detector_infos(specs: Iterable[DetectorSpec]) -> list[DetectorInfo]:
    """What the demand estimator needs of each detector: the signal's lane it serves, and
    whether it sits on a lane upstream of that one (a short lane's advance loop)."""
    return [
        DetectorInfo(s.id, s.kind, served_lane(s), s.length, served_lane(s) != s.lane)
        for s in specs
    ]
