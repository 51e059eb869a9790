"""One safe-plan fallback, one set of rules (retiming, the controller and the service)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from signal_opt.core import RetimingResult
from signal_opt.fallback import FallbackReason, fallback
from signal_opt.model import Plan, check_plan
from signal_opt.retiming import retime_network
from signal_opt.sumo.network import load_intersections

NET = Path(__file__).resolve().parents[1] / "networks/yizhuang_core/yizhuang_core.net.xml"


@pytest.fixture(scope="module")
def x():
    return load_intersections(NET)[0]


def _valid(x, extra: float) -> Plan:
    base = x.base_plan()
    greens = (base.greens[0] + extra, *base.greens[1:])
    return Plan(x.id, base.cycle + extra, greens, 0.0, "optimized")


@pytest.mark.parametrize(
    "reason",
    [
        FallbackReason.UNSAFE,
        FallbackReason.NOT_FINITE,
        FallbackReason.CHANGE_LIMIT,
        FallbackReason.NO_PROPOSAL,
    ],
)
def test_the_plan_in_force_is_kept_when_it_is_still_valid(x, reason):
    current = _valid(x, 6.0)
    safe = fallback(x, reason, current, "why")
    assert safe.plan.greens == current.greens and safe.plan.cycle == current.cycle
    assert safe.plan.source == "fallback" and safe.reason is reason and safe.detail == "why"


def test_without_usable_data_the_networks_own_program_runs(x):
    safe = fallback(x, FallbackReason.NO_DATA, _valid(x, 6.0))
    assert safe.plan.greens == x.base_plan().greens


def test_an_invalid_plan_in_force_falls_back_to_the_networks_own_program(x):
    broken = replace(_valid(x, 6.0), greens=(1.0, *x.base_plan().greens[1:]))
    safe = fallback(x, FallbackReason.UNSAFE, broken)
    assert safe.plan.greens == x.base_plan().greens
    check_plan(x, safe.plan)


@pytest.mark.parametrize(
    ("green", "reason"), [(float("nan"), FallbackReason.NOT_FINITE), (1.0, FallbackReason.UNSAFE)]
)
def test_retiming_reports_its_fallbacks_with_a_typed_reason(x, monkeypatch, green, reason):
    # an optimizer that proposes a broken plan: retiming must not let it through
    def broken(self, intersections, source="adaptive"):
        base = intersections[0].base_plan()
        greens = (green, *base.greens[1:])
        return [Plan(base.intersection_id, sum(greens) + x.lost_time, greens, 0.0, source)]

    monkeypatch.setattr(RetimingResult, "to_plans", broken)
    current = _valid(x, 6.0)
    run = retime_network([x], [{g.id: 300.0 for g in x.lane_groups}], [current])
    safe = run.fallbacks[x.id]
    assert safe.reason is reason and safe.detail
    assert run.plans[0] == safe.plan and safe.plan.greens == current.greens
    check_plan(x, run.plans[0])
