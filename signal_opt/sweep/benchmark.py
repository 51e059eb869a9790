"""Every scenario of a folder under every strategy and seed, and each scenario's best peer.

The body of ``benchmarks/resco.py`` and ``benchmarks/shared.py``: a folder holds one
subfolder per scenario with its ``.sumocfg``; each scenario runs under each strategy on
the same seeds (:func:`signal_opt.runs.run_many`, progress shown as they go). Per scenario
and strategy the figures are means over the seeds that finished; the best peer is the
strategy of least mean time loss but adaptive (:func:`signal_opt.runs.best_peer`).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from signal_opt.runs import ADAPTIVE, RunSpec, adaptive_over_best_peer, best_peer, run_many
from signal_opt.strategies import STRATEGIES
from signal_opt.sweep.grid import SweepError, parse_list, parse_seeds


@dataclass(frozen=True)
class ScenarioDir:
    """One scenario of the folder: its subfolder's name and configuration."""

    name: str
    sumocfg: Path


def find_scenarios(
    root: Path, names: Sequence[str] | None = None
) -> tuple[list[ScenarioDir], list[str]]:
    """The scenarios of ``root`` (all subfolders in name order, or ``names`` in their order)
    and a line for each one skipped: no ``.sumocfg``, or several and none named like the
    folder."""
    folders = (
        [root / n for n in names] if names else sorted(p for p in root.iterdir() if p.is_dir())
    )
    found, skipped = [], []
    for folder in folders:
        cfgs = sorted(folder.glob("*.sumocfg")) if folder.is_dir() else []
        own = folder / f"{folder.name}.sumocfg"
        if len(cfgs) == 1 or own in cfgs:
            found.append(ScenarioDir(folder.name, own if own in cfgs else cfgs[0]))
        elif not folder.is_dir():
            skipped.append(f"skipping {folder.name}: no folder {folder}")
        elif not cfgs:
            skipped.append(f"skipping {folder.name}: no .sumocfg in {folder}")
        else:
            listed = ", ".join(c.name for c in cfgs)
            skipped.append(
                f"skipping {folder.name}: several .sumocfg ({listed}), none named {own.name}"
            )
    return found, skipped


def benchmark_specs(
    scenarios: Sequence[ScenarioDir],
    strategies: Sequence[str],
    seeds: Sequence[int],
    out: Path,
) -> list[RunSpec]:
    """Scenario-major, then seed, then strategy: a scenario's runs of one seed go together.

    Folders ``out/<scenario>/<strategy>[/seed<N>]``, labels ``scenario:strategy[:seed]``
    (the seed only when there are several).
    """
    many = len(seeds) > 1
    return [
        RunSpec(
            strategy=strategy,
            out_dir=str(out / sc.name / strategy / (f"seed{seed}" if many else "")),
            sumocfg=str(sc.sumocfg),
            seed=seed,
            label=f"{sc.name}:{strategy}" + (f":{seed}" if many else ""),
            progress=False,
        )
        for sc in scenarios
        for seed in seeds
        for strategy in strategies
    ]


def run_benchmark(
    scenarios: Sequence[ScenarioDir],
    strategies: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    jobs: int | None = None,
) -> list[dict[str, Any]]:
    """Every run's row (failed ones with ``error``), named by its scenario's folder, its
    strategy and its seed."""
    specs = benchmark_specs(scenarios, strategies, seeds, out)
    names = [sc.name for sc in scenarios for _ in seeds for _ in strategies]
    rows = run_many(specs, jobs)
    return [
        {**row, "scenario": name, "strategy": spec.strategy, "seed": spec.seed}
        for row, name, spec in zip(rows, names, specs)
    ]


def _left(r: dict[str, Any]) -> float:
    return float(r["vehicles_unfinished"] + r["vehicles_never_inserted"])


FIGURES: tuple[tuple[str, Callable[[dict[str, Any]], float]], ...] = (
    ("mean_time_loss_s", lambda r: float(r["mean_time_loss_s"])),
    ("average_speed_kmh", lambda r: float(r["average_speed_kmh"])),
    ("vehicles_left", _left),
    ("teleports", lambda r: float(r["teleports"])),
)
"""The figures per scenario and strategy (means over seeds); ``vehicles_left`` is
unfinished + never inserted."""


def summarize(rows: Sequence[dict[str, Any]], strategies: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per scenario (in first-seen order): per strategy the means over the seeds
    that finished, the failures and on how many seeds adaptive lost less time; the best
    peer and ``adaptive_over_best_peer`` (None when either is missing)."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        by.setdefault(r["scenario"], {}).setdefault(r["strategy"], []).append(r)
    out = []
    for scenario, runs in by.items():
        ours = {r["seed"]: r for r in runs.get(ADAPTIVE, []) if "error" not in r}
        table = []
        for strategy in [s for s in strategies if s in runs]:
            ok = [r for r in runs[strategy] if "error" not in r]
            entry: dict[str, Any] = {
                "strategy": strategy,
                "runs": len(ok),
                "failed": [
                    {"seed": r["seed"], "error": r["error"]} for r in runs[strategy] if "error" in r
                ],
            }
            for name, value in FIGURES:
                entry[name] = mean(value(r) for r in ok) if ok else math.nan
            both = [r for r in ok if r["seed"] in ours]
            entry["adaptive_lower_on"] = (
                None
                if strategy == ADAPTIVE
                else [
                    sum(ours[r["seed"]]["mean_time_loss_s"] < r["mean_time_loss_s"] for r in both),
                    len(both),
                ]
            )
            table.append(entry)
        best = best_peer(table)
        ada = next((e for e in table if e["strategy"] == ADAPTIVE and e["runs"]), None)
        ratio = (
            adaptive_over_best_peer(ada["mean_time_loss_s"], best["mean_time_loss_s"])
            if ada and best
            else None
        )
        out.append(
            {
                "scenario": scenario,
                "strategies": table,
                "best_peer": best["strategy"] if best else None,
                "best_peer_time_loss_s": best["mean_time_loss_s"] if best else None,
                "adaptive_time_loss_s": ada["mean_time_loss_s"] if ada else None,
                "adaptive_over_best_peer": ratio,
            }
        )
    return out


def mean_ratio(summary: Sequence[dict[str, Any]]) -> float | None:
    """The mean of adaptive / best peer over the scenarios that have both."""
    ratios = [s["adaptive_over_best_peer"] for s in summary]
    ratios = [r for r in ratios if r is not None and math.isfinite(r)]
    return mean(ratios) if ratios else None


def format_summary(summary: Sequence[dict[str, Any]], seeds: Sequence[int]) -> str:
    """Per scenario a table of the strategies, its failed runs, the best peer and adaptive
    / best peer; then the mean ratio over scenarios."""
    many = len(seeds) > 1
    heads = ["strategy", "time loss s", "speed km/h", "unfinished+never ins.", "teleports"]
    if many:
        heads += ["seeds", "adaptive lower on"]
    blocks = []
    for s in summary:
        body = []
        for e in s["strategies"]:
            if not e["runs"]:
                body.append([e["strategy"], "FAILED"] + [""] * (len(heads) - 2))
                continue
            count = "{:.1f}" if many else "{:.0f}"
            cells = [
                e["strategy"],
                f"{e['mean_time_loss_s']:.2f}",
                f"{e['average_speed_kmh']:.2f}",
                count.format(e["vehicles_left"]),
                count.format(e["teleports"]),
            ]
            if many:
                wins = e["adaptive_lower_on"]
                cells += [str(e["runs"]), f"{wins[0]}/{wins[1]} seeds" if wins and wins[1] else ""]
            body.append(cells)
        lines = [s["scenario"], *_table(heads, body, indent="  ")]
        for e in s["strategies"]:
            for f in e["failed"]:
                seed = f" seed {f['seed']}" if many else ""
                lines.append(f"  FAILED {e['strategy']}{seed}: {f['error']}")
        if s["best_peer"] is not None:
            text = f"  best peer: {s['best_peer']} {s['best_peer_time_loss_s']:.2f} s"
            ratio = s["adaptive_over_best_peer"]
            if ratio is not None:
                text += f"; adaptive / best peer: {ratio:.3f}"
            lines.append(text)
        blocks.append("\n".join(lines))
    ratios = [(s["scenario"], s["adaptive_over_best_peer"]) for s in summary]
    ratios = [(n, r) for n, r in ratios if r is not None and math.isfinite(r)]
    overall = mean_ratio(summary)
    if overall is not None:
        each = ", ".join(f"{n} {r:.3f}" for n, r in ratios)
        blocks.append(
            f"mean adaptive / best peer over {_count(len(ratios), 'scenario')}: {overall:.3f} "
            f"({each})"
        )
    return "\n\n".join(blocks)


def _table(heads: Sequence[str], body: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]

    def line(cells: Sequence[str]) -> str:
        return (
            indent
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()
        )

    return [line(heads), line(["-" * w for w in widths]), *(line(r) for r in body)]


def add_arguments(
    ap: argparse.ArgumentParser, scenarios: Path, out: str, names: Sequence[str] = ()
) -> None:
    """The options every folder benchmark takes (defaults: the ``scenarios`` folder, every
    strategy, seed 0, as many jobs as cores)."""
    ap.add_argument("--scenarios", default=str(scenarios), help="one subfolder per scenario")
    ap.add_argument(
        "--names",
        default=",".join(names),
        help="comma-separated scenario folders (default: " + (",".join(names) or "all") + ")",
    )
    ap.add_argument(
        "--strategies",
        "--controllers",
        dest="strategies",
        default=",".join(STRATEGIES),
        help="comma-separated strategies (default: all)",
    )
    ap.add_argument("--seeds", default="0", help="0, 0,1,2, 0-9 or 0-4,10")
    ap.add_argument("--jobs", type=int, default=None, help="parallel simulations (default: cores)")
    ap.add_argument("--out", default=out, help=f"output folder (default {out})")


def main_from_args(args: argparse.Namespace, title: str) -> int:
    """Run the benchmark the options describe, print it, write ``<out>/results.json``.

    Exit status 0 (also when the folder is missing: nothing to do), 1 if a run failed,
    2 for bad options.
    """
    root = Path(args.scenarios)
    if not root.is_dir():
        print(f"{title}: no scenarios folder at {root}; nothing to do (--scenarios DIR)")
        return 0
    try:
        strategies = parse_list(args.strategies, "--strategies")
        seeds = parse_seeds(args.seeds)
        unknown = [s for s in strategies if s not in STRATEGIES]
        if unknown:
            raise SweepError(
                f"unknown strategy {unknown[0]!r}; choose from: {', '.join(STRATEGIES)}"
            )
    except SweepError as exc:
        print(f"{title}: error: {exc}")
        return 2
    names = parse_list(args.names, "--names") if args.names.strip() else None
    scenarios, skipped = find_scenarios(root, names)
    for line in skipped:
        print(line)
    if not scenarios:
        print(f"{title}: no scenario to run in {root}")
        return 0
    out = Path(args.out)
    print(
        f"{title}: {_count(len(scenarios), 'scenario')} x {_count(len(strategies), 'strategy')} "
        f"x {_count(len(seeds), 'seed')} from {root}, results in {out}/",
        flush=True,
    )
    rows = run_benchmark(scenarios, strategies, seeds, out, args.jobs)
    summary = summarize(rows, strategies)
    print()
    print(format_summary(summary, seeds))
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "scenarios_dir": str(root),
        "strategies": strategies,
        "seeds": list(seeds),
        "summary": summary,
        "mean_adaptive_over_best_peer": mean_ratio(summary),
        "runs": rows,
    }
    (out / "results.json").write_text(json.dumps(_finite(result), indent=2) + "\n")
    print(f"results: {out / 'results.json'}")
    return 1 if any("error" in r for r in rows) else 0


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
