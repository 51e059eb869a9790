"""``max-pressure``: Varaiya's max-pressure control from detector-like lane counts.

At every decision point (each step once the current green has run its minimum and its
``hold`` slot, as in Varaiya's slotted formulation: switching every few seconds would
spend the cycle on yellow and all-red) each signal picks the stage with the largest
pressure: the sum, over the incoming lanes the
stage serves, of vehicles on the lane's queue detector minus vehicles on the queue
detector of the lane it feeds (0 where the outgoing lane has none). It switches only when
another stage's pressure is strictly higher; yellow and all-red always run in full
(:func:`signal_opt.sumo.programs.transition_phases`).
"""

from __future__ import annotations

import numpy as np

from signal_opt.controllers.base import Controller
from signal_opt.sumo.detector_reader import served_lane
from signal_opt.sumo.simulation import RunContext, Simulation


class MaxPressureController(Controller):
    name = "max-pressure"

    def __init__(self, decision_interval: float = 1.0, hold: float = 10.0) -> None:
        self.decision_interval = decision_interval
        self.hold = hold
        self._plans: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}

    def prepare(self, ctx: RunContext) -> list:
        queue_det = {served_lane(s): s.id for s in ctx.detectors if s.kind == "queue"}
        for x in ctx.intersections:
            lanes = sorted({lk.from_lane for lk in x.links if not lk.is_crossing})
            outs = sorted({lk.to_lane for lk in x.links if not lk.is_crossing})
            dets = [queue_det.get(lane, "") for lane in lanes] + [
                queue_det.get(lane, "") for lane in outs
            ]
            n_in, n_out = len(lanes), len(outs)
            lane_i = {lane: i for i, lane in enumerate(lanes)}
            out_i = {lane: n_in + i for i, lane in enumerate(outs)}
            # weights (P, D): +1 per served incoming lane, -1/k per fed outgoing lane
            w = np.zeros((len(x.stages), n_in + n_out))
            for p, stage in enumerate(x.stages):
                served: dict[str, list[str]] = {}
                for lk in x.links:
                    if lk.is_crossing or stage.state[lk.index] not in "Gg":
                        continue
                    served.setdefault(lk.from_lane, []).append(lk.to_lane)
                for lane, targets in served.items():
                    w[p, lane_i[lane]] += 1.0
                    for out in targets:
                        w[p, out_i[out]] -= 1.0 / len(targets)
            present = np.array([bool(d) for d in dets])
            self._plans[x.id] = (dets, w, present)
        return []

    def start(self, sim: Simulation) -> None:
        sim.read_detectors(per_step=True)
        driver = sim.drive()
        for tls_id in driver.lights:
            driver.set_free(tls_id)
        self._next = sim.conn.simulation.getTime()

    def step(self, sim: Simulation, t: float) -> float:
        if t + 1e-9 < self._next:
            return self._next
        self._next = t + self.decision_interval
        assert sim.reader is not None and sim.driver is not None
        counts = sim.reader.queue_vehicles()
        for tls_id, (dets, w, present) in self._plans.items():
            stage, started = sim.driver.current_stage(tls_id)
            if stage < 0 or t - started < self.hold:
                continue  # intergreen, or a green still inside its slot
            q = np.array([counts.get(d, 0) if p else 0 for d, p in zip(dets, present)], float)
            pressure = w @ q  # (P,)
            best = int(np.argmax(pressure))
            if best != stage and pressure[best] > pressure[stage]:
                sim.driver.request_stage(tls_id, best)
            else:
                sim.driver.request_stage(tls_id, stage)
        return self._next
