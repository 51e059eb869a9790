"""How fast each stage serves each lane, learned from the stop-line loops.

Varaiya's max-pressure weighs each movement's queue by the rate at which the stage would
serve it. Most implementations take that rate as equal for every movement; it is not
where a lane is served by two stages in different ways, typically a left turn that must
yield to oncoming traffic in one stage and has its own protected arrow in another. With
equal rates the arrow stage, whose lanes are a subset of the other's, can never have more
pressure, and left turners queue behind gaps in oncoming traffic however long the queue.

:class:`Discharge` measures the rate per stage and lane the way a field controller could:
vehicles counted by the lane's stop-line loops per second of green while a queue stands
on the lane's queue zone. Until a stage has been seen serving a queue, its rate is
``prior_rate`` (a saturation flow of 1,800 veh/h), weighed as ``prior_seconds`` of green.
:meth:`Discharge.rates` gives each stage's rate relative to the best stage for that lane.

Only a yielding green is learned, where another stage gives the lane priority; every other
lane a stage serves keeps the weight 1 of plain max-pressure. Learning every lane was
tried and measured worse: a queue standing during green also counts vehicles blocked
downstream or waiting to change lanes, which is noise for a lane that does not yield.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from signal_opt.controllers.kernel import PRIOR_RATE, PRIOR_SECONDS, incoming_lanes
from signal_opt.model import Intersection


@dataclass
class Discharge:
    """Discharge per stage and incoming lane of one signal.

    ``served`` (P, L) marks the lanes each stage gives green, ``yields`` (P, L) those it
    serves only with a yielding green while another stage gives them priority: only
    these rates are learned, every other served lane keeps rate 1. ``zones`` (L,) is
    each lane's queue zone ("" for none) and ``loops`` (L,) its stop-line loops.
    """

    served: np.ndarray
    yields: np.ndarray
    zones: Sequence[str]
    loops: Sequence[Sequence[str]]
    prior_rate: float = PRIOR_RATE
    prior_seconds: float = PRIOR_SECONDS
    seconds: np.ndarray = field(init=False)
    """Seconds of green (P, L) with a queue standing on the lane."""
    passed: np.ndarray = field(init=False)
    """Vehicles (P, L) over the stop line in those seconds."""

    def __post_init__(self) -> None:
        self.seconds = np.zeros(self.served.shape)
        self.passed = np.zeros(self.served.shape)
        watched = self.served & self.yields.any(axis=0)  # lanes that yield somewhere
        self._watched = [np.flatnonzero(row).tolist() for row in watched]

    def observe(
        self,
        stage: int,
        halting: Mapping[str, int],
        passed: Mapping[str, int],
        step: float = 1.0,
    ) -> None:
        """One step of green of ``stage``: ``halting`` vehicles standing per queue zone,
        ``passed`` vehicles over each stop-line loop in the step (faulty detectors left
        out: a lane missing one of its detectors is not measured)."""
        for lane in self._watched[stage]:
            zone, loops = self.zones[lane], self.loops[lane]
            if not zone or not loops or halting.get(zone, 0) <= 0:
                continue
            if any(d not in passed for d in loops):
                continue
            self.seconds[stage, lane] += step
            self.passed[stage, lane] += sum(passed[d] for d in loops)

    def rates(self) -> np.ndarray:
        """Each stage's service rate of each lane (P, L): for a yielding green, relative
        to the best stage for that lane; 1 for every other lane a stage serves, 0 for the
        lanes it does not."""
        if not self.yields.any():
            return self.served.astype(float)
        n = self.prior_seconds
        rate = (self.passed + self.prior_rate * n) / (self.seconds + n) * self.served
        best = rate.max(axis=0, keepdims=True)
        rel = np.divide(rate, best, out=np.zeros_like(rate), where=best > 0)
        return np.where(self.yields, rel, self.served.astype(float))


def discharge_of(
    x: Intersection, queue_zone: Mapping[str, str], stop_loops: Mapping[str, Sequence[str]]
) -> Discharge:
    """The :class:`Discharge` of ``x``, over ``incoming_lanes(x)``; ``queue_zone`` maps a
    lane to its queue zone, ``stop_loops`` to its stop-line loops."""
    lanes = incoming_lanes(x)
    states = np.array(
        [
            ["".join(s.state[lk.index] for lk in x.links if lk.from_lane == ln) for ln in lanes]
            for s in x.stages
        ]
    )
    priority = np.char.count(states, "G") > 0
    served = priority | (np.char.count(states, "g") > 0)
    yields = served & ~priority & priority.any(axis=0)
    zones = [queue_zone.get(ln, "") for ln in lanes]
    return Discharge(served, yields, zones, [list(stop_loops.get(ln, ())) for ln in lanes])
