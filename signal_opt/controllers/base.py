"""The interface every signal strategy implements."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the harness hands these in; decision code never imports SUMO
    from signal_opt.sumo.simulation import RunContext, Simulation


class Controller:
    """A signal strategy attached to one simulation run.

    The harness calls :meth:`prepare` before SUMO starts (a strategy may add SUMO
    additional files, e.g. its own ``tlLogic``), :meth:`start` once SUMO runs, then
    :meth:`step` at the times it asks for: ``step`` returns the next simulation time at
    which it wants to be called (``math.inf`` for never). After the run, :meth:`summary`
    goes into ``metrics.json`` under ``"controller"``.
    """

    name: ClassVar[str] = "controller"

    def prepare(self, ctx: RunContext) -> list[Path]:
        return []

    def start(self, sim: Simulation) -> None:
        return None

    def step(self, sim: Simulation, t: float) -> float:
        return math.inf

    def summary(self) -> dict[str, Any]:
        """The strategy's own figures of the run (JSON-serializable), for ``metrics.json``."""
        return {}
