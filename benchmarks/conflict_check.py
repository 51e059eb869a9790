"""Adaptive control on shared scenarios, every step watched for unsafe signals.

    .venv/bin/python benchmarks/conflict_check.py --scenarios DIR [--names cologne1,...]
        [--drain 900] [--out out/conflict_check]

``DIR`` holds one folder per scenario with its ``.sumocfg``. Each scenario runs from its
configured begin for as long as its route files send traffic (the last departure, or the
configured end if later) plus ``--drain`` seconds for the vehicles still on the network,
one simulation at a time, with :class:`SafetyMonitor` on every step. Prints per scenario
the simulated seconds, steps and signal-steps checked and the violations found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from signal_opt.controllers.adaptive import AdaptiveController
from signal_opt.sumo.files import read_elements, sumo_time
from signal_opt.sumo.safety import SafetyMonitor
from signal_opt.sumo.scenario import Scenario, from_sumocfg
from signal_opt.sumo.simulation import run

NAMES = (
    "cologne1",
    "cologne3",
    "ingolstadt1",
    "ingolstadt7",
    "bologna_pasubio",
    "berlin_doerpfeldstr",
)


def departures(scenario: Scenario) -> tuple[float, float]:
    """First and last departure time in the scenario's route files (flows: begin / end),
    read with sumolib (gzip, ``<include>``s and every time form SUMO takes)."""
    tags = {"vehicle": ("depart",), "trip": ("depart",), "person": ("depart",)}
    tags["flow"] = ("begin", "end")
    times: list[float] = []
    for path in scenario.route_files:
        for el in read_elements(path, tags):
            for value in (el.depart,) if el.name != "flow" else (el.begin, el.end):
                with contextlib.suppress(ValueError):  # none, or "triggered", "now"
                    times.append(sumo_time(value))
    return (min(times), max(times)) if times else (scenario.begin, scenario.begin)


def check(cfg: Path, drain: float, out: Path) -> dict:
    sc = from_sumocfg(cfg)
    first, last = departures(sc)
    end = max(sc.end, last) + drain
    sc = sc.with_window(sc.begin, end)
    ctl = AdaptiveController()
    monitors: list[SafetyMonitor] = []

    def attach(sim):
        monitors.append(SafetyMonitor(sim.intersections).attach(sim))
        return monitors[-1]

    metrics = run(sc, ctl, out / sc.name, monitors=[attach], progress=False)
    m = monitors[0]
    return {
        "scenario": sc.name,
        "signals": len(m.watch),
        "departures_s": [first, last],
        "window_s": [sc.begin, sc.end],
        "simulated_s": sc.end - sc.begin,
        "steps_checked": m.steps,
        "signal_steps_checked": m.signal_steps,
        "violations": len(m.violations),
        "first_violations": m.violations[:10],
        "retimings": ctl.retimings,
        "vehicles_arrived": metrics.vehicles_arrived,
        "vehicles_unfinished": metrics.vehicles_unfinished,
        "wall_s": metrics.sim_wall_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", required=True, help="folder of <name>/<name>.sumocfg")
    ap.add_argument("--names", default=",".join(NAMES))
    ap.add_argument("--drain", type=float, default=900.0, help="seconds after the last departure")
    ap.add_argument("--out", default="out/conflict_check")
    args = ap.parse_args()
    root, out = Path(args.scenarios), Path(args.out)
    if not root.is_dir():
        print(f"no scenarios at {root}; nothing to do")
        return 0
    rows = []
    head = (
        f"{'scenario':<13}{'signals':>8}{'traffic s':>16}{'simulated s':>13}{'steps':>8}"
        f"{'signal-steps':>14}{'violations':>12}{'retimings':>11}{'arrived':>9}"
        f"{'unfinished':>12}{'wall s':>8}"
    )
    print(head, flush=True)
    for name in args.names.split(","):
        cfg = root / name / f"{name}.sumocfg"
        if not cfg.is_file():
            print(f"skipping {name}: {cfg} not found")
            continue
        r = check(cfg, args.drain, out)
        rows.append(r)
        dep = f"{r['departures_s'][0]:.0f}-{r['departures_s'][1]:.0f}"
        print(
            f"{name:<13}{r['signals']:>8}{dep:>16}{r['simulated_s']:>13.0f}{r['steps_checked']:>8}"
            f"{r['signal_steps_checked']:>14}{r['violations']:>12}{r['retimings']:>11}"
            f"{r['vehicles_arrived']:>9}{r['vehicles_unfinished']:>12}{r['wall_s']:>8.1f}",
            flush=True,
        )
        for v in r["first_violations"]:
            print(f"    {v}")
    total = sum(r["violations"] for r in rows)
    print(
        f"\n{sum(r['simulated_s'] for r in rows) / 3600:.2f} simulated hours, "
        f"{sum(r['signal_steps_checked'] for r in rows)} signal-steps checked, "
        f"{total} violations (traffic: each scenario's route departures; then {args.drain:.0f} s "
        "of drain)"
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
