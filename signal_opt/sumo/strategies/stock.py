"""``sumo-actuated`` and ``sumo-delay_based``: SUMO's stock controllers as peers.

Every program the network runs is re-declared with ``type="actuated"`` (gap-based) or
``type="delay_based"`` and SUMO's default detector settings: what a user gets from
``netconvert --tls.default-type actuated`` on the same phases. Phases whose ``minDur`` /
``maxDur`` the program gives keep them; other green phases (no yellow, a green that is not
green all cycle) get netconvert's defaults (``--tls.min-dur 5``, ``--tls.max-dur 50``,
never cutting below nor capping above the program's own duration); every other phase
keeps its fixed duration. Programs that are not a plain phase cycle (NEMA rings, phases
with ``next`` jumps) are left as they are and listed in the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import quoteattr

from signal_opt.controllers.base import Controller
from signal_opt.model import GREEN_STATES, YELLOW_STATES, Phase
from signal_opt.sumo.running import Program
from signal_opt.sumo.simulation import RunContext
from signal_opt.sumo.stages import SUPPORTED_TYPES, always_green

MIN_DUR = 5.0
"""netconvert's ``--tls.min-dur`` default."""
MAX_DUR = 50.0
"""netconvert's ``--tls.max-dur`` default."""


def _bounds(phase: Phase, always: frozenset[int]) -> tuple[float, float]:
    if phase.min_dur is not None and phase.max_dur is not None:
        return phase.min_dur, phase.max_dur
    green = any(c in GREEN_STATES and i not in always for i, c in enumerate(phase.state))
    if green and not any(c in YELLOW_STATES for c in phase.state):
        return min(MIN_DUR, phase.duration), max(MAX_DUR, phase.duration)
    return phase.duration, phase.duration


def stock_logic(program: Program, kind: str) -> str:
    """One ``<tlLogic>`` of type ``kind`` running ``program``'s phases."""
    always = always_green([p.state for p in program.phases])
    lines = [
        f"    <tlLogic id={quoteattr(program.tls_id)} type={quoteattr(kind)} "
        f'programID="signal-opt-sumo-{kind}" offset="{program.offset:g}">'
    ]
    for p in program.phases:
        lo, hi = _bounds(p, always)
        lines.append(
            f'        <phase duration="{p.duration:g}" state="{p.state}" '
            f'minDur="{lo:g}" maxDur="{hi:g}"/>'
        )
    lines.append("    </tlLogic>")
    return "\n".join(lines)


class StockController(Controller):
    """SUMO's own control of type :attr:`kind` on the running programs."""

    kind: ClassVar[str] = "actuated"

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}
        self.redeclared = 0

    def prepare(self, ctx: RunContext) -> list[Path]:
        if ctx.signals is None:
            raise ValueError("the run context carries no signal programs")
        body = []
        for tls_id, program in sorted(ctx.signals.programs.items()):
            if program.type not in SUPPORTED_TYPES or program.jumps:
                self.kept[tls_id] = f"{program.type} program with its own phase logic"
                continue
            body.append(stock_logic(program, self.kind))
        self.redeclared = len(body)
        path = ctx.out_dir / f"{self.name}.tll.xml"
        path.write_text("<additional>\n" + "\n".join(body) + "\n</additional>\n")
        return [path]

    def summary(self) -> dict[str, Any]:
        return {"programs_redeclared": self.redeclared, "programs_kept": self.kept}


class SumoActuated(StockController):
    name = "sumo-actuated"
    kind = "actuated"


class SumoDelayBased(StockController):
    name = "sumo-delay_based"
    kind = "delay_based"
