"""Every strategy on the RESCO scenarios (Cologne, Ingolstadt), beside the published figures.

    .venv/bin/python benchmarks/resco.py --scenarios DIR [--names cologne1,cologne3]

``DIR`` holds one folder per scenario with its ``.sumocfg`` (the RESCO benchmark networks
as redistributed with sumo-rl). Exits cleanly when the folder is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from signal_opt.runs import RunSpec, format_table, run_many

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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
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
        for c in args.controllers.split(","):
            specs.append(
                RunSpec(
                    strategy=c,
                    out_dir=f"{args.out}/{name}/{c}",
                    sumocfg=str(cfg),
                    seed=args.seed,
                    label=f"{name}:{c}",
                    progress=False,
                )
            )
    rows = run_many(specs, args.jobs)
    print(format_table(rows))
    print()
    print("published RESCO mean time loss (s): " + json.dumps(PUBLISHED))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    Path(args.out, "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
