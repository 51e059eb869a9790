"""The stress family: every strategy on generated networks and demand nobody tuned for.

    .venv/bin/python benchmarks/stress.py    # 8 draws x (1.0x, heavier) x every strategy
    .venv/bin/python benchmarks/stress.py --draws 1 --scales 1.0 --strategies fixed,adaptive

The same as ``signal-opt stress`` (``--help`` lists the options); results in
``out/stress/stress.json``.
"""

from __future__ import annotations

import sys

from signal_opt.cli import main

if __name__ == "__main__":
    sys.exit(main(["stress", *sys.argv[1:]]))
