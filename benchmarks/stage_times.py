"""How two strategies use the green time of one scenario: where one loses to the other.

    .venv/bin/python benchmarks/stage_times.py SUMOCFG [--strategies adaptive,sumo-delay_based]
        [--seed 0] [--since 1200] [--out out/stage_times]

Runs each strategy (two at a time) with SUMO recording every signal's state at every step
(``SaveTLSStates``) and every edge's time loss (``edgeData``), then prints per strategy,
from ``--since`` on:

- greens: how many, their mean and median length (s);
- reds: how long each stage waits between two of its greens (median, 90th and 99th
  percentile, longest), what a driver stuck at the back of a queue feels;
- the incoming edges where the first strategy loses the most time against the second.

A stage is a distinct green state string; a state with yellow, or with no green at all,
is an intergreen. This reads what SUMO shows, so it works for every strategy alike.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from dataclasses import replace
from itertools import pairwise
from multiprocessing import Pool
from pathlib import Path

import sumolib

from signal_opt.sumo.files import read_elements


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _run(job: tuple[str, str, int, str]) -> str:
    strategy, sumocfg, seed, out = job
    from signal_opt.strategies import make_controller
    from signal_opt.sumo.scenario import resolve
    from signal_opt.sumo.simulation import run

    folder = (Path(out) / strategy).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    scenario = resolve(sumocfg, None, folder, 1.0, seed, None, None)
    net = sumolib.net.readNet(str(scenario.net_file), withInternal=False)
    lines = ["<additional>", f'  <edgeData id="diag" file="{folder / "edges.xml"}"/>']
    states = folder / "states.xml"
    lines += [
        f'  <timedEvent type="SaveTLSStates" source="{tls.getID()}" dest="{states}"/>'
        for tls in net.getTrafficLights()
    ]
    add = folder / "diag.add.xml"
    add.write_text("\n".join([*lines, "</additional>"]) + "\n")
    scenario = replace(scenario, additional_files=(*scenario.additional_files, add))
    metrics = run(scenario, make_controller(strategy), folder, seed=seed, progress=False)
    return f"{strategy}: mean time loss {metrics.mean_time_loss_s:.1f} s"


def greens_and_reds(path: Path, since: float) -> tuple[list[float], list[float]]:
    """Green lengths and red waits (s) of every stage of every signal in a states file."""
    shown: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for el in read_elements(path, {"tlsState": ("time", "id", "state")}):
        shown[el.id].append((float(el.time), el.state))
    greens, reds = [], []
    for states in shown.values():
        spans: list[tuple[str, float, float]] = []  # (stage, start, end)
        for (t, state), (t_next, _) in pairwise(states):
            stage = state if "y" not in state and ("G" in state or "g" in state) else ""
            if spans and spans[-1][0] == stage and spans[-1][2] == t:
                spans[-1] = (stage, spans[-1][1], t_next)
            else:
                spans.append((stage, t, t_next))
        last_end: dict[str, float] = {}
        for stage, start, end in spans:
            if not stage:
                continue
            if start >= since:
                greens.append(end - start)
                if stage in last_end:
                    reds.append(start - last_end[stage])
            last_end[stage] = end
    return greens, reds


def edge_losses(path: Path) -> dict[str, float]:
    """Time loss (vehicle-seconds) on each edge of an edgeData file."""
    tags = {"interval": ("begin",), "edge": ("id", "timeLoss")}
    losses: dict[str, float] = defaultdict(float)
    for interval in read_elements(path, tags):
        for edge in interval.edge or ():
            losses[edge.id] += float(edge.timeLoss or 0.0)
    return losses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("sumocfg")
    ap.add_argument("--strategies", default="adaptive,sumo-delay_based")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--since", type=float, default=1200.0, help="analysis start (s)")
    ap.add_argument("--out", default="out/stage_times")
    args = ap.parse_args()
    strategies = args.strategies.split(",")
    with Pool(2, maxtasksperchild=1) as pool:  # libsumo: one simulation per process
        for line in pool.map(_run, [(s, args.sumocfg, args.seed, args.out) for s in strategies]):
            print(line)
    losses = {}
    for s in strategies:
        greens, reds = greens_and_reds(Path(args.out) / s / "states.xml", args.since)
        losses[s] = edge_losses(Path(args.out) / s / "edges.xml")
        print(
            f"{s:18s} greens {len(greens):5d}, mean {statistics.mean(greens):5.1f} s,"
            f" median {statistics.median(greens):5.1f} s | reds median"
            f" {statistics.median(reds):5.1f}, p90 {_percentile(reds, 0.9):5.1f},"
            f" p99 {_percentile(reds, 0.99):5.1f}, longest {max(reds):5.1f} s"
        )
    if len(strategies) >= 2:
        a, b = strategies[:2]
        gap = {e: v - losses[b].get(e, 0.0) for e, v in losses[a].items()}
        print(f"edges where {a} loses most against {b} (vehicle-hours, whole run):")
        for e in sorted(gap, key=lambda e: -gap[e])[:10]:
            print(
                f"  {e:24s} {gap[e] / 3600:6.1f}  ({losses[a][e] / 3600:.1f}"
                f" vs {losses[b].get(e, 0.0) / 3600:.1f})"
            )


if __name__ == "__main__":
    main()
