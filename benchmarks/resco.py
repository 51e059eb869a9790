"""Every strategy on the RESCO scenarios (Cologne, Ingolstadt), beside the published figures.

    .venv/bin/python benchmarks/resco.py --scenarios DIR [--names cologne1,cologne3]
    .venv/bin/python benchmarks/resco.py --scenarios DIR --seeds 0-19

``DIR`` holds one folder per scenario with its ``.sumocfg`` (the RESCO benchmark networks
as redistributed with sumo-rl). Exits cleanly when the folder is missing. With several
seeds, a summary follows the runs: per scenario and strategy the mean time loss and
vehicles left (unfinished + never inserted) over the seeds, and on how many seeds
adaptive had less time loss than each peer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean

from signal_opt.runs import RunSpec, format_table, run_many
from signal_opt.sweep.grid import parse_seeds

# RESCO's mean tripinfo timeLoss, read off its published delay figure (SUMO 1.9, +-2 %).
PUBLISHED = {
    "cologne1": {"fixed-time": 57.2, "max-pressure": 28.5, "best learned": 27.0},
    "cologne3": {"fixed-time": 47.0, "max-pressure": 91.7, "best learned": 18.6},
    "ingolstadt1": {"fixed-time": 39.4, "max-pressure": 28.3, "best learned": 19.8},
    "ingolstadt7": {"fixed-time": 91.3, "max-pressure": 80.5, "best learned": 31.1},
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--scenarios",
        default=str(Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"),
    )
    ap.add_argument("--names", default=",".join(PUBLISHED))
    ap.add_argument("--controllers", default="fixed,webster,actuated,max-pressure,adaptive")
    ap.add_argument("--out", default="out/resco")
    ap.add_argument("--seeds", default="0", help="0, 0,1,2, 0-9 or 0-4,10")
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    many = len(seeds) > 1
    root = Path(args.scenarios)
    if not root.is_dir():
        print(f"no scenarios at {root}; nothing to do")
        return 0
    specs = []
    for name in args.names.split(","):
        cfg = root / name / f"{name}.sumocfg"
        if not cfg.is_file():
            print(f"skipping {name}: {cfg} not found")
            continue
        for seed in seeds:
            for c in args.controllers.split(","):
                specs.append(
                    RunSpec(
                        strategy=c,
                        out_dir=f"{args.out}/{name}/{c}" + (f"/seed{seed}" if many else ""),
                        sumocfg=str(cfg),
                        seed=seed,
                        label=f"{name}:{c}" + (f":{seed}" if many else ""),
                        progress=False,
                    )
                )
    rows = run_many(specs, args.jobs)
    print(format_table(rows))
    if many:
        print()
        print(summary(rows))
    print()
    print("published RESCO mean time loss (s): " + json.dumps(PUBLISHED))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "results.json").write_text(json.dumps(rows, indent=2))
    return 0


def summary(rows: list[dict]) -> str:
    """Mean time loss and vehicles left per scenario and strategy over the seeds, and on how
    many seeds adaptive lost less time than each peer."""
    runs: dict[tuple[str, str], dict[int, dict]] = {}
    for r in rows:
        if "error" in r:
            continue
        name, strategy, seed = r["label"].split(":")
        runs.setdefault((name, strategy), {})[int(seed)] = r
    lines = ["scenario      strategy        mean time loss s  mean left  adaptive lower on"]
    for (name, strategy), by_seed in runs.items():
        loss = mean(r["mean_time_loss_s"] for r in by_seed.values())
        left = mean(
            r["vehicles_unfinished"] + r["vehicles_never_inserted"] for r in by_seed.values()
        )
        ours = runs.get((name, "adaptive"), {})
        both = [s for s in by_seed if s in ours]
        wins = sum(ours[s]["mean_time_loss_s"] < by_seed[s]["mean_time_loss_s"] for s in both)
        versus = f"{wins}/{len(both)} seeds" if strategy != "adaptive" and both else ""
        lines.append(f"{name:13s} {strategy:15s} {loss:16.2f}  {left:9.1f}  {versus}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
