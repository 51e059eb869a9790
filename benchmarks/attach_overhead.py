"""What attaching a controller costs: wall time of the plain ``sumo`` binary against
signal-opt runs of the same scenario, measured side by side, alternating, in one run.

    .venv/bin/python benchmarks/attach_overhead.py --sumocfg path/to/x.sumocfg
    .venv/bin/python benchmarks/attach_overhead.py --network yizhuang_core --scale 1.2

Prints the median wall seconds of each and the ratio to the plain binary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from signal_opt.runs import RunSpec
from signal_opt.sumo.network import read_net
from signal_opt.sumo.scenario import resolve
from signal_opt.sumo.simulation import prepare_detectors, sumo_command


def plain_sumo(spec: RunSpec, out: Path) -> float:
    sc = resolve(spec.sumocfg, spec.network, out, spec.scale, spec.seed, spec.begin, spec.end)
    _specs, files = prepare_detectors(sc, read_net(sc.net_file), out)
    cmd = sumo_command(sc, out, spec.seed, files)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def attached(spec: RunSpec) -> float:
    # each attached run in its own process, like `signal-opt simulate`
    code = (
        "import json,sys;from signal_opt.runs import RunSpec,run_spec;"
        "s=RunSpec(**json.loads(sys.argv[1]));r=run_spec(s);print(r['sim_wall_s'])"
    )
    payload = json.dumps({k: v for k, v in spec.__dict__.items()})
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, payload], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--sumocfg")
    src.add_argument("--network")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--end", type=float, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--controllers", default="fixed,max-pressure,adaptive")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="attach-"))
    names = args.controllers.split(",")
    times: dict[str, list[float]] = {"plain sumo": [], **{n: [] for n in names}}
    for r in range(args.repeat):
        base = RunSpec(
            strategy="fixed",
            out_dir=str(tmp / f"plain{r}"),
            sumocfg=args.sumocfg,
            network=args.network,
            scale=args.scale,
            end=args.end,
            progress=False,
        )
        times["plain sumo"].append(plain_sumo(base, tmp / f"plain{r}"))
        for n in names:
            spec = RunSpec(
                strategy=n,
                out_dir=str(tmp / f"{n}{r}"),
                sumocfg=args.sumocfg,
                network=args.network,
                scale=args.scale,
                end=args.end,
                progress=False,
            )
            times[n].append(attached(spec))
    ref = statistics.median(times["plain sumo"])
    print(f"{'run':<16}{'median wall s':>14}{'x plain sumo':>14}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<16}{med:>14.2f}{med / ref:>14.2f}")


if __name__ == "__main__":
    main()
