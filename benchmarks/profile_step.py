"""Where a controlled run's controller time goes: wall seconds inside each part of the
per-step path (detector reads, the kernel's decision, the driver) and of the per-minute
and per-retiming work, for one run.

    .venv/bin/python benchmarks/profile_step.py [--network yizhuang_district] [--end 3600]
        [--strategy adaptive]

Each part is timed by wrapping its function (a few microseconds per call go to the
wrapping itself); ``control`` is the run's own ``control_wall_s``.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import defaultdict
from typing import Any

from signal_opt.controllers import adaptive, max_pressure
from signal_opt.detectors import DemandEstimator
from signal_opt.runs import RunSpec, run_spec
from signal_opt.sumo.detector_reader import DetectorReader
from signal_opt.sumo.driver import SignalDriver

PARTS: list[tuple[Any, str, str]] = [
    (DetectorReader, "queue_counts", "read queue zones (per step)"),
    (DetectorReader, "read_arrays", "read gaps, standing (per step)"),
    (adaptive, "decide_free", "kernel: decide_free"),
    (adaptive, "first_zones", "kernel: first_zones"),
    (adaptive, "detail_rows", "kernel: detail_rows"),
    (max_pressure, "decide_max_pressure", "kernel: decide_max_pressure"),
    (SignalDriver, "advance", "driver: advance"),
    (SignalDriver, "request_stages", "driver: request_stages"),
    (DetectorReader, "last_interval", "read intervals (per minute)"),
    (DemandEstimator, "add_arrays", "estimator: add a minute"),
    (adaptive.AdaptiveController, "_retime", "retime the network"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--network", default="yizhuang_district")
    ap.add_argument("--end", type=float, default=3600.0)
    ap.add_argument("--strategy", default="adaptive")
    ap.add_argument("--out", default="out/profile_step")
    args = ap.parse_args()
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)

    def timed(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                seconds[label] += time.perf_counter() - t0
                calls[label] += 1

        setattr(owner, name, wrapper)

    for owner, name, label in PARTS:
        timed(owner, name, label)
    spec = RunSpec(args.strategy, args.out, network=args.network, end=args.end, progress=False)
    row = run_spec(spec)
    print(
        f"# {args.strategy} on {args.network}, {args.end:g} s: run {row['sim_wall_s']:.2f} s,"
        f" control {row['control_wall_s']:.2f} s"
    )
    print(f"{'part':<32}{'seconds':>9}{'calls':>8}{'us / call':>11}")
    for label in sorted(seconds, key=seconds.__getitem__, reverse=True):
        per = seconds[label] / calls[label] * 1e6
        print(f"{label:<32}{seconds[label]:>9.3f}{calls[label]:>8}{per:>11.1f}")


if __name__ == "__main__":
    main()
