"""``signal-opt sweep``: the grid from flags and/or a grid file, then :func:`run_sweep`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from signal_opt.strategies import STRATEGIES
from signal_opt.sweep.executors import EXECUTORS
from signal_opt.sweep.grid import (
    SweepError,
    SweepGrid,
    make_sources,
    parse_list,
    parse_scales,
    parse_seeds,
    read_grid_file,
)

EPILOG = """\
examples:
  signal-opt sweep --network yizhuang_core --controllers fixed,webster,max-pressure \\
      --scales 1.0,1.2 --seeds 0-4 --end 3600 --out out/sweep
  signal-opt sweep --grid grid.toml --out out/sweep --executor ray --address auto
outputs in --out: results.csv (one row per run), summary.csv, summary.md, runs/<...>/
a re-run with the same --out skips the runs already done.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` sub-command to ``sub`` (an argparse sub-parsers action)."""
    w: argparse.ArgumentParser = sub.add_parser(
        "sweep",
        help="run a grid of scenarios x strategies x scales x seeds",
        description="Run a grid of independent simulations on a local process pool or on "
        "Ray, gather one results table and a summary with 95%% confidence intervals.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    w.add_argument("--grid", help="a grid file (TOML or JSON); flags given override it")
    w.add_argument(
        "--network", action="append", default=None, help="a bundled network (repeatable)"
    )
    w.add_argument(
        "--sumocfg", action="append", default=None, help="a SUMO configuration (repeatable)"
    )
    w.add_argument(
        "--controllers",
        default=None,
        help=f"comma-separated strategies (default: {','.join(STRATEGIES)})",
    )
    w.add_argument("--scales", default=None, help="comma-separated demand scales (default 1.0)")
    w.add_argument("--seeds", default=None, help="seeds: 0,1,2 or 0-4 (default 0)")
    w.add_argument("--begin", type=float, default=None, help="simulation begin (s)")
    w.add_argument("--end", type=float, default=None, help="simulation end (s)")
    w.add_argument("--out", required=True, help="output folder (re-use it to resume)")
    w.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="process",
        help="process: local process pool (default); ray: Ray tasks",
    )
    w.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (auto, ray://host:10001); default: a local Ray",
    )
    w.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="parallel simulations on this machine (default: cores)",
    )
    w.add_argument(
        "--retries",
        type=int,
        default=2,
        help="extra attempts for a run that fails or whose worker dies (default 2)",
    )
    return w


def grid_from_args(args: argparse.Namespace) -> SweepGrid:
    values: dict[str, Any] = read_grid_file(args.grid) if args.grid else {}
    if args.network or args.sumocfg:
        values["sources"] = make_sources(args.network or (), args.sumocfg or ())
    if args.controllers is not None:
        values["strategies"] = tuple(parse_list(args.controllers, "--controllers"))
    values.setdefault("strategies", STRATEGIES)
    if args.scales is not None:
        values["scales"] = parse_scales(args.scales)
    if args.seeds is not None:
        values["seeds"] = parse_seeds(args.seeds)
    for key in ("begin", "end"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    values.setdefault("sources", ())
    return SweepGrid(**values)


def run_command(args: argparse.Namespace) -> int:
    from signal_opt.sumo.scenario import bundled_networks
    from signal_opt.sweep.runner import run_sweep
    from signal_opt.sweep.summary import format_summary

    if args.retries < 0:
        raise SweepError(f"--retries must be >= 0, got {args.retries}")
    if args.jobs is not None and args.jobs < 1:
        raise SweepError(f"--jobs must be >= 1, got {args.jobs}")
    grid = grid_from_args(args)
    known = bundled_networks()
    for src in grid.sources:
        if src.sumocfg and not Path(src.sumocfg).is_file():
            raise SweepError(f"configuration file not found: {src.sumocfg}")
        if src.network and src.network not in known:
            raise SweepError(f"unknown network {src.network!r} (bundled: {', '.join(known)})")
    result = run_sweep(
        grid,
        args.out,
        executor=args.executor,
        jobs=args.jobs,
        retries=args.retries,
        address=args.address,
    )
    print(format_summary(result.summary))
    print(
        f"{len(result.rows)} runs ({result.ran} run now, {result.failed} failed) in "
        f"{result.wall_s:.1f} s; results in {os.path.relpath(result.out)}: results.csv "
        "summary.csv summary.md"
    )
    return 1 if result.failed else 0
