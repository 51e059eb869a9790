"""Every strategy on the RESCO scenarios (Cologne, Ingolstadt), beside the published figures.

    .venv/bin/python benchmarks/resco.py --scenarios DIR [--names cologne1,cologne3]
    .venv/bin/python benchmarks/resco.py --scenarios DIR --seeds 0-19

``DIR`` holds one folder per scenario with its ``.sumocfg`` (the RESCO benchmark networks
as redistributed with sumo-rl). Exits cleanly when the folder is missing. Per scenario and
strategy: mean time loss, speed, vehicles left (unfinished + never inserted) and teleports
over the seeds, the best peer (least time loss but adaptive) and adaptive / best peer;
with several seeds also on how many seeds adaptive had less time loss than each peer.
The shared body is :mod:`signal_opt.sweep.benchmark` (also ``benchmarks/shared.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from signal_opt.sweep.benchmark import add_arguments, main_from_args

# RESCO's mean tripinfo timeLoss, read off its published delay figure (SUMO 1.9, +-2 %).
PUBLISHED = {
    "cologne1": {"fixed-time": 57.2, "max-pressure": 28.5, "best learned": 27.0},
    "cologne3": {"fixed-time": 47.0, "max-pressure": 91.7, "best learned": 18.6},
    "ingolstadt1": {"fixed-time": 39.4, "max-pressure": 28.3, "best learned": 19.8},
    "ingolstadt7": {"fixed-time": 91.3, "max-pressure": 80.5, "best learned": 31.1},
}
SCENARIOS = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_arguments(ap, SCENARIOS, "out/resco", names=list(PUBLISHED))
    args = ap.parse_args()
    code = main_from_args(args, "resco")
    if Path(args.scenarios).is_dir():
        print()
        print("published RESCO mean time loss (s): " + json.dumps(PUBLISHED))
    return code


if __name__ == "__main__":
    sys.exit(main())
