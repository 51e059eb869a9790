"""Adaptive control with failing detectors against the network's own fixed plan.

    .venv/bin/python benchmarks/detector_faults.py [--network yizhuang_core] [--scale 1.0]

Injects, in one run: 10 % of the advance loops stuck on / stuck off / chattering / missing
(a quarter each) and 30 % of all other detectors dropping out at random in every interval;
prints mean time loss of fixed, clean adaptive and faulty adaptive, side by side, and the
faults the controller detected.
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from signal_opt.controllers import make_controller
from signal_opt.controllers.adaptive import AdaptiveController
from signal_opt.sumo.detectors import place_detectors
from signal_opt.sumo.faults import FaultyReader
from signal_opt.sumo.scenario import bundled
from signal_opt.sumo.simulation import run

KINDS = ("stuck_on", "stuck_off", "chattering", "missing")


def one(args: tuple[str, str, float, str]) -> tuple[str, float, int, dict]:
    label, network, scale, out = args
    sc = bundled(network, Path(out) / "demand", scale=scale, seed=0)
    if label == "fixed":
        m = run(sc, make_controller("fixed"), Path(out) / label, progress=False)
        return label, m.mean_time_loss_s, m.vehicles_unfinished, {}
    ctl = AdaptiveController()
    reader = None
    if label == "adaptive+faults":
        loops = [s.id for s in place_detectors(sc.net_file) if s.kind == "advance"]
        faulty = loops[:: max(1, len(loops) // max(1, len(loops) // 10))]
        faults = {d: KINDS[i % 4] for i, d in enumerate(faulty)}
        reader = partial(FaultyReader, faults=faults, dropout=0.3)
    kw = {"reader_factory": reader} if reader else {}
    m = run(sc, ctl, Path(out) / label, progress=False, **kw)
    return label, m.mean_time_loss_s, m.vehicles_unfinished, dict(ctl.estimator.new_faults)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", default="yizhuang_core")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", default="out/faults")
    a = ap.parse_args()
    jobs = [
        (label, a.network, a.scale, a.out) for label in ("fixed", "adaptive", "adaptive+faults")
    ]
    with ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        rows = list(pool.map(one, jobs))
    print(f"{'run':<18}{'time loss s':>12}{'unfinished':>12}  faults detected")
    for label, loss, unfinished, found in rows:
        print(f"{label:<18}{loss:>12.1f}{unfinished:>12}  {found or ''}")


if __name__ == "__main__":
    main()
