"""Build a stress layout into a SUMO network with netconvert, programs and detectors.

Files in the draw's folder: ``src/stress.{nod,edg,con,tll}.xml`` (``netconvert`` on them
with :func:`netconvert_options` reproduces the network), ``stress.net.xml`` and
``stress.det.add.xml`` (stop-line, advance and queue detectors at every signal, placed as
for the bundled networks).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from signal_opt.stress.design import Design
from signal_opt.stress.sources import connections_xml, edges_xml, nodes_xml
from signal_opt.sumo.detectors import place_detectors, write_detectors
from signal_opt.sumo.netbuild import (
    check_programs,
    four_stage_tll,
    netconvert_binary,
    run_netconvert,
)

NAME = "stress"


def netconvert_options(design: Design, with_tll: bool, output: str) -> list[str]:
    """netconvert's command line, run in the draw's folder."""
    src = f"src/{NAME}"
    opts = [
        netconvert_binary(),
        "--node-files", f"{src}.nod.xml",
        "--edge-files", f"{src}.edg.xml",
        "--connection-files", f"{src}.con.xml",
    ]  # fmt: skip
    if with_tll:
        opts += ["--tllogic-files", f"{src}.tll.xml"]
    opts += [
        "--no-turnarounds", "true",
        "--offset.disable-normalization", "true",
        "--output.street-names", "true",
        "--tls.default-type", "static",
        "--tls.layout", design.tls_layout,
        "--tls.cycle.time", f"{design.tls_cycle:g}",
        "--tls.left-green.time", f"{design.left_green:g}",
        "--junctions.corner-detail", "5",
        "--no-warnings", "true",
        "--output-file", output,
    ]  # fmt: skip
    if design.sidewalks:
        opts += ["--crossings.guess", "true"]
    return opts


def build_network(design: Design, folder: Path) -> tuple[Path, Path]:
    """Write the sources, build the net, check its programs, place detectors.

    Returns the paths of the net and of the detector file.
    """
    src = folder / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / f"{NAME}.nod.xml").write_text(nodes_xml(design), encoding="utf-8")
    (src / f"{NAME}.edg.xml").write_text(edges_xml(design), encoding="utf-8")
    (src / f"{NAME}.con.xml").write_text(connections_xml(design), encoding="utf-8")
    what = f"stress network in {folder}"
    greens = (design.four_stage_green,) * 4
    with tempfile.TemporaryDirectory() as tmp:
        rel = os.path.relpath(Path(tmp) / "pass1.net.xml", folder)
        first = run_netconvert(netconvert_options(design, False, rel), folder, rel, what)
        tll = four_stage_tll(first, greens, design.four_stage)
    (src / f"{NAME}.tll.xml").write_text(tll, encoding="utf-8")
    output = f"{NAME}.net.xml"
    net = run_netconvert(netconvert_options(design, True, output), folder, output, what)
    problems = check_programs(net)
    if problems:
        raise RuntimeError(f"unsafe programs in {net}:\n" + "\n".join(problems))
    detectors = folder / f"{NAME}.det.add.xml"
    write_detectors(place_detectors(net), detectors)
    return net, detectors
