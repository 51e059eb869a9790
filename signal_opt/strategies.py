"""Every signal strategy by name, behind one interface (:class:`Controller`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signal_opt.controllers.base import Controller

STRATEGIES = (
    "fixed",
    "webster",
    "actuated",
    "max-pressure",
    "sumo-actuated",
    "sumo-delay_based",
    "adaptive",
)
"""Every strategy the command line and the comparisons know, in report order."""


class UnknownStrategyError(ValueError):
    pass


def make_controller(name: str, **options: Any) -> Controller:
    """A fresh controller for strategy ``name`` (see :data:`STRATEGIES`)."""
    if name == "fixed":
        from signal_opt.sumo.strategies.fixed import FixedController

        return FixedController(plan_file=options.get("plan_file"))
    if name == "webster":
        from signal_opt.sumo.strategies.webster import WebsterController

        return WebsterController(design=options.get("design"))
    if name == "actuated":
        from signal_opt.sumo.strategies.actuated import ActuatedController

        return ActuatedController()
    if name == "max-pressure":
        from signal_opt.controllers.max_pressure import MaxPressureController

        return MaxPressureController(
            **{k: v for k, v in options.items() if k in ("hold", "hold_intergreens")}
        )
    if name == "sumo-actuated":
        from signal_opt.sumo.strategies.stock import SumoActuated

        return SumoActuated()
    if name == "sumo-delay_based":
        from signal_opt.sumo.strategies.stock import SumoDelayBased

        return SumoDelayBased()
    if name == "adaptive":
        from signal_opt.controllers.adaptive import AdaptiveController

        return AdaptiveController(
            **{k: v for k, v in options.items() if k in ("interval", "pedestrian_recall")}
        )
    raise UnknownStrategyError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")


__all__ = ["STRATEGIES", "UnknownStrategyError", "make_controller"]
