"""The program SUMO runs is the one modelled: an additional file that replaces the
network's programs with engineered ones (overlaps, continuations, leading greens, runs of
equal phases) is read, reported in metrics.json, kept by ``fixed`` and driven safely by
``adaptive``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import sumolib

from signal_opt.model import GREEN_STATES
from signal_opt.strategies import make_controller
from signal_opt.sumo.network import load_signals
from signal_opt.sumo.running import check_running
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import from_sumocfg
from signal_opt.sumo.simulation import run


def _engineered_phases(states: list[str]) -> list[tuple[float, str]]:
    """From netconvert's stage states, a program as an engineer might write it: each green
    in two equal phases, half of its movements continuing while the rest clear, yellow,
    all-red, and one movement of the next stage leading by 4 s."""
    out: list[tuple[float, str]] = []
    for k, state in enumerate(states):
        nxt = states[(k + 1) % len(states)]
        green = [i for i, c in enumerate(state) if c in GREEN_STATES]
        keep = set(green[: max(1, len(green) // 2)])
        out += [(12.0, state), (12.0, state)]
        out.append(
            (
                4.0,
                "".join(
                    c if i in keep else ("y" if c in GREEN_STATES else "r")
                    for i, c in enumerate(state)
                ),
            )
        )
        out.append((3.0, "".join("y" if i in keep else "r" for i in range(len(state)))))
        out.append((2.0, "r" * len(state)))
        lead = next(i for i, c in enumerate(nxt) if c == "G")
        out.append((4.0, "".join("G" if i == lead else "r" for i in range(len(state)))))
    return out


@pytest.fixture(scope="module")
def engineered_scenario(foreign_scenario: Path, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("engineered")
    sc = from_sumocfg(foreign_scenario)
    net = sumolib.net.readNet(str(sc.net_file), withPrograms=True)
    body = []
    for tls in net.getTrafficLights():
        (program,) = tls.getPrograms().values()
        states = [
            p.state
            for p in program.getPhases()
            if "y" not in p.state and any(c in GREEN_STATES for c in p.state)
        ]
        body.append(
            f'  <tlLogic id="{tls.getID()}" type="static" programID="engineered" offset="0">'
        )
        body += [
            f'    <phase duration="{d:g}" state="{s}"/>' for d, s in _engineered_phases(states)
        ]
        body.append("  </tlLogic>")
    (d / "engineered.add.xml").write_text("<additional>\n" + "\n".join(body) + "\n</additional>\n")
    cfg = d / "engineered.sumocfg"
    cfg.write_text(
        "<configuration><input>"
        f'<net-file value="{sc.net_file}"/><route-files value="{sc.route_files[0]}"/>'
        '<additional-files value="engineered.add.xml"/>'
        '</input><time><begin value="0"/><end value="900"/></time></configuration>\n'
    )
    return cfg


def test_the_additional_files_program_is_modelled(engineered_scenario: Path):
    sc = from_sumocfg(engineered_scenario)
    models = load_signals(sc.net_file, sc.additional_files)
    assert models.unmodelled == {}
    for x in models.intersections:
        program = models.programs[x.id]
        assert x.program_id == program.program_id == "engineered"
        # Each netconvert stage became a leading stage and a full one; runs of equal
        # phases are one green; the cycle is the engineered one.
        assert len(x.stages) == 2 * len([p for p in program.phases if p.duration == 12.0]) // 2
        assert all(s.base_green in (4.0, 24.0) for s in x.stages)
        assert x.base_cycle == pytest.approx(sum(p.duration for p in program.phases))


@pytest.mark.sumo
def test_fixed_keeps_running_the_engineered_program(engineered_scenario: Path, tmp_path: Path):
    sc = from_sumocfg(engineered_scenario).with_window(0, 300)
    run(sc, make_controller("fixed"), tmp_path, progress=False)
    signals = json.loads((tmp_path / "metrics.json").read_text())["signals"]
    assert signals and all(s["program"] == "engineered" for s in signals.values())
    assert all(s["source"] == "engineered.add.xml" for s in signals.values())


@pytest.mark.sumo
@pytest.mark.parametrize("begin", [0.0, 20.0])  # 20 s: inside the second of two equal phases
def test_adaptive_drives_engineered_programs_without_a_conflict(
    engineered_scenario: Path, tmp_path: Path, begin: float
):
    sc = from_sumocfg(engineered_scenario).with_window(begin, begin + 900)
    monitors: list[SafetyMonitor] = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        return monitors[-1]

    metrics = run(sc, make_controller("adaptive"), tmp_path, monitors=[attach], progress=False)
    assert monitors[0].signal_steps > 800 * len(monitors[0].watch)
    assert monitors[0].violations == []
    assert metrics.vehicles_arrived > 0


@pytest.mark.sumo
@pytest.mark.parametrize("strategy", ["sumo-actuated", "sumo-delay_based"])
def test_sumo_stock_controllers_run_the_programs_with_their_type(
    engineered_scenario: Path, tmp_path: Path, strategy: str
):
    sc = from_sumocfg(engineered_scenario).with_window(0, 300)
    controller = make_controller(strategy)
    metrics = run(sc, controller, tmp_path, progress=False)
    logic = (tmp_path / f"{strategy}.tll.xml").read_text()
    kind = strategy.removeprefix("sumo-")
    assert logic.count(f'type="{kind}"') == len(metrics.signals)
    assert 'minDur="5" maxDur="50"' in logic  # netconvert's defaults on greens without bounds
    assert 'duration="3" state="' in logic and 'minDur="3" maxDur="3"' in logic  # yellow fixed
    assert metrics.controller["programs_redeclared"] == len(metrics.signals)
    assert metrics.vehicles_arrived > 0


def test_a_program_other_than_the_one_read_is_found():
    live = {"a": "engineered", "b": "0"}
    conn = SimpleNamespace(trafficlight=SimpleNamespace(getProgram=live.__getitem__))
    programs = {t: SimpleNamespace(program_id="engineered") for t in live}
    assert check_running(conn, programs) == {"b": "0"}
