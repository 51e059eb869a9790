"""The Yizhuang demo: the old practice against detector-driven retiming, on a full day.

Runs, on the same seed and the bundled ``yizhuang_core`` compressed day:

- ``base-year plan @1.0``: Webster timed once from base-year demand and held (the old
  practice), at base-year demand;
- at +20 % demand (1.2x): that same base-year plan, and every strategy of
  :data:`~signal_opt.controllers.STRATEGIES` at its best — ``fixed`` (the network's own
  programs), ``webster`` retimed from the +20 % demand, ``actuated``, ``max-pressure``,
  SUMO's own controllers and ``adaptive``.

It prints the table, checks the E-Town claim (adaptive at 1.2x reaches >= 1.15x the
average speed of the base-year plan at 1.0x) and adaptive against its best peer at 1.2x,
and writes ``report.md`` with plots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from signal_opt.report import write_report
from signal_opt.runs import (
    ADAPTIVE,
    RunSpec,
    adaptive_over_best_peer,
    best_peer,
    format_table,
    run_many,
)
from signal_opt.strategies import STRATEGIES
from signal_opt.sumo.scenario import bundled

GROWTH = 1.2
SPEED_TARGET = 1.15


def demo_specs(out: Path, network: str, seed: int, end: float | None) -> list[RunSpec]:
    base_routes = bundled(network, out / "base-year-demand", scale=1.0, seed=seed).route_files
    design = {"design": [str(p) for p in base_routes]}

    def spec(strategy: str, scale: float, label: str, options: dict | None = None) -> RunSpec:
        return RunSpec(
            strategy=strategy,
            out_dir=str(out / label),
            network=network,
            scale=scale,
            seed=seed,
            end=end,
            options=options or {},
            label=label,
            progress=False,
        )

    peers = [spec(s, GROWTH, f"{s}@{GROWTH:.1f}") for s in STRATEGIES if s != ADAPTIVE]
    return [
        spec("webster", 1.0, "base-year-plan@1.0", design),
        spec(ADAPTIVE, GROWTH, f"{ADAPTIVE}@{GROWTH:.1f}"),  # the longest: start it early
        spec("webster", GROWTH, f"base-year-plan@{GROWTH:.1f}", design),
        *peers,
    ]


def check_targets(rows: list[dict[str, Any]]) -> list[str]:
    """The demo's claims, each as a line that says whether it held."""
    by = {r["label"]: r for r in rows if "error" not in r}
    lines = []
    base, ada = by.get("base-year-plan@1.0"), by.get(f"{ADAPTIVE}@{GROWTH:.1f}")
    if base and ada:
        ratio = ada["average_speed_kmh"] / max(base["average_speed_kmh"], 1e-9)
        ok = ratio >= SPEED_TARGET
        lines.append(
            f"E-Town claim: adaptive at {GROWTH:.1f}x demand reaches {ratio:.3f}x the average "
            f"speed of the base-year plan at 1.0x (target >= {SPEED_TARGET}): "
            f"{'MET' if ok else 'NOT MET'}"
        )
    peers = [r for r in by.values() if r["scale"] == GROWTH and r["strategy"] != ADAPTIVE]
    best = best_peer(peers)
    if ada and best:
        ratio = adaptive_over_best_peer(ada["mean_time_loss_s"], best["mean_time_loss_s"])
        ok = ada["mean_time_loss_s"] < best["mean_time_loss_s"]
        lines.append(
            f"lowest time loss at {GROWTH:.1f}x: adaptive {ada['mean_time_loss_s']:.1f} s vs best "
            f"peer {best['label']} {best['mean_time_loss_s']:.1f} s (adaptive / best peer "
            f"{ratio:.3f}): {'MET' if ok else 'NOT MET'}"
        )
        left = lambda r: r["vehicles_unfinished"] + r["vehicles_never_inserted"]  # noqa: E731
        fewest = min(left(r) for r in peers)
        lines.append(
            f"vehicles left (unfinished + never inserted): adaptive {left(ada)}, best peer "
            f"{fewest}: {'MET' if left(ada) <= fewest else 'NOT MET'}"
        )
    return lines


def run_demo(
    out: Path,
    network: str = "yizhuang_core",
    seed: int = 0,
    jobs: int | None = None,
    end: float | None = None,
) -> int:
    out.mkdir(parents=True, exist_ok=True)
    specs = demo_specs(out, network, seed, end)
    print(
        f"signal-opt demo: {network}, {len(specs)} runs, seed {seed}, results in {out}/", flush=True
    )
    rows = run_many(specs, jobs)
    print(format_table(rows))
    notes = check_targets(rows)
    for line in notes:
        print(line)
    report = write_report(rows, out, f"Yizhuang demo: {network}, seed {seed}", notes)
    (out / "targets.json").write_text(json.dumps(notes, indent=2) + "\n")
    print(f"report: {report}")
    return 1 if any("error" in r for r in rows) else 0
