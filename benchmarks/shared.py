"""Every strategy on every scenario of the shared scenarios folder.

    .venv/bin/python benchmarks/shared.py [--scenarios DIR] [--names cologne1,grid4x4_lucas]
        [--strategies fixed,max-pressure,adaptive] [--seeds 0-4] [--jobs 2] [--out out/shared]

``DIR`` (default ``../shared/scenarios`` beside the repository) holds one subfolder per
scenario with its ``.sumocfg``; without it the script says so and exits 0. Per scenario
and strategy: mean time loss, speed, vehicles left (unfinished + never inserted) and
teleports over the seeds, failed runs with their error, the best peer (least time loss
but adaptive) and adaptive / best peer; then the mean of that ratio over the scenarios.
Everything, each run included, goes to ``<out>/results.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signal_opt.sweep.benchmark import add_arguments, main_from_args

SCENARIOS = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_arguments(ap, SCENARIOS, "out/shared")
    return main_from_args(ap.parse_args(), "shared scenarios")


if __name__ == "__main__":
    sys.exit(main())
