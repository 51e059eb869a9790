"""Read a SUMO ``.net.xml`` into the intersection model (:mod:`signal_opt.model`).

For every traffic light: its controlled links, lane groups (links of one approach that get
green in the same stages), stages (green phases) with the intergreen phases that follow
them, minimum greens (pedestrian crossing time included), cycle bounds, and the conflict
relation between links taken from the junctions' ``foes`` matrices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sumolib

from signal_opt.model import (
    GREEN_STATES,
    Intersection,
    LaneGroup,
    Link,
    Phase,
    Stage,
)
from signal_opt.sumo.running import Program, running_programs
from signal_opt.sumo.stages import ProgramNotModelled, split_stages


class NetworkError(ValueError):
    """A network that cannot be used (unreadable, or without traffic lights)."""


@dataclass(frozen=True)
class TimingRules:
    """Engineering defaults applied when a network's own program does not say.

    Saturation flows follow HCM practice (1,800 veh/h/lane for a through lane with ~12 %
    trucks, reduced for turns). Pedestrian time is walk plus crossing length at 1.2 m/s,
    of which the part after the walk may overlap the intergreen.
    """

    min_green: float = 7.0
    min_green_floor: float = 4.0
    ped_walk: float = 5.0
    ped_speed: float = 1.2
    cycle_min: float = 40.0
    cycle_max: float = 150.0
    saturation_per_lane: float = 1800.0
    left_factor: float = 0.92
    right_factor: float = 0.85
    permitted_factor: float = 0.5
    uturn_factor: float = 0.5

    def pedestrian_time(self, crossing_length: float) -> float:
        """Walk plus clearance (s) for a crossing ``crossing_length`` m long."""
        return self.ped_walk + crossing_length / self.ped_speed


def read_net(path: str | Path) -> sumolib.net.Net:
    """Read ``path`` with programs and pedestrian connections; clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"network file not found: {path}")
    try:
        return sumolib.net.readNet(
            str(path), withPrograms=True, withPedestrianConnections=True, withInternal=True
        )
    except Exception as exc:  # sumolib raises bare xml / key errors
        raise NetworkError(f"cannot read network {path}: {exc}") from exc


@dataclass(frozen=True)
class SignalModels:
    """Every traffic light of a network: the model of each one signal-opt controls, the
    program it was modelled from, and the lights left running their own program."""

    intersections: list[Intersection]
    programs: dict[str, Program]
    """The program each light runs at the start (see :mod:`signal_opt.sumo.running`)."""
    unmodelled: dict[str, str]
    """``{tls_id: reason}`` of lights whose program the model cannot represent safely;
    they keep running it under every strategy."""

    def report(self) -> dict[str, dict[str, object]]:
        """Per light: program id, type and file, stages modelled or why not (for
        ``metrics.json``)."""
        stages = {x.id: len(x.stages) for x in self.intersections}
        out: dict[str, dict[str, object]] = {}
        for tls_id, program in sorted(self.programs.items()):
            row: dict[str, object] = {
                "program": program.program_id,
                "type": program.type,
                "source": Path(program.source).name,
            }
            if tls_id in stages:
                row["stages"] = stages[tls_id]
            else:
                row["not_modelled"] = self.unmodelled.get(tls_id, "not requested")
            out[tls_id] = row
        return out


def load_signals(
    net: sumolib.net.Net | str | Path,
    additional_files: Iterable[str | Path] = (),
    rules: TimingRules | None = None,
    net_file: str | Path | None = None,
) -> SignalModels:
    """Models of every traffic light, each from the program it runs at the start (the
    last one loaded from the network, then ``additional_files`` in order)."""
    if not isinstance(net, sumolib.net.Net):
        net_file = net
        net = read_net(net)
    rules = rules or TimingRules()
    programs = running_programs(net, net_file or "net", additional_files)
    if not programs:
        raise NetworkError("the network has no traffic lights")
    lights = {tls.getID(): tls for tls in net.getTrafficLights()}
    out = []
    unmodelled = {}
    for tls_id in sorted(programs):
        try:
            out.append(_intersection(net, lights[tls_id], programs[tls_id], rules))
        except ProgramNotModelled as exc:
            unmodelled[tls_id] = str(exc)
    if not out:
        reasons = "; ".join(f"{k}: {v}" for k, v in unmodelled.items())
        raise NetworkError(f"no traffic light has a program the model can represent ({reasons})")
    return SignalModels(out, programs, unmodelled)


def load_intersections(
    net: sumolib.net.Net | str | Path,
    tls_ids: Iterable[str] | None = None,
    rules: TimingRules | None = None,
    additional_files: Iterable[str | Path] = (),
) -> list[Intersection]:
    """Intersection model of every traffic light in ``net`` (or of ``tls_ids``) that the
    model can represent, sorted by id (see :func:`load_signals`)."""
    models = load_signals(net, additional_files, rules)
    if tls_ids is None:
        return models.intersections
    wanted = list(tls_ids)
    by_id = {x.id: x for x in models.intersections}
    missing = [t for t in wanted if t not in models.programs]
    if missing:
        raise NetworkError(f"unknown traffic light id(s): {', '.join(missing)}")
    refused = [f"{t} ({models.unmodelled[t]})" for t in wanted if t not in by_id]
    if refused:
        raise NetworkError(f"traffic light(s) the model cannot represent: {', '.join(refused)}")
    return [by_id[t] for t in wanted]


def _direction(net: sumolib.net.Net, in_lane: sumolib.net.lane.Lane, out_lane) -> str:
    for conn in in_lane.getOutgoing():
        if conn.getToLane() is out_lane:
            return conn.getDirection()
    return "s"


def _junction_indices(node) -> dict[tuple[str, str], int]:
    """Junction request index of every connection ``(from_lane, to_lane)`` at ``node``.

    Mirrors SUMO's numbering (and :meth:`sumolib.net.node.Node.getLinkIndex`), computed
    once per node instead of once per query.
    """
    index: dict[tuple[str, str], int] = {}
    i = 0
    for lane_id in node._incLanes:
        edge_id, _, lane_no = lane_id.rpartition("_")
        edges = [e for e in node.getIncoming() if e.getID() == edge_id]
        if not edges:
            continue
        for conn in edges[0].getLane(int(lane_no)).getOutgoing():
            from_fn = conn.getFromLane().getEdge().getFunction()
            to_fn = conn.getToLane().getEdge().getFunction()
            if to_fn == "walkingarea" or (from_fn == "walkingarea" and to_fn != "crossing"):
                continue
            index[(conn.getFromLane().getID(), conn.getToLane().getID())] = i
            i += 1
    return index


def _conflicts(links: list[Link], nodes: dict[int, Any]) -> frozenset[tuple[int, int]]:
    """Pairs of link indices whose connections cross (junction ``foes``)."""
    by_node: dict[str, list[tuple[int, int]]] = defaultdict(list)
    node_objs = {}
    cache: dict[str, dict[tuple[str, str], int]] = {}
    for link in links:
        node = nodes[link.index]
        nid = node.getID()
        node_objs[nid] = node
        if nid not in cache:
            cache[nid] = _junction_indices(node)
        j = cache[nid].get((link.from_lane, link.to_lane))
        if j is not None:
            by_node[nid].append((link.index, j))
    links_by_index = {lk.index: lk for lk in links}
    pairs = set()
    for nid, entries in by_node.items():
        node = node_objs[nid]
        for a, (li, ji) in enumerate(entries):
            for lk, jk in entries[a + 1 :]:
                if li == lk or links_by_index[li].from_edge == links_by_index[lk].from_edge:
                    continue  # lanes of one approach merging are not a crossing conflict
                try:
                    foe = node.areFoes(ji, jk) or node.areFoes(jk, ji)
                except (KeyError, IndexError):
                    foe = False
                if foe:
                    pairs.add((min(li, lk), max(li, lk)))
    return frozenset(pairs)


def _intersection(net, tls, program: Program, rules: TimingRules) -> Intersection:
    split = split_stages(program.phases, program.type, program.jumps)
    offset = program.offset + split.shift  # the cycle starts with the first stage
    links, nodes = _links(net, tls)
    n_state = len(program.phases[0].state)
    links = [lk for lk in links if lk.index < n_state]
    conflicts = _conflicts(links, nodes)
    for stage in split.stages:
        for i, j in conflicts:
            if stage.green.state[i] == "G" and stage.green.state[j] == "G":
                raise ProgramNotModelled(
                    f"phase {stage.phase_index} shows conflicting links {i} and {j} both green"
                )
    groups = _lane_groups(links, [s.green for s in split.stages], rules, conflicts)
    stages = []
    for k, sp in enumerate(split.stages):
        served = tuple(g for g, group in enumerate(groups) if _serves(sp.green.state, group.links))
        next_state = split.stages[(k + 1) % len(split.stages)].green.state
        intergreen = list(sp.intergreen)
        min_green, walk_min, vehicle_min = _min_green(
            sp.green, intergreen, next_state, links, rules
        )
        stages.append(
            Stage(
                phase_index=sp.phase_index,
                state=sp.green.state,
                lane_groups=served,
                min_green=min_green,
                base_green=sp.green.duration,
                intergreen=tuple(intergreen),
                vehicle_min_green=vehicle_min,
                walk_min_green=walk_min,
            )
        )
    lost = sum(s.intergreen_time for s in stages)
    feasible = sum(s.min_green for s in stages) + lost
    node_list = sorted({n.getID() for n in nodes.values()})
    xs = [net.getNode(n).getCoord()[0] for n in node_list]
    ys = [net.getNode(n).getCoord()[1] for n in node_list]
    return Intersection(
        id=tls.getID(),
        program_id=program.program_id,
        links=tuple(links),
        lane_groups=tuple(groups),
        stages=tuple(stages),
        lead_phases=(),
        conflicts=conflicts,
        base_offset=offset,
        cycle_min=max(rules.cycle_min, feasible),
        cycle_max=max(rules.cycle_max, feasible),
        node_ids=tuple(node_list),
        x=sum(xs) / len(xs) if xs else 0.0,
        y=sum(ys) / len(ys) if ys else 0.0,
    )


def _links(net, tls) -> tuple[list[Link], dict[int, Any]]:
    links: dict[int, Link] = {}
    nodes: dict[int, Any] = {}
    for in_lane, out_lane, index in tls.getConnections():
        if index in links:
            continue
        in_edge = in_lane.getEdge()
        out_edge = out_lane.getEdge()
        crossing = out_edge.getFunction() == "crossing" or in_edge.getFunction() == "crossing"
        links[index] = Link(
            index=index,
            from_edge=in_edge.getID(),
            from_lane=in_lane.getID(),
            to_edge=out_edge.getID(),
            to_lane=out_lane.getID(),
            direction="c" if crossing else _direction(net, in_lane, out_lane),
            is_crossing=crossing,
            crossing_length=float((out_lane if crossing else in_lane).getLength())
            if crossing
            else 0.0,
        )
        nodes[index] = (
            in_edge.getToNode() if not crossing else _crossing_node(net, in_lane, out_lane)
        )
    return [links[i] for i in sorted(links)], nodes


def _crossing_node(net, in_lane, out_lane):
    for lane in (out_lane, in_lane):
        edge = lane.getEdge()
        if edge.getFunction() == "crossing":
            return edge.getFromNode()
    return in_lane.getEdge().getToNode()


def _signature(states: list[str], link_index: int) -> tuple[int, ...]:
    return tuple({"G": 2, "g": 1}.get(s[link_index], 0) for s in states)


def _serves(state: str, link_indices: Iterable[int]) -> bool:
    return any(state[i] in GREEN_STATES for i in link_indices)


_MOVEMENT = {"s": "through", "l": "left", "L": "left", "r": "right", "R": "right", "t": "uturn"}


def _opposed(
    members: list[Link],
    states: list[str],
    conflicts: frozenset[tuple[int, int]],
    crossings: frozenset[int] = frozenset(),
) -> bool:
    """Does a yielding (``g``) movement face a priority vehicle green it must wait for?

    Pedestrian crossings do not count: their volume is unknown to the detectors, and a
    turn yielding to light pedestrian traffic loses little of its saturation flow.
    """
    for state in states:
        for link in members:
            if state[link.index] != "g":
                continue
            for i, j in conflicts:
                other = j if i == link.index else i if j == link.index else None
                if other is not None and other not in crossings and state[other] == "G":
                    return True
    return False


def _lane_groups(
    links: list[Link],
    stage_phases: list[Phase],
    rules: TimingRules,
    conflicts: frozenset[tuple[int, int]],
) -> list[LaneGroup]:
    states = [p.state for p in stage_phases]
    crossings = frozenset(lk.index for lk in links if lk.is_crossing)
    keyed: dict[tuple[str, tuple[int, ...]], list[Link]] = defaultdict(list)
    for link in links:
        if link.is_crossing:
            continue
        sig = _signature(states, link.index)
        if not any(sig):
            continue  # never green in any stage (e.g. a permanently red link)
        keyed[(link.from_edge, sig)].append(link)
    lane_users: dict[str, set[tuple[str, tuple[int, ...]]]] = defaultdict(set)
    for key, members in keyed.items():
        for link in members:
            lane_users[link.from_lane].add(key)
    groups: list[LaneGroup] = []
    for (edge, sig), members in sorted(keyed.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        lanes = sorted({lk.from_lane for lk in members})
        shares = tuple(1.0 / len(lane_users[lane]) for lane in lanes)
        counts: dict[str, int] = defaultdict(int)
        for link in members:
            counts[_MOVEMENT.get(link.direction, "through")] += 1
        movement = max(sorted(counts), key=lambda m: counts[m])
        factor = {
            "through": 1.0,
            "left": rules.left_factor,
            "right": rules.right_factor,
            "uturn": rules.uturn_factor,
        }[movement]
        if max(sig) == 1 and _opposed(members, states, conflicts, crossings):
            factor *= rules.permitted_factor  # only ever yields to opposing traffic
        sat = rules.saturation_per_lane * sum(shares) * factor
        gid = f"{edge}:{movement}"
        if any(g.id == gid for g in groups):
            gid = f"{gid}:{len(groups)}"
        groups.append(
            LaneGroup(
                id=gid,
                approach=edge,
                links=tuple(lk.index for lk in members),
                lanes=tuple(lanes),
                lane_shares=shares,
                movement=movement,
                saturation_flow=sat,
            )
        )
    return groups


def _min_green(
    phase: Phase, intergreen: list[Phase], next_state: str, links: list[Link], rules: TimingRules
) -> tuple[float, float, float]:
    """Minimum greens (s): in the program's order, with the walk when any stage may
    follow, and for vehicles alone (crossings red)."""
    # The rule's minimum, never above a green the program itself gives a short phase (an
    # engineered 3 s leading arrow stays possible), never below the program's own minDur.
    vehicle = max(rules.min_green_floor, min(rules.min_green, phase.duration))
    vehicle = min(vehicle, phase.duration)
    if phase.min_dur is not None:
        vehicle = max(vehicle, min(phase.min_dur, phase.duration))
    ped = walk = 0.0
    clearance_overlap = sum(p.duration for p in intergreen)
    for link in links:
        if link.is_crossing and phase.state[link.index] in GREEN_STATES:
            needed = rules.pedestrian_time(link.crossing_length) - clearance_overlap
            walk = max(walk, needed)
            if next_state[link.index] not in GREEN_STATES:
                ped = max(ped, needed)  # else the crossing stays green into the next stage
    return float(max(vehicle, ped)), float(max(vehicle, walk)), float(vehicle)
