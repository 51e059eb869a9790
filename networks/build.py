"""Build the bundled Yizhuang-like SUMO networks from plain XML sources.

Usage::

    python networks/build.py                 # every network
    python networks/build.py yizhuang_core   # just one

For each network ``NAME`` this writes

- ``networks/NAME/src/NAME.{nod,edg,typ,con,tll}.xml``: the plain SUMO sources,
- ``networks/NAME/NAME.net.xml``: netconvert's output from those sources,
- ``networks/NAME/NAME.det.add.xml``: stop-line, advance and queue detectors,
- ``networks/NAME/demand.json``: the demand spec read by ``signal_opt.sumo.demand``.

The signal programs are four-stage with protected lefts ([N-S through + right,
N-S left, E-W through + right, E-W left], each followed by yellow and all-red). They are
derived from the junction's own connections in a first netconvert pass, checked against
the junction's foe matrix, written to ``NAME.tll.xml`` and compiled in a second pass, so
``netconvert`` on the ``src`` files alone reproduces the network (program derivation and
checks: ``signal_opt.sumo.netbuild``, shared with the generated stress networks).

The output is deterministic: netconvert runs with ``SOURCE_DATE_EPOCH`` fixed and relative
paths, and everything else is generated in a fixed order.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import sumolib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from signal_opt.sumo.detectors import place_detectors, write_detectors  # noqa: E402
from signal_opt.sumo.netbuild import (  # noqa: E402
    check_programs,
    four_stage_tll,
    plain_xml,
)
from signal_opt.sumo.netbuild import run_netconvert as run_netconvert_cmd  # noqa: E402

KMH = 1 / 3.6
LANE_WIDTH = 3.2
SIDEWALK_WIDTH = 3.0


@dataclass(frozen=True)
class RoadType:
    id: str
    lanes: int
    """Vehicle lanes per direction, the leftmost one a left-turn lane."""
    speed: float
    priority: int


ARTERIAL = RoadType("arterial", 4, 60 * KMH, 3)
COLLECTOR50 = RoadType("collector50", 3, 50 * KMH, 2)
COLLECTOR40 = RoadType("collector40", 3, 40 * KMH, 2)
TYPES = (ARTERIAL, COLLECTOR50, COLLECTOR40)


@dataclass(frozen=True)
class Street:
    code: str
    name: str
    type: RoadType


@dataclass(frozen=True)
class GridDesign:
    """An orthogonal grid: E-W streets (south to north) crossing N-S streets (west to east)."""

    name: str
    ew: tuple[Street, ...]
    ns: tuple[Street, ...]
    xs: tuple[float, ...]
    """x of each N-S street, west to east (m)."""
    ys: tuple[float, ...]
    """y of each E-W street, south to north (m)."""
    fringe_w: float
    fringe_e: float
    fringe_s: float
    fringe_n: float
    sidewalks: bool
    description: str
    base_green: tuple[float, float, float, float] = (24.0, 24.0, 24.0, 24.0)
    """Greens of the base program: N-S through, N-S left, E-W through, E-W left (s)."""


def _s(code: str, name: str, rtype: RoadType) -> Street:
    return Street(code, name, rtype)


CORE = GridDesign(
    name="yizhuang_core",
    ew=(
        _s("KC8", "Kechuang 8th St", COLLECTOR50),
        _s("KC6", "Kechuang 6th St", ARTERIAL),
        _s("ZH", "Zhonghe St", COLLECTOR40),
        _s("RJE", "Rongjing East St", ARTERIAL),
    ),
    ns=(
        _s("HDN", "Hongda North Rd", ARTERIAL),
        _s("TJN", "Tongji North Rd", COLLECTOR50),
        _s("JH", "Jinghai Rd", ARTERIAL),
        _s("BX6", "Boxing 6th Rd", COLLECTOR40),
    ),
    xs=(400.0, 1000.0, 1450.0, 2150.0),
    ys=(450.0, 1100.0, 1480.0, 1980.0),
    fringe_w=0.0,
    fringe_e=2550.0,
    fringe_s=0.0,
    fringe_n=2400.0,
    sidewalks=True,
    description=(
        "4 x 4 grid (16 signals) of two 60 km/h arterials (3 through lanes + a left lane) "
        "and two 40-50 km/h collectors (2 + a left lane) each way; blocks 380-700 m; "
        "sidewalks and signalized pedestrian crossings"
    ),
)

CORRIDOR = GridDesign(
    name="yizhuang_corridor",
    ew=(_s("RJE", "Rongjing East St", ARTERIAL),),
    ns=(
        _s("HDN", "Hongda North Rd", COLLECTOR50),
        _s("YCN", "Yongchang North Rd", COLLECTOR50),
        _s("TJN", "Tongji North Rd", COLLECTOR50),
        _s("JH", "Jinghai Rd", COLLECTOR50),
        _s("BX2", "Boxing 2nd Rd", COLLECTOR40),
        _s("BX4", "Boxing 4th Rd", COLLECTOR40),
        _s("BX6", "Boxing 6th Rd", COLLECTOR40),
    ),
    xs=(400.0, 800.0, 1210.0, 1600.0, 2000.0, 2420.0, 2800.0),
    ys=(400.0,),
    fringe_w=0.0,
    fringe_e=3200.0,
    fringe_s=0.0,
    fringe_n=800.0,
    sidewalks=True,
    description=(
        "Rongjing East St, a 60 km/h arterial (3 through lanes + a left lane each way) "
        "with 7 signals 380-420 m apart, crossed by 2-lane (+ left lane) side streets; "
        "a green-wave case"
    ),
    base_green=(22.0, 10.0, 44.0, 14.0),
)

_DISTRICT_EW = (
    ("KC12", "Kechuang 12th St", COLLECTOR40),
    ("KC10", "Kechuang 10th St", COLLECTOR50),
    ("KC8", "Kechuang 8th St", ARTERIAL),
    ("KC6", "Kechuang 6th St", COLLECTOR50),
    ("KC4", "Kechuang 4th St", COLLECTOR40),
    ("KC2", "Kechuang 2nd St", ARTERIAL),
    ("KD", "Kangding St", COLLECTOR50),
    ("ZH", "Zhonghe St", COLLECTOR40),
    ("RJE", "Rongjing East St", ARTERIAL),
    ("RCE", "Rongchang East St", COLLECTOR50),
)
_DISTRICT_NS = (
    ("HDN", "Hongda North Rd", ARTERIAL),
    ("YCN", "Yongchang North Rd", COLLECTOR50),
    ("TJN", "Tongji North Rd", COLLECTOR40),
    ("JH", "Jinghai Rd", ARTERIAL),
    ("BX1", "Boxing 1st Rd", COLLECTOR50),
    ("BX2", "Boxing 2nd Rd", COLLECTOR40),
    ("BX4", "Boxing 4th Rd", ARTERIAL),
    ("BX6", "Boxing 6th Rd", COLLECTOR50),
    ("BX8", "Boxing 8th Rd", COLLECTOR40),
    ("JB", "Jingbei Rd", ARTERIAL),
)


def _positions(start: float, gaps: Iterable[float]) -> tuple[float, ...]:
    out = [start]
    for gap in gaps:
        out.append(out[-1] + gap)
    return tuple(out)


DISTRICT = GridDesign(
    name="yizhuang_district",
    ew=tuple(_s(*s) for s in _DISTRICT_EW),
    ns=tuple(_s(*s) for s in _DISTRICT_NS),
    xs=_positions(350.0, (420, 380, 450, 400, 360, 430, 390, 440, 370)),
    ys=_positions(350.0, (400, 360, 430, 380, 450, 370, 410, 390, 360)),
    fringe_w=0.0,
    fringe_e=350.0 + 3640.0 + 350.0,
    fringe_s=0.0,
    fringe_n=350.0 + 3550.0 + 350.0,
    sidewalks=False,
    description=(
        "10 x 10 grid (100 signals): four 60 km/h arterials each way (3 + a left lane), "
        "collectors 40-50 km/h (2 + a left lane), blocks 360-450 m, no pedestrian crossings"
    ),
)

DESIGNS = {d.name: d for d in (CORE, CORRIDOR, DISTRICT)}


# ---------------------------------------------------------------------------------------
# plain XML sources


def node_id(ew: Street, ns: Street) -> str:
    return f"{ew.code}-{ns.code}"


def _ew_points(d: GridDesign) -> list[float]:
    return [d.fringe_w, *d.xs, d.fringe_e]


def _ns_points(d: GridDesign) -> list[float]:
    return [d.fringe_s, *d.ys, d.fringe_n]


def _ew_node(d: GridDesign, st: Street, i: int) -> str:
    """Node at point ``i`` of E-W street ``st`` (0 = west fringe)."""
    if i == 0:
        return f"{st.code}-W"
    if i == len(d.xs) + 1:
        return f"{st.code}-E"
    return node_id(st, d.ns[i - 1])


def _ns_node(d: GridDesign, st: Street, i: int) -> str:
    if i == 0:
        return f"{st.code}-S"
    if i == len(d.ys) + 1:
        return f"{st.code}-N"
    return node_id(d.ew[i - 1], st)


@dataclass(frozen=True)
class EdgeDef:
    id: str
    src: str
    dst: str
    street: Street


def edge_defs(d: GridDesign) -> list[EdgeDef]:
    """Every edge, ids ``<street>_<heading><segment>`` (segment 0 touches the W/S fringe)."""
    edges = []
    for st in d.ew:
        for i in range(len(d.xs) + 1):
            a, b = _ew_node(d, st, i), _ew_node(d, st, i + 1)
            edges.append(EdgeDef(f"{st.code}_E{i}", a, b, st))
            edges.append(EdgeDef(f"{st.code}_W{i}", b, a, st))
    for st in d.ns:
        for i in range(len(d.ys) + 1):
            a, b = _ns_node(d, st, i), _ns_node(d, st, i + 1)
            edges.append(EdgeDef(f"{st.code}_N{i}", a, b, st))
            edges.append(EdgeDef(f"{st.code}_S{i}", b, a, st))
    return edges


def nodes_xml(d: GridDesign) -> str:
    lines = []
    for r, ew in enumerate(d.ew):
        for c, ns in enumerate(d.ns):
            lines.append(
                f'<node id="{node_id(ew, ns)}" x="{d.xs[c]:.2f}" y="{d.ys[r]:.2f}" '
                'type="traffic_light" tlType="static"/>'
            )
    for r, ew in enumerate(d.ew):
        lines.append(
            f'<node id="{ew.code}-W" x="{d.fringe_w:.2f}" y="{d.ys[r]:.2f}" type="priority"/>'
        )
        lines.append(
            f'<node id="{ew.code}-E" x="{d.fringe_e:.2f}" y="{d.ys[r]:.2f}" type="priority"/>'
        )
    for c, ns in enumerate(d.ns):
        lines.append(
            f'<node id="{ns.code}-S" x="{d.xs[c]:.2f}" y="{d.fringe_s:.2f}" type="priority"/>'
        )
        lines.append(
            f'<node id="{ns.code}-N" x="{d.xs[c]:.2f}" y="{d.fringe_n:.2f}" type="priority"/>'
        )
    return plain_xml("nodes", lines)


def types_xml() -> str:
    lines = [
        f'<type id="{t.id}" priority="{t.priority}" numLanes="{t.lanes}" speed="{t.speed:.2f}" '
        f'width="{LANE_WIDTH}" disallow="pedestrian"/>'
        for t in TYPES
    ]
    return plain_xml("types", lines)


def edges_xml(d: GridDesign) -> str:
    lines = []
    for e in edge_defs(d):
        attrs = (
            f'id="{e.id}" from="{e.src}" to="{e.dst}" type="{e.street.type.id}" '
            f"name={quoteattr(e.street.name)}"
        )
        if d.sidewalks:
            lines.append(f'<edge {attrs} numLanes="{e.street.type.lanes + 1}">')
            lines.append(f'    <lane index="0" allow="pedestrian" width="{SIDEWALK_WIDTH}"/>')
            lines.append("</edge>")
        else:
            lines.append(f"<edge {attrs}/>")
    return plain_xml("edges", lines)


def connections_xml(d: GridDesign) -> str:
    """Lane-to-lane connections at every signal: lanes 0..n-2 through (lane 0 also right),
    lane n-1 (leftmost) left only, into the left lane of the target edge."""
    off = 1 if d.sidewalks else 0
    lines = []
    for r, ew in enumerate(d.ew):
        for c, ns in enumerate(d.ns):
            approaches = {
                # heading: (incoming, through, right, left) edges
                "E": (
                    f"{ew.code}_E{c}",
                    f"{ew.code}_E{c + 1}",
                    f"{ns.code}_S{r}",
                    f"{ns.code}_N{r + 1}",
                ),
                "W": (
                    f"{ew.code}_W{c + 1}",
                    f"{ew.code}_W{c}",
                    f"{ns.code}_N{r + 1}",
                    f"{ns.code}_S{r}",
                ),
                "N": (
                    f"{ns.code}_N{r}",
                    f"{ns.code}_N{r + 1}",
                    f"{ew.code}_E{c + 1}",
                    f"{ew.code}_W{c}",
                ),
                "S": (
                    f"{ns.code}_S{r + 1}",
                    f"{ns.code}_S{r}",
                    f"{ew.code}_W{c}",
                    f"{ew.code}_E{c + 1}",
                ),
            }
            lanes = {"E": ew.type.lanes, "W": ew.type.lanes, "N": ns.type.lanes, "S": ns.type.lanes}
            cross = {"E": "N", "W": "N", "N": "E", "S": "E"}  # heading of the crossing street
            for heading, (inc, thr, right, left) in approaches.items():
                n = lanes[heading]
                n_cross = lanes[cross[heading]]
                for k in range(n - 1):
                    lines.append(_con(inc, thr, k + off, k + off))
                lines.append(_con(inc, right, off, off))
                lines.append(_con(inc, left, n - 1 + off, n_cross - 1 + off))
    return plain_xml("connections", lines)


def _con(a: str, b: str, la: int, lb: int) -> str:
    return f'<connection from="{a}" to="{b}" fromLane="{la}" toLane="{lb}"/>'


# ---------------------------------------------------------------------------------------
# netconvert


def netconvert_options(d: GridDesign, name: str, with_tll: bool, output: str) -> list[str]:
    src = f"src/{name}"
    opts = [
        sumolib.checkBinary("netconvert"),
        "--node-files", f"{src}.nod.xml",
        "--edge-files", f"{src}.edg.xml",
        "--type-files", f"{src}.typ.xml",
        "--connection-files", f"{src}.con.xml",
    ]  # fmt: skip
    if with_tll:
        opts += ["--tllogic-files", f"{src}.tll.xml"]
    opts += [
        "--no-turnarounds", "true",
        "--offset.disable-normalization", "true",
        "--output.street-names", "true",
        "--tls.default-type", "static",
        "--junctions.corner-detail", "5",
        "--no-warnings", "true",
        "--output-file", output,
    ]  # fmt: skip
    if d.sidewalks:
        opts += ["--crossings.guess", "true"]
    return opts


def run_netconvert(d: GridDesign, out_dir: Path, with_tll: bool, output: str) -> Path:
    cmd = netconvert_options(d, d.name, with_tll, output)
    return run_netconvert_cmd(cmd, out_dir, output, d.name)


# ---------------------------------------------------------------------------------------
# demand spec

# hourly factors (hour h covers h:00-h+1:00), each profile peaks at 1.0
PROFILES: dict[str, list[float]] = {
    # tidal commute into the employment zones, out of them in the evening
    "am_in": [0.02, 0.01, 0.01, 0.01, 0.03, 0.10, 0.45, 1.00, 0.80, 0.35, 0.20, 0.18,
              0.20, 0.20, 0.18, 0.15, 0.12, 0.10, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02],
    "pm_out": [0.04, 0.02, 0.01, 0.01, 0.01, 0.03, 0.06, 0.10, 0.12, 0.15, 0.18, 0.20,
               0.22, 0.20, 0.20, 0.25, 0.50, 1.00, 0.70, 0.35, 0.20, 0.12, 0.08, 0.06],
    # three-shift factories: arrivals before 7:00, 15:00, 23:00; departures after
    "shift_in": [0.02, 0.01, 0.01, 0.01, 0.02, 0.10, 0.70, 0.10, 0.02, 0.02, 0.02, 0.02,
                 0.02, 0.15, 1.00, 0.10, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.50, 0.05],
    "shift_out": [0.02, 0.01, 0.01, 0.01, 0.02, 0.02, 0.05, 0.70, 0.10, 0.02, 0.02, 0.02,
                  0.02, 0.02, 0.05, 1.00, 0.15, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.50],
    "through": [0.10, 0.06, 0.05, 0.05, 0.08, 0.20, 0.50, 0.90, 0.80, 0.60, 0.55, 0.55,
                0.55, 0.55, 0.60, 0.65, 0.75, 0.95, 0.80, 0.55, 0.40, 0.30, 0.20, 0.15],
    "local": [0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.25, 0.45, 0.55, 0.70, 0.80, 0.95,
              1.00, 0.90, 0.80, 0.75, 0.70, 0.75, 0.65, 0.50, 0.40, 0.30, 0.15, 0.08],
    "freight": [0.10, 0.10, 0.10, 0.10, 0.20, 0.40, 0.60, 0.70, 0.80, 0.90, 1.00, 1.00,
                0.90, 1.00, 1.00, 0.90, 0.80, 0.60, 0.50, 0.40, 0.30, 0.20, 0.15, 0.10],
}  # fmt: skip

SIDE_WEIGHT = {"arterial": 3.0, "collector50": 1.5, "collector40": 1.0}
STRAIGHT_WEIGHT = {"arterial": 1.0, "collector50": 0.3, "collector40": 0.2}


def _street_ends(d: GridDesign) -> dict[str, list[tuple[str, str, Street]]]:
    """Per side of the grid: (entry edge, exit edge, street) of every street ending there."""
    n_x, n_y = len(d.xs), len(d.ys)
    return {
        "west": [(f"{s.code}_E0", f"{s.code}_W0", s) for s in d.ew],
        "east": [(f"{s.code}_W{n_x}", f"{s.code}_E{n_x}", s) for s in d.ew],
        "south": [(f"{s.code}_N0", f"{s.code}_S0", s) for s in d.ns],
        "north": [(f"{s.code}_S{n_y}", f"{s.code}_N{n_y}", s) for s in d.ns],
    }


def fringe_zones(d: GridDesign) -> dict[str, dict[str, object]]:
    """A zone per side (entries weighted by road class) and one per street end ``side:CODE``."""
    zones: dict[str, dict[str, object]] = {}
    for side, ends in _street_ends(d).items():
        zones[side] = {
            "kind": "fringe",
            "sources": {src: SIDE_WEIGHT[s.type.id] for src, _, s in ends},
            "sinks": {snk: SIDE_WEIGHT[s.type.id] for _, snk, s in ends},
        }
    for side, ends in _street_ends(d).items():
        for src, snk, st in ends:
            zones[f"{side}:{st.code}"] = {
                "kind": "fringe",
                "sources": {src: 1.0},
                "sinks": {snk: 1.0},
            }
    return zones


def interior_zones(
    d: GridDesign, boxes: dict[str, list[tuple[float, float, float, float]]]
) -> dict[str, dict[str, object]]:
    """Zones of interior block edges whose two ends lie in one of the zone's boxes.

    Boxes are ``(x0, y0, x1, y1)``; an edge goes to the first zone (in order) that takes it.
    Trips start and end anywhere along these blocks (driveways, factory gates).
    """
    coords: dict[str, tuple[float, float]] = {}
    for r, ew in enumerate(d.ew):
        for c, ns in enumerate(d.ns):
            coords[node_id(ew, ns)] = (d.xs[c], d.ys[r])
    taken: set[str] = set()
    zones: dict[str, dict[str, object]] = {}
    for name, zone_boxes in boxes.items():
        edges = []
        for e in edge_defs(d):
            if e.id in taken or e.src not in coords or e.dst not in coords:
                continue
            ends = (coords[e.src], coords[e.dst])
            if any(
                all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in ends)
                for x0, y0, x1, y1 in zone_boxes
            ):
                edges.append(e.id)
                taken.add(e.id)
        weights = {e: 1.0 for e in edges}
        zones[name] = {
            "kind": "interior",
            "sources": weights,
            "sinks": dict(weights),
            "depart_pos": "random_free",
            "arrival_pos": "random",
        }
    return zones


def _flow(src: str, dst: str, rate: float, profile: str, trucks: float) -> dict[str, object]:
    return {
        "from": src,
        "to": dst,
        "rate": round(rate, 1),
        "profile": profile,
        "truck_share": trucks,
    }


def grid_flows(
    d: GridDesign,
    sides: dict[str, float],
    employment: dict[str, float],
    commute: float,
    through: float,
) -> list[dict[str, object]]:
    """Flows of a grid with zones ``residential``, ``industrial``, ``commercial``.

    Straight through traffic along every street (``through`` veh/h on an arterial), a tidal
    commute of ``commute * side weight`` veh/h from each side into the employment zones
    (shared as ``employment``) and back in the evening, residents' commute, the factory
    shift change, freight to and from the industrial zone, and local midday trips.
    """
    flows = []
    opposite = {"west": "east", "east": "west", "south": "north", "north": "south"}
    for side, ends in _street_ends(d).items():
        for _, _, st in ends:
            rate = through * STRAIGHT_WEIGHT[st.type.id]
            flows.append(
                _flow(f"{side}:{st.code}", f"{opposite[side]}:{st.code}", rate, "through", 0.15)
            )
    for a, b in (("west", "north"), ("north", "west"), ("east", "south"), ("south", "east")):
        flows.append(_flow(a, b, 0.1 * through, "through", 0.1))
    for side, w in sides.items():
        for zone, share in employment.items():
            flows.append(_flow(side, zone, commute * w * share, "am_in", 0.04))
            flows.append(_flow(zone, side, commute * w * share, "pm_out", 0.04))
            flows.append(_flow(zone, side, 0.15 * commute * w * share, "am_in", 0.08))
            flows.append(_flow(side, zone, 0.15 * commute * w * share, "pm_out", 0.08))
        flows.append(_flow(side, "industrial", 0.4 * commute * w, "shift_in", 0.03))
        flows.append(_flow("industrial", side, 0.4 * commute * w, "shift_out", 0.03))
        flows.append(_flow(side, "industrial", 0.1 * commute * w, "freight", 0.7))
        flows.append(_flow("industrial", side, 0.1 * commute * w, "freight", 0.7))
    for zone, share in employment.items():
        flows.append(_flow("residential", zone, 0.5 * commute * share, "am_in", 0.0))
        flows.append(_flow(zone, "residential", 0.5 * commute * share, "pm_out", 0.0))
    flows.append(_flow("residential", "industrial", 0.2 * commute, "shift_in", 0.0))
    flows.append(_flow("industrial", "residential", 0.2 * commute, "shift_out", 0.0))
    for zone in (*employment, "residential"):
        flows.append(_flow(zone, "commercial", 0.15 * commute, "local", 0.05))
        flows.append(_flow("commercial", zone, 0.15 * commute, "local", 0.05))
    return flows


def demand_spec(d: GridDesign) -> dict[str, object]:
    zones = fringe_zones(d)
    if d.name == "yizhuang_core":
        zones |= interior_zones(
            d,
            {
                "office": [(1000, 1480, 2150, 1980)],
                "industrial": [(1000, 450, 2150, 1100)],
                "residential": [(400, 450, 1000, 1980)],
                "commercial": [(400, 450, 2150, 1980)],
            },
        )
        commute, through = LEVELS[d.name]
        sides = {"west": 1.0, "north": 1.0, "east": 0.6, "south": 0.6}
        flows = grid_flows(d, sides, {"office": 0.55, "industrial": 0.45}, commute, through)
    elif d.name == "yizhuang_corridor":
        base, side_rate = LEVELS[d.name]
        flows = [
            _flow("west:RJE", "east:RJE", base, "am_in", 0.1),
            _flow("east:RJE", "west:RJE", base, "pm_out", 0.1),
            _flow("west:RJE", "east:RJE", 0.35 * base, "pm_out", 0.1),
            _flow("east:RJE", "west:RJE", 0.35 * base, "am_in", 0.1),
            _flow("west:RJE", "east:RJE", 0.3 * base, "through", 0.2),
            _flow("east:RJE", "west:RJE", 0.3 * base, "through", 0.2),
        ]
        for st in d.ns:
            flows.append(_flow(f"south:{st.code}", f"north:{st.code}", side_rate, "through", 0.1))
            flows.append(_flow(f"north:{st.code}", f"south:{st.code}", side_rate, "through", 0.1))
        for side in ("north", "south"):
            flows.append(_flow("west:RJE", side, 0.1 * base, "am_in", 0.1))
            flows.append(_flow(side, "east:RJE", 0.1 * base, "am_in", 0.1))
            flows.append(_flow(side, "west:RJE", 0.1 * base, "pm_out", 0.1))
            flows.append(_flow("east:RJE", side, 0.1 * base, "pm_out", 0.1))
    else:
        zones |= interior_zones(
            d,
            {
                "office": [(350, 2300, 2000, 3900)],
                "industrial": [(2000, 350, 3990, 2000)],
                "residential": [(350, 350, 2000, 2000), (2000, 2300, 3990, 3900)],
                "commercial": [(350, 350, 3990, 3900)],
            },
        )
        commute, through = LEVELS[d.name]
        sides = {"west": 1.0, "north": 1.0, "east": 0.7, "south": 0.7}
        flows = grid_flows(d, sides, {"office": 0.5, "industrial": 0.5}, commute, through)
    return {
        "name": d.name,
        "description": f"Demand of {d.name}: {d.description}",
        "network": f"{d.name}.net.xml",
        "rate_unit": "veh/h at profile factor 1.0 (the profile's peak hour)",
        "zones": zones,
        "profiles": PROFILES,
        "flows": flows,
    }


# demand levels at scale 1.0, calibrated by simulation: (commute veh/h per unit side weight,
# straight through veh/h per arterial) of the grids; (arterial peak-direction commute, side
# street through) of the corridor
LEVELS = {
    "yizhuang_core": (530.0, 740.0),
    "yizhuang_corridor": (1100.0, 300.0),
    "yizhuang_district": (430.0, 600.0),
}


# ---------------------------------------------------------------------------------------
# main


def build(d: GridDesign) -> Path:
    out = HERE / d.name
    src = out / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / f"{d.name}.nod.xml").write_text(nodes_xml(d), encoding="utf-8")
    (src / f"{d.name}.edg.xml").write_text(edges_xml(d), encoding="utf-8")
    (src / f"{d.name}.typ.xml").write_text(types_xml(), encoding="utf-8")
    (src / f"{d.name}.con.xml").write_text(connections_xml(d), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        rel = os.path.relpath(Path(tmp) / "pass1.net.xml", out)
        first = run_netconvert(d, out, with_tll=False, output=rel)
        tll = four_stage_tll(first, d.base_green)
    (src / f"{d.name}.tll.xml").write_text(tll, encoding="utf-8")
    net_path = run_netconvert(d, out, with_tll=True, output=f"{d.name}.net.xml")
    problems = check_programs(net_path)
    if problems:
        raise RuntimeError(f"unsafe programs in {d.name}:\n" + "\n".join(problems))
    specs = place_detectors(net_path)
    write_detectors(specs, out / f"{d.name}.det.add.xml")
    spec = demand_spec(d)
    (out / "demand.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    net = sumolib.net.readNet(str(net_path))
    print(
        f"{d.name}: {len(net.getTrafficLights())} signals, {len(net.getEdges())} edges, "
        f"{len(specs)} detectors -> {net_path.relative_to(HERE.parent)}"
    )
    return net_path


def main(argv: list[str]) -> int:
    names = argv or list(DESIGNS)
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        print(f"unknown network(s) {unknown}; known: {sorted(DESIGNS)}", file=sys.stderr)
        return 2
    for name in names:
        build(DESIGNS[name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
