"""Run a scenario under a signal strategy and write tripinfo, metrics and the plan log.

Outputs in ``out_dir``: ``tripinfo.xml`` (SUMO's own, unfinished vehicles included),
``statistics.xml``, ``metrics.json`` (with the controller's own figures under
``"controller"``), ``plans.jsonl`` (every plan applied, with time and intersection) and
``timeseries.json`` (time loss and speed per 5 minutes, for plots).

If SUMO dies (or the controller fails) mid-run, :func:`run` raises and keeps what was
written so far: ``plans.jsonl`` up to the failure, SUMO's ``tripinfo.xml`` as far as it got
(possibly cut short), and ``failed.json`` with the error and the simulation time reached,
in place of ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import sumolib

from signal_opt.detectors import DetectorInfo
from signal_opt.model import Intersection, Plan
from signal_opt.sumo import detectors as det
from signal_opt.sumo.coordination import PlatoonLink, link_entries, platoon_links
from signal_opt.sumo.detector_reader import DetectorReader, served_lane
from signal_opt.sumo.driver import SignalDriver
from signal_opt.sumo.network import SignalModels, load_signals, read_net
from signal_opt.sumo.outputs import RunMetrics, read_metrics, time_series
from signal_opt.sumo.pushbuttons import PushButtons
from signal_opt.sumo.running import check_running, running_programs
from signal_opt.sumo.scenario import Scenario

if TYPE_CHECKING:
    from signal_opt.controllers.base import Controller


class SimulationError(RuntimeError):
    """SUMO failed or died during a run; outputs written so far are kept."""


FAILED = "failed.json"
"""Written instead of ``metrics.json`` when a run stops early."""


@dataclass
class RunContext:
    """What a controller may know before the run: the network and its detectors."""

    scenario: Scenario
    net: sumolib.net.Net
    intersections: list[Intersection]
    detectors: list[det.DetectorSpec]
    out_dir: Path
    seed: int
    signals: SignalModels | None = None
    """Every light's running program, and the lights left running it (not modelled)."""

    def lane_detectors(self, kind: str) -> dict[str, list[str]]:
        """Incoming lane -> the ids of its detectors of ``kind`` (``queue``, ``stopline``,
        ``advance``), in the order the scenario lists them."""
        out: dict[str, list[str]] = {}
        for spec in self.detectors:
            if spec.kind == kind:
                out.setdefault(served_lane(spec), []).append(spec.id)
        return out

    def detector_infos(self) -> list[DetectorInfo]:
        """What the demand estimator needs to know of each detector."""
        return det.detector_infos(self.detectors)

    def platoon_links(self) -> list[PlatoonLink]:
        """Links between neighbouring signals, with their travel times (coordination)."""
        return platoon_links(self.net, self.intersections)

    def link_entries(self) -> dict[str, tuple[str, ...]]:
        """Incoming lane -> the exit zones where the vehicles reaching it enter its link
        (:func:`~signal_opt.sumo.coordination.link_entries`)."""
        return link_entries(self.net, self.intersections, self.lane_detectors("exit"))


class PlanLog:
    """``plans.jsonl``: one JSON line per plan applied."""

    def __init__(self, path: Path, controller: str) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", buffering=1)
        self.controller = controller
        self.count = 0

    def write(self, t: float, plan: Plan) -> None:
        row = {
            "time": round(float(t), 2),
            "intersection": plan.intersection_id,
            "controller": self.controller,
            "source": plan.source,
            "cycle": round(float(plan.cycle), 2),
            "greens": [round(float(g), 2) for g in plan.greens],
            "offset": round(float(plan.offset), 2),
        }
        if plan.details:
            row["details"] = plan.details
        self._fh.write(json.dumps(row) + "\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()


@dataclass
class Simulation:
    """A running simulation as a controller sees it."""

    conn: Any
    ctx: RunContext
    plan_log: PlanLog
    step_length: float = 1.0
    driver: SignalDriver | None = None
    reader: DetectorReader | None = None
    reader_factory: Callable[..., DetectorReader] = DetectorReader
    """Builds the detector reader; :class:`signal_opt.sumo.faults.FaultyReader` injects faults."""
    time: float = math.nan
    """Simulation time (s) of the last step completed."""
    control_wall: float = 0.0
    """Wall seconds spent driving the signals and deciding (not simulating)."""

    @property
    def intersections(self) -> list[Intersection]:
        return self.ctx.intersections

    def drive(self, plans: dict[str, Plan] | None = None, **kwargs: Any) -> SignalDriver:
        """Take the signals over from SUMO's programs (see :class:`SignalDriver`)."""
        self.driver = SignalDriver(
            self.conn,
            self.intersections,
            on_applied=self.plan_log.write,
            step=self.step_length,
            **kwargs,
        )
        self.driver.take_over(self.conn.simulation.getTime(), plans)
        return self.driver

    def push_buttons(self) -> PushButtons | None:
        """The pedestrian push buttons of every signalized crossing (None: there are none)."""
        if not any(x.crossings for x in self.intersections):
            return None
        return PushButtons(self.conn, self.ctx.net, self.intersections)

    def read_detectors(
        self, per_step: bool = False, intervals: bool = False, gaps: bool = False
    ) -> DetectorReader:
        self.reader = self.reader_factory(self.conn, self.ctx.detectors, per_step, intervals, gaps)
        return self.reader


def prepare_detectors(
    scenario: Scenario, net: sumolib.net.Net, out_dir: Path
) -> tuple[list[det.DetectorSpec], tuple[Path, ...]]:
    """The scenario's own detectors at its signals, or auto-placed ones, and an exit zone
    on every lane leaving a signal (both written to out_dir when placed here)."""
    found: list[det.DetectorSpec] = []
    for add in scenario.additional_files:
        found.extend(det.detectors_from_additional(add, net))
    files: tuple[Path, ...] = ()
    specs = found
    if not found:
        specs = det.place_detectors(net)
        files += (det.write_detectors(specs, out_dir / "detectors.add.xml"),)
    taken = {s.id for s in specs}
    exits = [s for s in det.place_exit_zones(net) if s.id not in taken]
    if exits:
        files += (det.write_detectors(exits, out_dir / "exits.add.xml"),)
    return [*specs, *exits], files


def sumo_command(
    scenario: Scenario, out_dir: Path, seed: int, additional: Sequence[Path], gui: bool = False
) -> list[str]:
    cmd = [
        sumolib.checkBinary("sumo-gui" if gui else "sumo"),
        "-n",
        str(scenario.net_file),
        "--begin",
        str(scenario.begin),
        "--end",
        str(scenario.end),
        "--seed",
        str(seed),
        "--tripinfo-output",
        str(out_dir / "tripinfo.xml"),
        "--tripinfo-output.write-unfinished",
        "true",
        "--statistic-output",
        str(out_dir / "statistics.xml"),
        "--no-step-log",
        "true",
        "--duration-log.disable",
        "true",
        "--time-to-teleport",
        "300",
        "--ignore-route-errors",
        "true",
        "--no-warnings",
        "true",
        "--step-length",
        "1",
    ]
    if scenario.route_files:
        cmd += ["-r", ",".join(str(p) for p in scenario.route_files)]
    adds = [*scenario.additional_files, *additional]
    if adds:
        cmd += ["-a", ",".join(str(p) for p in adds)]
    cmd += list(scenario.extra_args)
    return cmd


def _start(cmd: list[str], backend: str, label: str):
    if backend == "libsumo":
        import libsumo

        libsumo.start(cmd)
        return libsumo
    import traci

    traci.start(cmd, label=label)
    return traci.getConnection(label)


def run(
    scenario: Scenario,
    controller: Controller,
    out_dir: str | Path,
    seed: int = 0,
    backend: str = "libsumo",
    progress: bool | None = None,
    gui: bool = False,
    monitors: Sequence[Callable[[Simulation], Callable[[float], None]]] = (),
    reader_factory: Callable[..., DetectorReader] = DetectorReader,
) -> RunMetrics:
    """Run ``scenario`` under ``controller``; write the outputs and return the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = read_net(scenario.net_file)
    signals = load_signals(net, scenario.additional_files, net_file=scenario.net_file)
    intersections = signals.intersections
    specs, det_files = prepare_detectors(scenario, net, out)
    ctx = RunContext(scenario, net, intersections, specs, out, seed, signals)
    extra = controller.prepare(ctx)
    cmd = sumo_command(scenario, out, seed, [*det_files, *extra], gui=gui or backend == "gui")
    backend = "traci" if gui or backend == "gui" else backend
    plan_log = PlanLog(out / "plans.jsonl", controller.name)
    label = f"signal-opt-{id(controller)}"
    for name in ("metrics.json", "timeseries.json", FAILED):  # never mistake an old run's
        (out / name).unlink(missing_ok=True)
    wall0 = time.perf_counter()
    conn = None
    sim = None
    try:
        conn = _start(cmd, backend, label)
        _check_programs(conn, net, scenario, [*det_files, *extra])
        sim = Simulation(conn, ctx, plan_log, reader_factory=reader_factory)
        sim.time = scenario.begin
        controller.start(sim)
        hooks = [make(sim) for make in monitors]
        run_loop(sim, controller, scenario, hooks, progress)
    except Exception as exc:
        reached = None if sim is None else sim.time
        _write_failure(out, exc, reached, scenario, plan_log.count, controller)
        if _is_sumo_error(exc):
            when = "before the first step" if reached is None else f"at t={reached:.0f} s"
            raise SimulationError(
                f"SUMO stopped {when} of a {scenario.begin:.0f}-{scenario.end:.0f} s run "
                f"({type(exc).__name__}: {exc}); outputs so far kept in {out} "
                f"({plan_log.count} plans in plans.jsonl, tripinfo.xml as SUMO left it, {FAILED})"
            ) from exc
        raise
    finally:
        plan_log.close()
        if conn is not None:
            with contextlib.suppress(Exception):  # SUMO already gone; outputs are kept
                conn.close()
    wall = time.perf_counter() - wall0
    metrics = read_metrics(out / "tripinfo.xml", out / "statistics.xml", wall)
    assert sim is not None
    metrics = replace(
        metrics,
        controller=controller.summary(),
        control_wall_s=round(sim.control_wall, 3),
        signals=signals.report(),
    )
    (out / "metrics.json").write_text(json.dumps(metrics.to_dict(), indent=2) + "\n")
    series = time_series(out / "tripinfo.xml", scenario.begin, scenario.end)
    (out / "timeseries.json").write_text(json.dumps(series) + "\n")
    return metrics


def _check_programs(conn, net: sumolib.net.Net, scenario: Scenario, extra: Sequence[Path]) -> None:
    """Stop before the first step if SUMO runs another program than the one read from the
    files it loaded (a model of the wrong program could time greens the junction lacks)."""
    files = [*scenario.additional_files, *extra]
    expected = running_programs(net, scenario.net_file, files)
    wrong = check_running(conn, expected)
    if wrong:
        detail = ", ".join(
            f"{t}: runs {p!r}, read {expected[t].program_id!r}" for t, p in sorted(wrong.items())
        )
        raise SimulationError(f"signal programs differ from the ones read ({detail})")


def _write_failure(
    out: Path,
    exc: Exception,
    reached: float | None,
    scenario: Scenario,
    plans: int,
    controller: Controller,
) -> None:
    """``failed.json``: what stopped the run, when, and what was kept."""
    info: dict[str, Any] = {
        "error": f"{type(exc).__name__}: {exc}",
        "sumo_stopped": _is_sumo_error(exc),
        "sim_time_reached_s": reached,
        "begin_s": scenario.begin,
        "end_s": scenario.end,
        "plans_logged": plans,
        "kept": sorted(p.name for p in out.iterdir() if p.name in ("plans.jsonl", "tripinfo.xml")),
    }
    with contextlib.suppress(Exception):  # a controller that failed may not summarize
        info["controller"] = controller.summary()
    (out / FAILED).write_text(json.dumps(info, indent=2) + "\n")


def _is_sumo_error(exc: Exception) -> bool:
    name = type(exc).__name__
    if name in ("TraCIException", "FatalTraCIError") or "libsumo" in type(exc).__module__:
        return True
    return isinstance(exc, ConnectionError)  # socket TraCI: SUMO's end of the socket is gone


def run_loop(sim: Simulation, controller, scenario: Scenario, hooks, progress: bool | None) -> None:
    """Step ``sim`` to the scenario's end: the driver, the ``hooks`` and the controller
    at the times it asks for."""
    conn = sim.conn
    t = float(conn.simulation.getTime())
    end = scenario.end
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=int(end - scenario.begin), unit="sim s", desc=controller.name, leave=False)
    next_call = t
    chunk = 300.0  # progress granularity when nobody needs every step
    try:
        while t < end - 1e-9:
            if next_call <= t + 1e-9 or hooks:
                target = t + sim.step_length
            else:
                target = min(next_call, t + chunk, end)
            conn.simulationStep(target)
            now = float(conn.simulation.getTime())
            if bar is not None:
                bar.update(int(now - t))
            t = sim.time = now
            tic = time.perf_counter()
            if sim.driver is not None:
                sim.driver.advance(t)
            sim.control_wall += time.perf_counter() - tic
            for hook in hooks:
                hook(t)
            if next_call <= t + 1e-9:
                tic = time.perf_counter()
                next_call = controller.step(sim, t)
                sim.control_wall += time.perf_counter() - tic
                if sim.driver is not None:
                    next_call = min(next_call, t + sim.step_length)
            if conn.simulation.getMinExpectedNumber() == 0 and t >= end:
                break
            if math.isinf(next_call) and sim.driver is None and not hooks:
                next_call = end
    finally:
        if bar is not None:
            bar.close()
