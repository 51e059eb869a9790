"""What an executor costs: the same 8-run sweep on the local process pool and on local Ray.

    .venv/bin/python benchmarks/sweep_overhead.py                  # yizhuang_core, 300 s runs
    .venv/bin/python benchmarks/sweep_overhead.py --end 900 --jobs 4 --repeat 3

For each executor it prints the sweep's wall time, the time the runs spent inside their
task (``task_wall_s``: scenario set-up, simulation, metrics) and inside SUMO
(``sim_wall_s``), the overhead per task -- executor slot time not spent inside a task,
``(jobs * wall - sum(task_wall)) / runs`` (worker start, imports, scheduling, tail) -- and
the wall per task of 8 no-op tasks (the executor alone). Ray's start-up is timed apart.
Repeats alternate the executors; the best of each is shown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from signal_opt.runs import RunSpec
from signal_opt.sweep import SweepGrid, make_backend, make_sources, run_sweep
from signal_opt.sweep.executors import Outcome, execute
from signal_opt.sweep.worker import noop


def timed_sweep(grid: SweepGrid, executor: str, jobs: int, root: Path) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix=f"{executor}-", dir=root))
    result = run_sweep(grid, out, executor=executor, jobs=jobs, log=lambda _: None)
    if not result.ok:
        raise SystemExit(f"{executor}: {result.failed} runs failed, see {out}/results.csv")
    n = len(result.rows)
    task = sum(float(r["task_wall_s"]) for r in result.rows)
    return {
        "sweep wall s": result.wall_s,
        "sum task wall s": task,
        "sum sim wall s": sum(float(r["sim_wall_s"]) for r in result.rows),
        "overhead s / task": (jobs * result.wall_s - task) / n,
    }


def timed_noop(executor: str, jobs: int, n: int) -> float:
    specs = [RunSpec(strategy="fixed", out_dir=f"/nonexistent/{i}") for i in range(n)]
    backend = make_backend(executor, jobs, fn=noop)
    done: list[Outcome] = []
    t0 = time.perf_counter()
    execute(specs, backend, 0, done.append)
    wall = time.perf_counter() - t0
    assert all(o.ok for o in done) and len(done) == n
    return jobs * wall / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="yizhuang_core")
    ap.add_argument("--controllers", default="fixed,max-pressure")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--end", type=float, default=300.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import ray

    grid = SweepGrid(
        sources=make_sources([args.network]),
        strategies=tuple(args.controllers.split(",")),
        seeds=tuple(range(args.seeds)),
        end=args.end,
    )
    n = len(grid.cells())
    root = Path(tempfile.mkdtemp(prefix="sweep-overhead-"))
    best: dict[str, dict[str, float]] = {"process pool": {}, "local Ray": {}}

    def keep(name: str, figures: dict[str, float]) -> None:
        for k, v in figures.items():
            best[name][k] = min(v, best[name].get(k, float("inf")))

    for _ in range(args.repeat):
        keep(
            "process pool",
            {
                "start-up s": 0.0,
                **timed_sweep(grid, "process", args.jobs, root),
                "no-op task s": timed_noop("process", args.jobs, n),
            },
        )
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=args.jobs, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter() - t0
        try:  # the sweep finds Ray initialised and uses it, so start-up is timed apart
            keep(
                "local Ray",
                {
                    "start-up s": start,
                    **timed_sweep(grid, "ray", args.jobs, root),
                    "no-op task s": timed_noop("ray", args.jobs, n),
                },
            )
        finally:
            ray.shutdown()

    load = os.getloadavg()[0]
    print(
        f"{n}-run sweep: {args.network}, {args.controllers} x {args.seeds} seeds, "
        f"{args.end:.0f} s each; jobs={args.jobs}; best of {args.repeat}; "
        f"load {load:.1f} on {os.cpu_count()} cores; outputs in {root}"
    )
    names = list(best)
    print(f"{'':22}" + "".join(f"{name:>14}" for name in names) + f"{'Ray / pool':>12}")
    for key in best[names[0]]:
        a, b = best[names[0]][key], best[names[1]][key]
        ratio = f"{b / a:12.2f}" if a > 0 else f"{'':>12}"
        print(f"{key:22}" + "".join(f"{best[name][key]:14.2f}" for name in names) + ratio)
    total = {name: best[name]["start-up s"] + best[name]["sweep wall s"] for name in names}
    print(
        f"{'wall incl. start-up s':22}"
        + "".join(f"{total[name]:14.2f}" for name in names)
        + f"{total[names[1]] / total[names[0]]:12.2f}"
    )


if __name__ == "__main__":
    main()
