"""The stress family run: generate the draws, run every strategy on them, compare.

Each draw is written at each demand scale as its own ``.sumocfg``
(:mod:`signal_opt.stress.generate`); the runs are one sweep over those scenarios
(:func:`signal_opt.sweep.run_sweep`: process pool or Ray, retries, resume), so a re-run
with the same ``out`` runs only what is missing. ``out/stress.json`` holds every run and
the comparisons (:mod:`signal_opt.stress.compare`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from signal_opt.strategies import STRATEGIES
from signal_opt.stress.compare import compare, etown, summarize
from signal_opt.stress.draw import HEAVY, Draw, make_draw
from signal_opt.stress.generate import Scenario, write_draw
from signal_opt.sweep.grid import Source, SweepError, SweepGrid
from signal_opt.sweep.runner import run_sweep
from signal_opt.sweep.store import METRICS

RESULTS = "stress.json"


@dataclass(frozen=True)
class StressRun:
    """What to run: draws x scales x strategies x simulation seeds, and where."""

    out: Path
    draws: tuple[int, ...] = tuple(range(8))
    seed: int = 0
    """Base seed of the family: with the draw index it fixes network and demand."""
    scales: tuple[str, ...] = ("1", HEAVY)
    """Demand scales: numbers, or :data:`HEAVY` for the draw's own heavier scale."""
    strategies: tuple[str, ...] = field(default_factory=lambda: tuple(STRATEGIES))
    sim_seeds: tuple[int, ...] = (0,)
    """SUMO seeds: each (draw, scale, strategy) runs once per seed."""
    end: float | None = None
    """Stop every run at this simulated time (default: the draw's horizon)."""
    executor: str = "process"
    jobs: int | None = None
    retries: int = 2
    address: str | None = None

    def __post_init__(self) -> None:
        if not self.draws:
            raise SweepError("no draw to run")
        for s in self.strategies:  # before any network is built
            if s not in STRATEGIES:
                raise SweepError(f"unknown strategy {s!r}; choose from: {', '.join(STRATEGIES)}")
        for token in self.scales:
            if token != HEAVY and not float(token) > 0:
                raise SweepError(f"scale {token!r} is not a positive number or {HEAVY!r}")

    def settings(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def scale_of(draw: Draw, token: str) -> float:
    return draw.heavy_scale if token == HEAVY else float(token)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_stress(spec: StressRun, log: Callable[[str], None] = _stderr) -> dict[str, Any]:
    """Generate, run, compare; write and return the results (the ``stress.json`` dict)."""
    t0 = time.perf_counter()
    out = spec.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    draws = [make_draw(i, spec.seed) for i in spec.draws]
    scenarios: list[tuple[Draw, str, Scenario]] = []
    for draw in draws:
        scales = [scale_of(draw, t) for t in spec.scales]
        for token, sc in zip(spec.scales, write_draw(draw, out, scales), strict=True):
            scenarios.append((draw, token, sc))
        log(f"stress: {draw.name} ({draw.design.kind}, {len(draw.design.signals)} signals) ready")
    by_name = {sc.sumocfg.stem: (draw, token, sc) for draw, token, sc in scenarios}
    grid = SweepGrid(
        sources=tuple(Source(name=n, sumocfg=str(sc.sumocfg)) for n, (_, _, sc) in by_name.items()),
        strategies=spec.strategies,
        seeds=spec.sim_seeds,
        end=spec.end,
    )
    result = run_sweep(
        grid,
        out,
        executor=spec.executor,
        jobs=spec.jobs,
        retries=spec.retries,
        address=spec.address,
        log=log,
    )
    runs = [_run_row(row, *by_name[row["scenario"]]) for row in result.rows]
    comparisons = compare(runs)
    results = {
        "settings": spec.settings(),
        "draws": [_draw_row(d, spec.scales, scenarios) for d in draws],
        "runs": runs,
        "comparisons": comparisons,
        "etown": etown(runs),
        "summary": summarize(comparisons),
        "failed": result.failed,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    (out / RESULTS).write_text(json.dumps(results, indent=1) + "\n")
    return results


def _run_row(row: dict[str, Any], draw: Draw, token: str, sc: Scenario) -> dict[str, Any]:
    out = {
        "draw": draw.index,
        "kind": draw.design.kind,
        "scale": sc.scale,
        "scale_label": token,
        "sim_seed": row["seed"],
        "strategy": row["strategy"],
        "status": row["status"],
        "error": row.get("error", ""),
    }
    out |= {m: row.get(m) for m in METRICS}
    out["task_wall_s"] = row.get("task_wall_s")
    out["sumocfg"] = str(sc.sumocfg)
    out["out_dir"] = row.get("out_dir", "")
    return out


def _draw_row(
    draw: Draw, tokens: Sequence[str], scenarios: list[tuple[Draw, str, Scenario]]
) -> dict[str, Any]:
    own = [(t, sc) for d, t, sc in scenarios if d is draw]
    return draw.params() | {
        "scales": [
            {"label": t, "scale": sc.scale, "trips": sc.trips, "trucks": sc.trucks} for t, sc in own
        ],
        "folder": draw.name,
    }
