"""Every signal's state as the controller sees it, in one place.

The driver (:mod:`signal_opt.sumo.driver`) executes: it shows stages and runs plans. What
the controller has decided lives here, one row per signal (N,): how the signal runs
(:class:`Mode`), the plan in force (the last one the controller applied, which bounds
free operation and from which the next retiming's change limits are measured), the stage
carrying a coordinated signal's green wave, and the last stage requested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from signal_opt.model import Plan


class Mode(IntEnum):
    FREE = 0
    """The detectors pick each next stage within the plan's bounds."""
    COORDINATED = 1
    """The plan's fixed cycle and offset carry a green wave (coordinated-actuated)."""
    FIXED = 2
    """The plan runs as it is (no usable data, or a plan refused): latched."""


@dataclass
class SignalStates:
    ids: tuple[str, ...]
    """Signal ids (N,)."""
    plans: list[Plan]
    """(N,) the plan in force."""
    mode: np.ndarray = field(init=False)
    """(N,) :class:`Mode` of each signal."""
    wave: np.ndarray = field(init=False)
    """(N,) coordinated signals: the stage carrying the green wave (-1: none)."""
    choice: np.ndarray = field(init=False)
    """(N,) the stage last requested in free operation (-1: none yet)."""
    walk: np.ndarray = field(init=False)
    """(N,) whether it was requested with its pedestrian walk."""

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.mode = np.full(n, Mode.FREE, dtype=np.int8)
        self.wave = np.full(n, -1, dtype=np.int64)
        self.choice = np.full(n, -1, dtype=np.int64)
        self.walk = np.zeros(n, bool)
        self.row = {tls_id: i for i, tls_id in enumerate(self.ids)}

    @classmethod
    def starting(cls, ids: Sequence[str], plans: Sequence[Plan]) -> SignalStates:
        """Every signal free, in force its ``plans`` (the network's own, at the start)."""
        return cls(tuple(ids), list(plans))

    def set(self, tls_id: str, mode: Mode, plan: Plan, wave: int = -1) -> None:
        """Signal ``tls_id`` now runs ``plan`` in ``mode``."""
        i = self.row[tls_id]
        self.mode[i] = mode
        self.plans[i] = plan
        self.wave[i] = wave if mode == Mode.COORDINATED else -1

    def mode_of(self, tls_id: str) -> Mode:
        return Mode(int(self.mode[self.row[tls_id]]))

    def count(self, mode: Mode) -> int:
        return int((self.mode == mode).sum())
