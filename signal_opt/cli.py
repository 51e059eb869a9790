"""``signal-opt``: the command line, a thin layer over :mod:`signal_opt.runs` and friends.

Errors a user can cause (missing files, unknown strategies, a network without signals)
print one line and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signal_opt.strategies import STRATEGIES
from signal_opt.sumo.files import sumo_time

if TYPE_CHECKING:
    from signal_opt.runs import RunSpec


class UsageError(Exception):
    """An error the user can fix; printed as one line."""


def _add_scenario(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sumocfg", help="a SUMO configuration of your own scenario")
    src.add_argument("--network", help="a bundled network, e.g. yizhuang_core")
    p.add_argument(
        "--scale", type=float, default=1.0, help="demand scale (1.0 = base year, 1.2 = +20%%)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--begin", type=sumo_time, default=None, help="simulation begin (s or hh:mm:ss)")
    p.add_argument("--end", type=sumo_time, default=None, help="simulation end (s or hh:mm:ss)")
    p.add_argument("--plan-file", help="plans for the fixed strategy (JSON or plans.jsonl)")
    p.add_argument(
        "--pedestrian-recall",
        action="store_true",
        help="adaptive: every green runs its pedestrian walk, as fixed-time plans do "
        "(default: walks on push-button call)",
    )


def _options(args: argparse.Namespace) -> dict:
    opts = {}
    if getattr(args, "plan_file", None):
        opts["plan_file"] = args.plan_file
    if getattr(args, "pedestrian_recall", False):
        opts["pedestrian_recall"] = True
    return opts


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="signal-opt",
        description="Detector-driven signal retiming: simulate and compare strategies on SUMO "
        "scenarios, benchmark the core, run the retiming service.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="run one scenario under one strategy")
    _add_scenario(s)
    s.add_argument("--controller", required=True, help=f"one of {', '.join(STRATEGIES)}")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument(
        "--backend",
        choices=["libsumo", "traci", "gui"],
        default="libsumo",
        help="libsumo (fast, default), traci (socket) or gui (sumo-gui over traci)",
    )

    c = sub.add_parser("compare", help="run several strategies on the same scenario and seed")
    _add_scenario(c)
    c.add_argument(
        "--controllers",
        default=",".join(STRATEGIES),
        help="comma-separated strategies",
    )
    c.add_argument("--out", required=True)
    c.add_argument("--jobs", type=int, default=None, help="parallel simulations (default: cores)")

    d = sub.add_parser("demo", help="the Yizhuang comparison on embedded defaults")
    d.add_argument("--out", default="out/demo")
    d.add_argument("--network", default="yizhuang_core")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--jobs", type=int, default=None)
    d.add_argument("--end", type=float, default=None, help="shorten the day (s) for a quick look")

    b = sub.add_parser("bench", help="benchmark the optimization core")
    b.add_argument("--json", action="store_true", help="print one JSON object")

    sub.add_parser("networks", help="list the bundled networks")

    from signal_opt.sweep.command import add_parser as add_sweep_parser

    add_sweep_parser(sub)

    from signal_opt.stress.command import add_parser as add_stress_parser

    add_stress_parser(sub)

    from signal_opt.api.commands import add_parsers

    add_parsers(sub)  # serve, keys
    return p


def _spec(args: argparse.Namespace, strategy: str, out_dir: str, **kw: Any) -> RunSpec:
    """One run of ``strategy`` on the scenario the scenario flags describe."""
    from signal_opt.runs import RunSpec

    return RunSpec(
        strategy=strategy,
        out_dir=out_dir,
        sumocfg=args.sumocfg,
        network=args.network,
        scale=args.scale,
        seed=args.seed,
        begin=args.begin,
        end=args.end,
        options=_options(args),
        **kw,
    )


def _cmd_simulate(args: argparse.Namespace) -> int:
    from signal_opt.runs import format_table, run_spec

    spec = _spec(args, args.controller, args.out, backend=args.backend)
    row = run_spec(spec)
    print(format_table([row]))
    print(f"outputs in {args.out}: tripinfo.xml metrics.json plans.jsonl")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from signal_opt.report import write_report
    from signal_opt.runs import format_table, run_many
    from signal_opt.strategies import make_controller

    names = [n.strip() for n in args.controllers.split(",") if n.strip()]
    for n in names:
        make_controller(n, **_options(args))  # unknown names fail before any run
    out = Path(args.out)
    specs = [_spec(args, n, str(out / n), progress=False) for n in names]
    rows = run_many(specs, args.jobs)
    print(format_table(rows))
    scenario = args.network or Path(args.sumocfg).stem
    report = write_report(rows, out, f"{scenario} at {args.scale:.2f}x demand, seed {args.seed}")
    print(f"report: {report}")
    return 1 if any("error" in r for r in rows) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from signal_opt.demo import run_demo

    return run_demo(
        Path(args.out), network=args.network, seed=args.seed, jobs=args.jobs, end=args.end
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from signal_opt.bench import run_benchmark

    result = run_benchmark(json_output=args.json)
    if args.json:
        print(json.dumps(result))
    return 0


def _cmd_networks(args: argparse.Namespace) -> int:
    from signal_opt.sumo.scenario import bundled_networks, networks_dir

    for name in bundled_networks():
        print(name)
    print(f"(from {networks_dir()})", file=sys.stderr)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from signal_opt.sweep import SweepError
    from signal_opt.sweep.command import run_command

    try:
        return run_command(args)
    except SweepError as exc:
        raise UsageError(str(exc)) from exc


def _cmd_stress(args: argparse.Namespace) -> int:
    from signal_opt.stress.command import run_command
    from signal_opt.sweep import SweepError

    try:
        return run_command(args)
    except SweepError as exc:
        raise UsageError(str(exc)) from exc


COMMANDS = {
    "simulate": _cmd_simulate,
    "compare": _cmd_compare,
    "demo": _cmd_demo,
    "bench": _cmd_bench,
    "networks": _cmd_networks,
    "sweep": _cmd_sweep,
    "stress": _cmd_stress,
}


def main(argv: Sequence[str] | None = None) -> int:
    from signal_opt.api.commands import COMMANDS as SERVICE_COMMANDS

    args = _parser().parse_args(argv)
    try:
        return {**COMMANDS, **SERVICE_COMMANDS}[args.command](args)
    except KeyboardInterrupt:
        print("signal-opt: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _is_user_error(exc):
            print(f"signal-opt: error: {exc}", file=sys.stderr)
            return 2
        raise


def _is_user_error(exc: Exception) -> bool:
    from signal_opt.model import PlanError
    from signal_opt.strategies import UnknownStrategyError
    from signal_opt.sumo.network import NetworkError
    from signal_opt.sumo.scenario import ScenarioError
    from signal_opt.sumo.simulation import SimulationError
    from signal_opt.sumo.strategies.fixed import PlanFileError

    return isinstance(
        exc,
        (
            UsageError,
            UnknownStrategyError,
            PlanFileError,
            PlanError,
            NetworkError,
            ScenarioError,
            SimulationError,
            FileNotFoundError,
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
