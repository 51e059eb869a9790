"""The one safe-plan fallback: what an intersection runs when no new plan may be used.

Shared by network retiming (:mod:`signal_opt.retiming`), the adaptive controller and the
retiming service, so that one set of rules holds everywhere:

- no usable detector data (``NO_DATA``): the network's own program, since the plan in
  force was timed from data that can no longer be trusted;
- any other reason (a proposed plan that breaks a safety rule, is not finite, moves
  further than the change limits allow, or was never made): the plan in force if it is
  still valid for the intersection, else the network's own program.

The reason is typed (:class:`FallbackReason`), the detail says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from signal_opt.model import Intersection, Plan, PlanError, check_plan


class FallbackReason(StrEnum):
    NO_DATA = "no_data"
    """No usable detector data for the intersection."""
    UNSAFE = "unsafe"
    """The proposed plan breaks a safety rule of the intersection."""
    NOT_FINITE = "not_finite"
    """The proposed plan has a cycle or green that is not a finite number."""
    CHANGE_LIMIT = "change_limit"
    """The proposed plan moves further from the plan in force than the limits allow."""
    NO_PROPOSAL = "no_proposal"
    """No plan was proposed (the demand was rejected, or the optimizer failed)."""


@dataclass(frozen=True)
class Fallback:
    plan: Plan
    """The plan to run (``source="fallback"``)."""
    reason: FallbackReason
    detail: str = ""


def fallback(
    x: Intersection, reason: FallbackReason, current: Plan | None = None, detail: str = ""
) -> Fallback:
    """The safe plan for ``x`` when a new plan may not be used, by the rules above."""
    if reason is not FallbackReason.NO_DATA and current is not None:
        plan = Plan(x.id, current.cycle, current.greens, current.offset, "fallback")
        try:
            check_plan(x, plan)
            return Fallback(plan, reason, detail)
        except PlanError:
            pass
    base = x.base_plan()
    return Fallback(Plan(x.id, base.cycle, base.greens, base.offset, "fallback"), reason, detail)
