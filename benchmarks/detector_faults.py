"""Adaptive control with failing detectors against the network's own fixed plan.

    .venv/bin/python benchmarks/detector_faults.py [--network yizhuang_core] [--scale 1.0]
        [--end SECONDS] [--jobs 2]

Injects, in one run: 10 % of the advance loops stuck on / stuck off / chattering / missing
(a quarter each) and 30 % of all other detectors dropping out at random in every interval;
prints mean time loss of fixed, clean adaptive and faulty adaptive, side by side, and the
faults detected and fallbacks as each run's ``metrics.json`` reports them (``"controller"``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from signal_opt.strategies import make_controller
from signal_opt.sumo.detectors import place_detectors
from signal_opt.sumo.faults import FaultyReader
from signal_opt.sumo.scenario import bundled
from signal_opt.sumo.simulation import run

KINDS = ("stuck_on", "stuck_off", "chattering", "missing")


def one(args: tuple[str, str, float, float | None, str]) -> tuple[str, float, int, dict]:
    label, network, scale, end, out = args
    sc = bundled(network, Path(out) / "demand", scale=scale, seed=0).with_window(None, end)
    reader = None
    if label == "adaptive+faults":
        loops = [s.id for s in place_detectors(sc.net_file) if s.kind == "advance"]
        faulty = loops[:: max(1, len(loops) // max(1, len(loops) // 10))]
        faults = {d: KINDS[i % 4] for i, d in enumerate(faulty)}
        reader = partial(FaultyReader, faults=faults, dropout=0.3)
    kw = {"reader_factory": reader} if reader else {}
    ctl = make_controller("fixed" if label == "fixed" else "adaptive")
    run(sc, ctl, Path(out) / label, progress=False, **kw)
    metrics = json.loads((Path(out) / label / "metrics.json").read_text())
    return label, metrics["mean_time_loss_s"], metrics["vehicles_unfinished"], metrics["controller"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", default="yizhuang_core")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--end", type=float, default=None, help="end earlier than the full day")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="out/faults")
    a = ap.parse_args()
    labels = ("fixed", "adaptive", "adaptive+faults")
    jobs = [(label, a.network, a.scale, a.end, a.out) for label in labels]
    with ProcessPoolExecutor(
        a.jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        rows = list(pool.map(one, jobs))
    head = f"{'run':<18}{'time loss s':>12}{'unfinished':>12}{'fallback plans':>16}"
    print(f"{head}  signals fallen back  faults detected (faulty detectors)")
    for label, loss, unfinished, c in rows:
        line = f"{label:<18}{loss:>12.1f}{unfinished:>12}"
        if c:
            faults = " ".join(f"{k}={c['detector_faults'][k]}" for k in KINDS)
            line += f"{c['fallback_plans']:>16}  {len(c['fallback_intersections']):>19}  "
            line += f"{faults} ({c['faulty_detectors']})"
        print(line)


if __name__ == "__main__":
    main()
