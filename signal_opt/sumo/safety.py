"""Watch what the signals actually show, step by step, and record every safety violation.

Used by the tests (and available to any run) as an independent check of whatever drives
the signals. Rules checked per traffic light:

- no two conflicting links (the junction's foes) show priority green ``G`` at once;
- a vehicle link never goes from green straight to red: yellow comes first, and lasts at
  least the shortest yellow of the intersection's own program (pedestrian crossings have
  no yellow in SUMO: they turn red when the vehicles' yellow starts, their clearance is
  part of the minimum green; a link the program itself turns red without a yellow, as
  some real programs do for bicycle or tram links, is held to the same rule as they);
- after a link's yellow ends, no link conflicting with it turns green before the
  intersection's shortest all-red has passed (yellows and all-reds are read link by link
  from the program's own cycle: an engineered program whose movements clear at different
  times sets the bar it meets itself);
- a green lasts at least the smallest minimum green of the intersection;
- a pedestrian crossing's green lasts at least its walk plus its crossing time, less the
  longest intergreen of the intersection (clearance may run into the intergreen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import traci.constants as tc

from signal_opt.model import GREEN_STATES, YELLOW_STATES, Intersection
from signal_opt.sumo.network import TimingRules
from signal_opt.sumo.programs import program_clearances


@dataclass
class _Watch:
    x: Intersection
    foes: dict[int, list[int]]
    min_yellow: float
    min_all_red: float
    min_green: float
    crossings: frozenset[int] = frozenset()
    ped_green: dict[int, float] = field(default_factory=dict)
    """Shortest green of each crossing (s)."""
    no_yellow: frozenset[int] = frozenset()
    """Links the program itself takes from green to red without a yellow."""
    state: str = ""
    since: list[float] = field(default_factory=list)
    red_since: dict[int, float] = field(default_factory=dict)


class SafetyMonitor:
    """Call :meth:`attach` with a running simulation; ``violations`` lists what went wrong.

    ``steps`` counts the simulation steps checked, ``signal_steps`` the traffic-light states
    checked (one per watched light per step).
    """

    def __init__(
        self,
        intersections: list[Intersection],
        tolerance: float = 1e-6,
        rules: TimingRules | None = None,
    ) -> None:
        rules = rules or TimingRules()
        self.watch: dict[str, _Watch] = {}
        for x in intersections:
            foes: dict[int, list[int]] = {}
            for a, b in x.conflicts:
                foes.setdefault(a, []).append(b)
                foes.setdefault(b, []).append(a)
            y, r, no_yellow = program_clearances(x)
            min_green = min((s.min_green for s in x.stages), default=0.0)
            clearance = max((s.intergreen_time for s in x.stages), default=0.0)
            ped_green = {
                lk.index: rules.pedestrian_time(lk.crossing_length) - clearance
                for lk in x.links
                if lk.is_crossing
            }
            self.watch[x.id] = _Watch(
                x, foes, y, r, min(min_green, 4.0), x.crossings, ped_green, no_yellow
            )
        self.violations: list[str] = []
        self.steps = 0
        self.signal_steps = 0
        self.tol = tolerance

    def attach(self, sim) -> SafetyMonitor:
        self.conn = sim.conn
        for tls_id in self.watch:
            self.conn.trafficlight.subscribe(tls_id, (tc.TL_RED_YELLOW_GREEN_STATE,))
        t = float(self.conn.simulation.getTime())
        for tls_id, w in self.watch.items():
            w.state = self.conn.trafficlight.getRedYellowGreenState(tls_id)
            # what shows at attach started earlier: its duration is not checked
            w.since = [-math.inf] * len(w.state)
            self._check_greens(tls_id, w, w.state, t)
        return self

    def __call__(self, t: float) -> None:
        self.steps += 1
        results = self.conn.trafficlight.getAllSubscriptionResults()
        for tls_id, res in results.items():
            w = self.watch.get(tls_id)
            if w is None:
                continue
            self.signal_steps += 1
            new = res[tc.TL_RED_YELLOW_GREEN_STATE]
            if new != w.state:
                self._check_change(tls_id, w, w.state, new, t)
                w.state = new

    def _flag(self, tls_id: str, t: float, msg: str) -> None:
        if len(self.violations) < 1000:
            self.violations.append(f"t={t:.0f} {tls_id}: {msg}")

    def _check_change(self, tls_id: str, w: _Watch, old: str, new: str, t: float) -> None:
        for i, (a, b) in enumerate(zip(old, new)):
            if a == b or (a in GREEN_STATES and b in GREEN_STATES):
                continue
            held = t - w.since[i]
            if a in GREEN_STATES and b in "rs":
                if i in w.crossings or i in w.no_yellow:
                    w.red_since[i] = t
                else:
                    self._flag(tls_id, t, f"link {i} went from green to red without yellow")
            if a in GREEN_STATES and held + self.tol < w.min_green:
                self._flag(tls_id, t, f"link {i} green for {held:.0f} s < {w.min_green:.0f} s")
            walk = w.ped_green.get(i, 0.0)
            if a in GREEN_STATES and held + self.tol < walk:
                self._flag(tls_id, t, f"crossing {i} green for {held:.0f} s < {walk:.0f} s")
            if a in YELLOW_STATES and held + self.tol < w.min_yellow:
                self._flag(tls_id, t, f"link {i} yellow for {held:.0f} s < {w.min_yellow:.0f} s")
            if a in YELLOW_STATES and b not in GREEN_STATES:
                w.red_since[i] = t
            if b in GREEN_STATES and a not in GREEN_STATES:
                for j in w.foes.get(i, ()):
                    cleared = w.red_since.get(j)
                    if cleared is not None and t - cleared + self.tol < w.min_all_red:
                        self._flag(
                            tls_id,
                            t,
                            f"link {i} green {t - cleared:.0f} s after "
                            f"conflicting link {j} cleared (< all-red {w.min_all_red:.0f} s)",
                        )
            w.since[i] = t
        self._check_greens(tls_id, w, new, t)

    def _check_greens(self, tls_id: str, w: _Watch, state: str, t: float) -> None:
        for i, c in enumerate(state):
            if c != "G":
                continue
            for j in w.foes.get(i, ()):
                if j > i and state[j] == "G":
                    self._flag(tls_id, t, f"conflicting links {i} and {j} both green")
