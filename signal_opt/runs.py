"""Use-cases over simulations: run one strategy, or several side by side in processes.

The command line (and later sweeps) describe each run as a :class:`RunSpec`; every run
happens in its own process (libsumo allows one simulation per process) and returns a row
of figures for the comparison table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from signal_opt.controllers import make_controller
from signal_opt.sumo.scenario import resolve
from signal_opt.sumo.simulation import run


@dataclass(frozen=True)
class RunSpec:
    strategy: str
    out_dir: str
    sumocfg: str | None = None
    network: str | None = None
    scale: float = 1.0
    seed: int = 0
    begin: float | None = None
    end: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    backend: str = "libsumo"
    progress: bool | None = None

    @property
    def name(self) -> str:
        return self.label or self.strategy


def run_spec(spec: RunSpec) -> dict[str, Any]:
    """Run one spec; the row has the spec's identity, its metrics and its output folder."""
    out = Path(spec.out_dir)
    scenario = resolve(spec.sumocfg, spec.network, out, spec.scale, spec.seed, spec.begin, spec.end)
    controller = make_controller(spec.strategy, **spec.options)
    metrics = run(
        scenario, controller, out, seed=spec.seed, backend=spec.backend, progress=spec.progress
    )
    row = {
        "label": spec.name,
        "strategy": spec.strategy,
        "scenario": scenario.name,
        "scale": spec.scale,
        "seed": spec.seed,
        **metrics.to_dict(),
        "out_dir": str(out),
    }
    (out / "run.json").write_text(json.dumps({"spec": asdict(spec), "row": row}, indent=2))
    return row


def _safe_run(spec: RunSpec) -> dict[str, Any]:
    try:
        return run_spec(spec)
    except Exception as exc:  # one failed run must not lose the others
        return {
            "label": spec.name,
            "strategy": spec.strategy,
            "scale": spec.scale,
            "seed": spec.seed,
            "error": f"{type(exc).__name__}: {exc}",
            "out_dir": spec.out_dir,
        }


def run_many(specs: Sequence[RunSpec], jobs: int | None = None) -> list[dict[str, Any]]:
    """Run ``specs`` in parallel processes (at most ``jobs``, default the core count)."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(specs)))
    if jobs == 1:
        return [_safe_run(s) for s in specs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        return list(pool.map(_safe_run, specs))


COLUMNS = (
    ("label", "strategy", "{}"),
    ("scale", "scale", "{:.2f}"),
    ("mean_time_loss_s", "time loss s", "{:.1f}"),
    ("mean_travel_time_s", "travel s", "{:.1f}"),
    ("mean_waiting_time_s", "waiting s", "{:.1f}"),
    ("average_speed_kmh", "speed km/h", "{:.2f}"),
    ("vehicles_loaded", "loaded", "{}"),
    ("vehicles_arrived", "arrived", "{}"),
    ("vehicles_unfinished", "unfinished", "{}"),
    ("vehicles_never_inserted", "never ins.", "{}"),
    ("teleports", "teleports", "{}"),
    ("sim_wall_s", "wall s", "{:.1f}"),
)


def format_table(rows: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The comparison as a fixed-width (or markdown) table; failed runs show their error."""
    heads = [h for _, h, _ in COLUMNS]
    body = []
    for r in rows:
        if "error" in r:
            body.append(
                [str(r.get("label")), f"{r.get('scale', '')}", "FAILED: " + r["error"]]
                + [""] * (len(COLUMNS) - 3)
            )
            continue
        body.append([fmt.format(r.get(key, "")) for key, _, fmt in COLUMNS])
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(heads)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join([line(heads), line(["-" * w for w in widths]), *(line(r) for r in body)])
