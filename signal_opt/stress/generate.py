"""Write a stress draw's scenario files: network, detectors, demand, routes, ``.sumocfg``.

In ``<out>/<draw name>/``::

    src/stress.{nod,edg,con,tll}.xml   plain sources of the network
    stress.net.xml  stress.det.add.xml
    demand.json                        the demand spec (signal_opt.sumo.demand)
    draw.json                          what the draw varies
    x<scale>.rou.xml                   the trips at each demand scale
    <draw name>-x<scale>.sumocfg       one runnable scenario per scale

so ``signal-opt simulate --sumocfg out/stress/draw3/draw3-x1.sumocfg --controller fixed``
reproduces one run. The same draw always writes the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signal_opt.stress.demand import demand_spec
from signal_opt.stress.draw import Draw
from signal_opt.stress.network import build_network
from signal_opt.sumo.demand import DemandSummary, write_routes


@dataclass(frozen=True)
class Scenario:
    """One draw at one demand scale."""

    draw: int
    scale: float
    sumocfg: Path
    trips: int
    trucks: int


def scenario_name(draw: Draw, scale: float) -> str:
    return f"{draw.name}-x{scale:g}"


def sumocfg_xml(net: str, routes: str, additional: str, end: float) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<configuration>\n"
        "    <input>\n"
        f'        <net-file value="{net}"/>\n'
        f'        <route-files value="{routes}"/>\n'
        f'        <additional-files value="{additional}"/>\n'
        "    </input>\n"
        "    <time>\n"
        '        <begin value="0"/>\n'
        f'        <end value="{end:g}"/>\n'
        "    </time>\n"
        "</configuration>\n"
    )


def write_draw(draw: Draw, out: Path, scales: Sequence[float]) -> list[Scenario]:
    """Build the draw's network and demand in ``out / draw.name``; a scenario per scale."""
    folder = out / draw.name
    folder.mkdir(parents=True, exist_ok=True)
    net, detectors = build_network(draw.design, folder)
    spec = demand_spec(draw.design, draw.demand, net.name)
    (folder / "demand.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    (folder / "draw.json").write_text(json.dumps(draw.params(), indent=1) + "\n")
    scenarios = []
    for scale in scales:
        routes = folder / f"x{scale:g}.rou.xml"
        summary: DemandSummary = write_routes(
            folder / "demand.json",
            routes,
            scale=scale,
            seed=draw.routes_seed,
            day_seconds=draw.horizon,
        )
        cfg = folder / f"{scenario_name(draw, scale)}.sumocfg"
        cfg.write_text(sumocfg_xml(net.name, routes.name, detectors.name, draw.horizon))
        scenarios.append(Scenario(draw.index, scale, cfg, summary.trips, summary.trucks))
    return scenarios
