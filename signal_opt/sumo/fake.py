"""A fake simulation behind the same interface as libsumo, for unit tests without SUMO.

The model is httpx's ``MockTransport``: :class:`FakeSumo` answers exactly the calls the
driver, the detector reader, the safety monitor and the controllers make of a connection
(``trafficlight``, ``lanearea``, ``inductionloop``, ``simulation``...), and moves a crude
queue model instead of traffic: vehicles arrive on each detected lane at a fixed rate,
stand in its queue zone, and leave one a second over the stop-line loop while any link
from the lane shows green. That is enough to drive a controller through every code path
(plans, free operation, gap-out, retiming) in milliseconds; figures of merit come from
SUMO only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traci.constants as tc

from signal_opt.model import GREEN_STATES, Intersection
from signal_opt.sumo.detectors import detectors_from_additional
from signal_opt.sumo.network import load_signals, read_net
from signal_opt.sumo.scenario import Scenario
from signal_opt.sumo.simulation import PlanLog, RunContext, Simulation, run_loop

if TYPE_CHECKING:
    from signal_opt.controllers.base import Controller


@dataclass
class _Lights:
    owner: FakeSumo
    state: dict[str, str]
    program: dict[str, str]
    first_phase: dict[str, int]
    first_green: dict[str, float]
    subscribed: set[str] = field(default_factory=set)

    def getRedYellowGreenState(self, tls_id: str) -> str:
        return self.state[tls_id]

    def setRedYellowGreenState(self, tls_id: str, state: str) -> None:
        if len(state) != len(self.state[tls_id]):
            raise ValueError(f"state of {tls_id!r} must have {len(self.state[tls_id])} links")
        self.state[tls_id] = state
        self.owner.changes += 1

    def getPhase(self, tls_id: str) -> int:
        return self.first_phase[tls_id]

    def getNextSwitch(self, tls_id: str) -> float:
        return self.owner.time + self.first_green[tls_id]

    def getProgram(self, tls_id: str) -> str:
        return self.program[tls_id]

    def subscribe(self, tls_id: str, variables: Sequence[int] = ()) -> None:
        self.subscribed.add(tls_id)

    def getAllSubscriptionResults(self) -> dict[str, dict[int, Any]]:
        return {t: {tc.TL_RED_YELLOW_GREEN_STATE: self.state[t]} for t in self.subscribed}


@dataclass
class _Zones:
    owner: FakeSumo

    def getLastStepVehicleNumber(self, det: str) -> int:
        return int(self.owner.queue[self.owner.zone[det]])

    def getLastStepHaltingNumber(self, det: str) -> int:
        i = self.owner.zone[det]
        return int(max(self.owner.queue[i] - self.owner.leaving[i], 0))

    def getLastIntervalVehicleNumber(self, det: str) -> int:
        return int(self.owner.last_count[self.owner.zone[det]])

    def getLastIntervalOccupancy(self, det: str) -> float:
        return float(min(100.0, 8.0 * self.owner.last_queue[self.owner.zone[det]]))

    def getLastIntervalMeanSpeed(self, det: str) -> float:
        return 8.0 if self.owner.last_count[self.owner.zone[det]] else -1.0

    def getLastIntervalMaxJamLengthInMeters(self, det: str) -> float:
        return float(7.5 * self.owner.last_queue[self.owner.zone[det]])


@dataclass
class _Loops:
    owner: FakeSumo

    def getTimeSinceDetection(self, det: str) -> float:
        return float(self.owner.gap[self.owner.loop[det]])

    def getIntervalVehicleNumber(self, det: str) -> int:
        return int(self.owner.count[self.owner.loop[det]])

    def getLastIntervalVehicleNumber(self, det: str) -> int:
        return int(self.owner.last_count[self.owner.loop_zone[self.owner.loop[det]]])

    def getLastIntervalOccupancy(self, det: str) -> float:
        return float(
            min(100.0, 4.0 * self.owner.last_count[self.owner.loop_zone[self.owner.loop[det]]])
        )

    def getLastIntervalMeanSpeed(self, det: str) -> float:
        return 10.0


class _Nothing:
    """Domains the fake has nothing in (no persons, no walking areas)."""

    def subscribe(self, *args: Any) -> None:
        return None

    def getAllSubscriptionResults(self) -> dict:
        return {}


class _Simulation:
    def __init__(self, owner: FakeSumo) -> None:
        self.owner = owner

    def getTime(self) -> float:
        return self.owner.time

    def getMinExpectedNumber(self) -> int:
        return 1


class FakeSumo:
    """A connection to a fake simulation of ``intersections`` with the detectors
    ``specs`` (as :func:`signal_opt.sumo.detectors.place_detectors` gives them).

    ``arrivals`` maps an incoming lane to vehicles per second (default ``rate`` for every
    detected lane); ``period`` is the detectors' interval, s. ``changes`` counts the signal
    states set. Queue zones and loops are modelled (an advance loop counts as its lane's
    stop-line loop).
    """

    IN_PROCESS = True
    """Read per detector, as in process (no subscriptions needed)."""

    def __init__(
        self,
        intersections: Sequence[Intersection],
        specs: Sequence[Any],
        rate: float = 0.1,
        arrivals: Mapping[str, float] | None = None,
        period: float = 60.0,
        seed: int = 0,
        begin: float = 0.0,
    ) -> None:
        self.time = float(begin)
        self.period = period
        self.rng = np.random.default_rng(seed)
        self.changes = 0
        lane_of = {s.id: getattr(s, "incoming_lane", "") or s.lane for s in specs}
        queues = [s.id for s in specs if s.kind == "queue"]
        zones = [*queues, *(s.id for s in specs if s.kind == "exit")]  # exits stay empty
        loops = [s.id for s in specs if s.kind in ("stopline", "advance")]
        self.zone = {d: i for i, d in enumerate(zones)}
        self.loop = {d: i for i, d in enumerate(loops)}
        zone_lanes = [lane_of[d] for d in zones]
        by_lane = {lane_of[d]: i for i, d in enumerate(queues)}
        self.loop_zone = np.array([by_lane.get(lane_of[d], 0) for d in loops], dtype=np.int64)
        self.loop_has_zone = np.array([lane_of[d] in by_lane for d in loops], bool)
        arrivals = arrivals or {}
        self.rate = np.array(
            [
                arrivals.get(lane, rate) if i < len(queues) else 0.0
                for i, lane in enumerate(zone_lanes)
            ]
        )  # (Z,)
        self.queue = np.zeros(len(zones))  # (Z,) vehicles standing or moving up
        self.leaving = np.zeros(len(zones))  # (Z,) 1 where a vehicle leaves this step
        self.gap = np.zeros(len(loops))  # (M,) s since a vehicle last left over the loop
        self.count = np.zeros(len(loops))  # (M,) vehicles over the loop this period
        self.interval = np.zeros(len(zones))  # (Z,) vehicles leaving this period
        self.last_count = np.zeros(len(zones))  # (Z,) vehicles that left last period
        self.last_queue = np.zeros(len(zones))  # (Z,) longest queue last period
        self.peak = np.zeros(len(zones))
        # which links let each zone's lane go: (signal, link index) pairs
        self._links: list[list[tuple[str, int]]] = [[] for _ in zones]
        for x in intersections:
            for lk in x.links:
                if not lk.is_crossing and lk.from_lane in by_lane:
                    self._links[by_lane[lk.from_lane]].append((x.id, lk.index))
        self.trafficlight = _Lights(
            self,
            state={x.id: x.stages[0].state for x in intersections},
            program={x.id: x.program_id for x in intersections},
            first_phase={x.id: x.stages[0].phase_index for x in intersections},
            first_green={x.id: x.stages[0].base_green for x in intersections},
        )
        self.lanearea = _Zones(self)
        self.inductionloop = _Loops(self)
        self.simulation = _Simulation(self)
        self.edge = _Nothing()
        self.person = _Nothing()

    def simulationStep(self, target: float = 0.0) -> None:
        """Advance to ``target`` (or by one second), one second at a time."""
        end = max(target, self.time + 1.0)
        while self.time < end - 1e-9:
            self._second()

    def close(self) -> None:
        return None

    def _second(self) -> None:
        self.time += 1.0
        states = self.trafficlight.state
        green = np.array(
            [any(states[t][i] in GREEN_STATES for t, i in links) for links in self._links]
        )  # (Z,)
        self.queue += self.rng.random(len(self.queue)) < self.rate
        self.leaving = (green & (self.queue > 0)).astype(float)
        self.queue -= self.leaving
        self.interval += self.leaving
        self.peak = np.maximum(self.peak, self.queue)
        left = self.leaving[self.loop_zone] * self.loop_has_zone  # (M,)
        self.gap = np.where(left > 0, 0.0, self.gap + 1.0)
        self.count += left
        if self.time % self.period < 1e-9:
            self.last_count, self.interval = self.interval, np.zeros_like(self.interval)
            self.last_queue, self.peak = self.peak, self.queue.copy()
            self.count = np.zeros_like(self.count)


def run_fake(
    controller: Controller,
    net_file: str | Path,
    detector_file: str | Path,
    out_dir: str | Path,
    seconds: float,
    monitors: Sequence[Callable[[Simulation], Callable[[float], None]]] = (),
    **fake: Any,
) -> tuple[Simulation, FakeSumo]:
    """Run ``controller`` for ``seconds`` on a :class:`FakeSumo` of the network
    ``net_file`` with the detectors of ``detector_file`` (SUMO additional XML): the
    harness's own loop, driver and reader, no simulator. ``fake`` goes to FakeSumo."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = read_net(net_file)
    signals = load_signals(net)
    specs = detectors_from_additional(detector_file, net)
    scenario = Scenario("fake", Path(net_file), (), begin=0.0, end=float(seconds))
    ctx = RunContext(scenario, net, signals.intersections, specs, out, 0, signals)
    conn = FakeSumo(signals.intersections, specs, **fake)
    controller.prepare(ctx)
    sim = Simulation(conn, ctx, PlanLog(out / "plans.jsonl", controller.name))
    sim.time = 0.0
    controller.start(sim)
    hooks = [make(sim) for make in monitors]
    try:
        run_loop(sim, controller, scenario, hooks, progress=False)
    finally:
        sim.plan_log.close()
    return sim, conn
