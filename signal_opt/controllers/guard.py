"""The guard: adaptive never stays worse than the program it replaced.

Signals are grouped into regions (:func:`regions`: signals joined by short links, whose
queues reach each other). Each minute the detectors of a region give the vehicles on its
queue zones (each zone's occupancy times its length, over a car's length) and the vehicles
its stop lines served; over a window their ratio is how long a served vehicle spent on the
zones (Little's law), the region's delay as its detectors see it.

Each region is in one of three states:

- ``ADAPTIVE``: adaptive runs it. A window whose delay exceeds ``doubt_cycles`` of the
  region's base cycles puts it in doubt: under a plan that works, a vehicle crosses a
  queue zone within about a cycle, so several cycles per vehicle mean the queues are no
  longer being served. In doubt, the region's base programs run for one window (a probe).
- ``PROBE``: the base programs run; their delay is measured. If it is below adaptive's
  window before the probe by at least ``margin``, the base programs keep the region
  (``BASE``); otherwise adaptive takes it back and is not probed again for ``hold`` s.
- ``BASE``: the base programs run for ``hold`` s, then adaptive takes the region back;
  if its first window is worse than the base's measured delay by ``margin``, the base
  programs take over again at once.

Demand moves between two windows, so a comparison is only as good as the margin: with
demand rising the base programs' probe looks worse than they are, and adaptive keeps the
region; the guard acts on clear losses only.

Everything here is arrays over regions; the controller feeds the minutes and applies the
changes (:class:`~signal_opt.controllers.adaptive.AdaptiveController`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Guarded(IntEnum):
    ADAPTIVE = 0
    PROBE = 1
    BASE = 2


@dataclass(frozen=True)
class GuardSettings:
    enabled: bool = True
    window: float = 600.0
    """Seconds of detector data per judgement (and of a probe)."""
    doubt_cycles: float = 2.0
    """A region is in doubt when a served vehicle spent more than this many base cycles
    on its queue zones over a window."""
    margin: float = 0.2
    """The base programs take a region over only with a delay at least this share lower
    than adaptive's."""
    hold: float = 3600.0
    """Seconds the base programs keep a region they took over, and without a new probe
    after one they lost."""


def regions(n: int, links: Sequence[tuple[int, int]]) -> np.ndarray:
    """Region number (N,) of each of ``n`` signals: the connected groups of ``links``
    (pairs of signal numbers), numbered from 0 in order of their first signal."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[root(a)] = root(b)
    roots = [root(i) for i in range(n)]
    number: dict[int, int] = {}
    return np.array([number.setdefault(r, len(number)) for r in roots], dtype=np.int64)


class Guard:
    """The guard's state for every region (arrays over ``R`` regions)."""

    def __init__(self, region_cycle: np.ndarray, settings: GuardSettings, t: float) -> None:
        """``region_cycle`` (R,): each region's mean base cycle, s; ``t`` the start."""
        self.settings = settings
        self.doubt = settings.doubt_cycles * np.asarray(region_cycle, float)  # (R,) s
        r = len(self.doubt)
        self.state = np.full(r, Guarded.ADAPTIVE, dtype=np.int8)  # (R,)
        self.until = np.full(r, -np.inf)  # (R,) end of a BASE hold, or of no new probe
        self.adaptive_delay = np.full(r, np.nan)  # (R,) adaptive's last window, s
        self.base_delay = np.full(r, np.nan)  # (R,) the base programs' probe, s
        self.returned = np.zeros(r, bool)  # (R,) adaptive just took the region back
        self._on_zones = np.zeros(r)  # (R,) vehicle-seconds on the zones this window
        self._served = np.zeros(r)  # (R,) vehicles served this window
        self.window_start = t
        self.probes = 0
        self.takeovers = 0

    def add_minute(self, on_zones: np.ndarray, served: np.ndarray, seconds: float) -> None:
        """One interval: mean vehicles on each region's zones (R,), vehicles served (R,)."""
        self._on_zones += np.nan_to_num(on_zones) * seconds
        self._served += np.nan_to_num(served)

    def delay(self) -> np.ndarray:
        """Seconds a served vehicle spent on each region's zones this window (R,) (NaN:
        nobody served)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self._served > 0, self._on_zones / self._served, np.nan)

    def judge(self, t: float) -> np.ndarray:
        """Close the window at ``t`` if it is over: returns the regions whose state
        changed (K,) (see :attr:`state`); empty while the window runs."""
        s = self.settings
        if t + 1e-9 < self.window_start + s.window:
            return np.zeros(0, dtype=np.int64)
        d = self.delay()  # (R,)
        before = self.state.copy()
        known = np.isfinite(d)
        adaptive = self.state == Guarded.ADAPTIVE
        probe = self.state == Guarded.PROBE
        base = self.state == Guarded.BASE
        # adaptive, back from a hold: worse than the base programs measured -> base again
        worse = adaptive & self.returned & known & (d * (1.0 - s.margin) > self.base_delay)
        doubt = adaptive & known & (d > self.doubt) & (t >= self.until) & ~worse
        self.adaptive_delay = np.where(adaptive & known, d, self.adaptive_delay)
        # a probe: the base programs keep the region if clearly better
        won = probe & known & (d <= (1.0 - s.margin) * self.adaptive_delay)
        self.base_delay = np.where(probe & known, d, self.base_delay)
        lost = probe & ~won
        over = base & (t >= self.until)
        self.state[doubt] = Guarded.PROBE
        self.state[won | worse] = Guarded.BASE
        self.until[won | worse] = t + s.hold
        self.state[lost | over] = Guarded.ADAPTIVE
        self.until[lost] = t + s.hold
        self.returned = over
        self.probes += int(doubt.sum())
        self.takeovers += int((won | worse).sum())
        self._on_zones[:] = 0.0
        self._served[:] = 0.0
        self.window_start = t
        return np.flatnonzero(self.state != before)
