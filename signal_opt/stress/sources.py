"""Plain SUMO sources (``.nod.xml``, ``.edg.xml``, ``.con.xml``) of a stress layout.

A block with a left bay is two edges: ``<id>`` over most of the block and ``<id>_bay``
(one lane more, the leftmost left only) over its last ``bay`` m, joined at node
``<id>_b``. Lane use at every signal is written out: through lanes continue lane by lane
(merging where the next block has fewer), the rightmost lane also turns right, the left
turn leaves from the bay, the left-only lane or the leftmost (shared) lane. Where a leg is
missing (a T) the lanes are shared out between the two turns.
"""

from __future__ import annotations

import math
from collections import defaultdict
from xml.sax.saxutils import quoteattr

from signal_opt.stress.design import LEFT, RIGHT, Design, Link
from signal_opt.sumo.netbuild import plain_xml

SIDEWALK_WIDTH = 3.0
LANE_WIDTH = 3.2


def _bay_point(design: Design, link: Link) -> tuple[float, float]:
    a, b = design.node(link.src), design.node(link.dst)
    length = math.hypot(b.x - a.x, b.y - a.y)
    t = (length - link.bay) / length
    return a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)


def nodes_xml(design: Design) -> str:
    lines = []
    for n in design.nodes:
        kind = 'type="traffic_light" tlType="static"' if n.signal else 'type="priority"'
        lines.append(f'<node id="{n.id}" x="{n.x:.2f}" y="{n.y:.2f}" {kind}/>')
    for lk in design.links:
        if lk.left == "bay":
            x, y = _bay_point(design, lk)
            lines.append(f'<node id="{lk.id}_b" x="{x:.2f}" y="{y:.2f}" type="priority"/>')
    return plain_xml("nodes", lines)


def _edge(design: Design, eid: str, src: str, dst: str, lk: Link, lanes: int) -> list[str]:
    attrs = (
        f'id="{eid}" from="{src}" to="{dst}" priority="{_priority(lk)}" '
        f'speed="{lk.speed:.2f}" width="{LANE_WIDTH}" name={quoteattr(lk.street)}'
    )
    if not design.sidewalks:
        return [f'<edge {attrs} numLanes="{lanes}"/>']
    return [
        f'<edge {attrs} numLanes="{lanes + 1}" disallow="pedestrian">',
        f'    <lane index="0" allow="pedestrian" width="{SIDEWALK_WIDTH}"/>',
        "</edge>",
    ]


def _priority(lk: Link) -> int:
    return {"arterial": 3, "collector": 2, "local": 1}[lk.road]


def edges_xml(design: Design) -> str:
    lines = []
    for lk in design.links:
        if lk.left == "bay":
            lines += _edge(design, lk.id, lk.src, f"{lk.id}_b", lk, lk.lanes)
            lines += _edge(design, lk.approach, f"{lk.id}_b", lk.dst, lk, lk.lanes + 1)
        else:
            lines += _edge(design, lk.id, lk.src, lk.dst, lk, lk.lanes)
    return plain_xml("edges", lines)


def movement_lanes(link: Link, room: dict[str, int]) -> dict[str, list[int]]:
    """Approach lanes (0 = rightmost vehicle lane) used by each movement at the signal.

    ``room`` is the number of lanes of the block each movement turns into (0 where the
    leg is missing): no movement uses more lanes than it enters, so no two lanes of one
    approach merge inside the junction.
    """
    n = link.lanes
    if link.left == "bay":
        main, left_only = list(range(n)), [n]
    elif link.left == "lane":
        main, left_only = list(range(n - 1)), [n - 1]
    else:
        main, left_only = list(range(n)), []
    if not room["l"]:  # a left-only lane with nowhere to turn runs on with the others
        main, left_only = main + left_only, []
    moves: dict[int, set[str]] = {k: set() for k in main + left_only}
    if room["s"]:
        for k in main:
            moves[k].add("s")
        if room["r"]:
            moves[0].add("r")
        if room["l"]:
            for k in left_only or main[-1:]:
                moves[k].add("l")
    else:  # a T: the lanes are shared out between the two turns
        lanes = main + left_only
        half = math.ceil(len(lanes) / 2)
        if room["r"] and room["l"]:
            right = main if left_only else lanes[:half]
            left = left_only if left_only else (lanes[half:] or lanes)
        else:
            right, left = (lanes, []) if room["r"] else ([], lanes)
        for k in right:
            moves[k].add("r")
        for k in left:
            moves[k].add("l")
    _fit(moves, room)
    return {m: sorted(k for k, ms in moves.items() if m in ms) for m in ("s", "r", "l")}


def _fit(moves: dict[int, set[str]], room: dict[str, int]) -> None:
    """Take movements off lanes until none uses more lanes than it enters.

    A lane that serves another movement as well gives the movement up first; otherwise the
    lane turns to the side that still has room, or (rarely) serves nothing.
    """

    def users(m: str) -> list[int]:
        return sorted(k for k, ms in moves.items() if m in ms)

    for m in ("s", "r", "l"):
        while len(users(m)) > room[m]:
            us = users(m)
            far_first = us[::-1] if m == "r" else us  # lanes farthest from the turn first
            shared = [k for k in far_first if len(moves[k]) > 1]
            if shared:
                moves[shared[0]].discard(m)
                continue
            if m == "s":
                side = [("r", us[0]), ("l", us[-1])]
            else:
                side = [("l" if m == "r" else "r", far_first[0])]
            k = far_first[0]
            for turn, lane in side:
                if len(users(turn)) < room[turn]:
                    k = lane
                    moves[k].add(turn)
                    break
            moves[k].discard(m)


def _targets(lanes: list[int], movement: str, n_out: int) -> list[tuple[int, int]]:
    """(from lane, to lane) pairs: through and right lane by lane from the right, left
    lane by lane from the left."""
    if movement == "l":
        return [(a, n_out - 1 - k) for k, a in enumerate(sorted(lanes, reverse=True))]
    return [(a, k) for k, a in enumerate(sorted(lanes))]


def connections_xml(design: Design) -> str:
    off = 1 if design.sidewalks else 0
    out_of: dict[str, dict[str, Link]] = defaultdict(dict)
    for lk in design.links:
        out_of[lk.src][lk.heading] = lk
    lines = []
    for lk in design.links:
        if lk.left == "bay":  # the bay lane opens off the leftmost lane
            for k in range(lk.lanes):
                lines.append(_con(lk.id, lk.approach, k + off, k + off))
            lines.append(_con(lk.id, lk.approach, lk.lanes - 1 + off, lk.lanes + off))
        if lk.left == "none":
            continue
        outs = out_of[lk.dst]
        to = {
            "s": outs.get(lk.heading),
            "r": outs.get(RIGHT[lk.heading]),
            "l": outs.get(LEFT[lk.heading]),
        }
        use = movement_lanes(lk, {m: t.lanes if t else 0 for m, t in to.items()})
        for movement in ("s", "r", "l"):
            target = to[movement]
            if target is None:
                continue
            for a, b in _targets(use[movement], movement, target.lanes):
                lines.append(_con(lk.approach, target.id, a + off, b + off))
    return plain_xml("connections", lines)


def _con(a: str, b: str, la: int, lb: int) -> str:
    return f'<connection from="{a}" to="{b}" fromLane="{la}" toLane="{lb}"/>'
