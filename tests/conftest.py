"""Shared fixtures: a small foreign network built here with SUMO's own tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sumolib


def _flows(net_file: Path, path: Path, per_hour: float, end: float) -> None:
    net = sumolib.net.readNet(str(net_file))
    fringe_in = [e for e in net.getEdges() if not e.getIncoming() and e.getOutgoing()]
    fringe_out = [e for e in net.getEdges() if e.getIncoming() and not e.getOutgoing()]
    if not fringe_in:  # grid without dead ends: use the outer edges
        fringe_in = [e for e in net.getEdges() if e.is_fringe()]
        fringe_out = fringe_in
    lines = ["<routes>", '  <vType id="car" vClass="passenger"/>']
    k = 0
    for a in fringe_in:
        for b in fringe_out:
            if a.getToNode() == b.getFromNode() or a.getFromNode() == b.getToNode():
                continue
            route = net.getShortestPath(a, b)[0]
            if not route:
                continue
            lines.append(
                f'  <flow id="f{k}" type="car" from="{a.getID()}" to="{b.getID()}" begin="0" '
                f'end="{end}" vehsPerHour="{per_hour}" departLane="best"/>'
            )
            k += 1
    lines.append("</routes>")
    path.write_text("\n".join(lines) + "\n")


def _grid_scenario(d: Path, name: str, options: list[str], per_hour: float) -> Path:
    """A netgenerate grid with netconvert's own signal programs, flows between all fringe
    edges for 900 s, and its .sumocfg."""
    net = d / f"{name}.net.xml"
    common = ["--grid", "--grid.length", "250", "--default.lanenumber", "2"]
    common += ["--tls.guess", "true", "--tls.left-green.time", "6", "--no-turnarounds", "true"]
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), *common, *options, "-o", str(net), "--seed", "1"],
        check=True,
        capture_output=True,
    )
    _flows(net, d / f"{name}.rou.xml", per_hour, 900.0)
    cfg = d / f"{name}.sumocfg"
    cfg.write_text(
        "<configuration><input>"
        f'<net-file value="{name}.net.xml"/><route-files value="{name}.rou.xml"/>'
        '</input><time><begin value="0"/><end value="900"/></time></configuration>\n'
    )
    return cfg


@pytest.fixture(scope="session")
def foreign_scenario(tmp_path_factory) -> Path:
    """A 3 x 2 signalized grid with netconvert's own programs and light demand (a .sumocfg)."""
    size = ["--grid.x-number", "3", "--grid.y-number", "2", "--grid.attach-length", "150"]
    return _grid_scenario(tmp_path_factory.mktemp("foreign"), "grid", size, 60.0)


@pytest.fixture(scope="session")
def turn_lane_scenario(tmp_path_factory) -> Path:
    """Two signals with left-turn lanes: the left turn yields in the through stage and has
    its own arrow stage (netconvert's programs); flows between all fringe edges."""
    options = ["--grid.x-number", "2", "--grid.y-number", "1", "--grid.attach-length", "200"]
    options += ["--turn-lanes", "1", "--turn-lanes.length", "60"]
    return _grid_scenario(tmp_path_factory.mktemp("turn_lanes"), "turns", options, 90.0)
