"""What attaching a controller costs: the plain ``sumo`` binary against signal-opt runs of
the same scenario (same detectors), measured side by side, alternating, in one run.

    .venv/bin/python benchmarks/attach_overhead.py --network yizhuang_district --end 1800
    .venv/bin/python benchmarks/attach_overhead.py --grid 20 --end 900 --trips 4800
    .venv/bin/python benchmarks/attach_overhead.py --scaling 4,10,20,32 --end 300

Each attached run happens in its own process, as ``signal-opt simulate`` does; its time is
the run's own wall time from SUMO's start to its end (``sim_wall_s``: loading, stepping,
outputs), the plain binary's the same from the outside, so building the bundled demand
or Python's start-up count for neither. Prints the median wall seconds of each and the
ratio to the plain binary, and the controller's own seconds (driving the signals and
deciding, ``control_wall_s``).

``--scaling`` runs ``adaptive`` on generated grids of n x n signals and fits how the
controller's cost per step grows with the number of signals (the exponent of a power law
through the points: 1 is linear).
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

import numpy as np
import sumolib

from signal_opt.runs import RunSpec
from signal_opt.sumo.network import read_net
from signal_opt.sumo.scenario import resolve
from signal_opt.sumo.simulation import prepare_detectors, sumo_command


def grid_scenario(n: int, trips: int, end: float, folder: Path, seed: int = 1) -> Path:
    """An n x n signalized grid (netgenerate, 200 m blocks, 2 lanes) with ``trips``
    random trips over ``end`` seconds, and its ``.sumocfg``."""
    folder.mkdir(parents=True, exist_ok=True)
    net = folder / "grid.net.xml"
    subprocess.run(
        [
            sumolib.checkBinary("netgenerate"),
            "--grid",
            "--grid.number",
            str(n),
            "--grid.length",
            "200",
            "--grid.attach-length",
            "150",
            "--default.lanenumber",
            "2",
            "--tls.guess",
            "true",
            "--no-turnarounds",
            "true",
            "--seed",
            str(seed),
            "-o",
            str(net),
        ],
        check=True,
        capture_output=True,
    )
    tools = Path(sumolib.__file__).resolve().parents[1] / "sumo" / "tools"
    routes = folder / "grid.rou.xml"
    subprocess.run(
        [
            sys.executable,
            str(tools / "randomTrips.py"),
            "-n",
            str(net),
            "-o",
            str(folder / "grid.trips.xml"),
            "-r",
            str(routes),
            "--fringe-factor",
            "10",
            "-e",
            str(end),
            "-p",
            str(end / max(trips, 1)),
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
    )
    cfg = folder / "grid.sumocfg"
    cfg.write_text(
        "<configuration><input>"
        '<net-file value="grid.net.xml"/><route-files value="grid.rou.xml"/>'
        f'</input><time><begin value="0"/><end value="{end:g}"/></time></configuration>\n'
    )
    return cfg


def plain_sumo(spec: RunSpec, out: Path) -> float:
    sc = resolve(spec.sumocfg, spec.network, out, spec.scale, spec.seed, spec.begin, spec.end)
    _specs, files = prepare_detectors(sc, read_net(sc.net_file), out)
    cmd = sumo_command(sc, out, spec.seed, files)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def attached(spec: RunSpec) -> tuple[float, float]:
    """``(sim_wall_s, control_wall_s)`` of one run in its own process."""
    code = (
        "import json,sys;from signal_opt.runs import RunSpec,run_spec;"
        "s=RunSpec(**json.loads(sys.argv[1]));r=run_spec(s);"
        "print(json.dumps([r['sim_wall_s'],r['control_wall_s']]))"
    )
    payload = json.dumps(dict(spec.__dict__))
    done = subprocess.run(
        [sys.executable, "-c", code, payload], check=True, capture_output=True, text=True
    )
    sim, control = json.loads(done.stdout.strip().splitlines()[-1])
    return float(sim), float(control)


def overhead(args: argparse.Namespace, sumocfg: str | None, tmp: Path) -> None:
    names = args.controllers.split(",")
    walls: dict[str, list[float]] = {"plain sumo": [], **{n: [] for n in names}}
    control: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.repeat):
        common = dict(sumocfg=sumocfg, network=args.network, scale=args.scale, end=args.end)
        base = RunSpec(strategy="fixed", out_dir=str(tmp / f"plain{r}"), **common)  # type: ignore[arg-type]
        walls["plain sumo"].append(plain_sumo(base, tmp / f"plain{r}"))
        for n in names:
            spec = RunSpec(strategy=n, out_dir=str(tmp / f"{n}{r}"), progress=False, **common)  # type: ignore[arg-type]
            wall, ctl = attached(spec)
            walls[n].append(wall)
            control[n].append(ctl)
    ref = statistics.median(walls["plain sumo"])
    print(f"{'run':<16}{'median wall s':>14}{'x plain sumo':>14}{'controller s':>14}")
    for name, ts in walls.items():
        med = statistics.median(ts)
        ctl = f"{statistics.median(control[name]):>14.2f}" if name in control else ""
        print(f"{name:<16}{med:>14.2f}{med / ref:>14.2f}{ctl}")


def scaling(args: argparse.Namespace, tmp: Path) -> None:
    sizes = [int(v) for v in args.scaling.split(",")]
    steps = args.end
    print(f"{'signals':>8}{'plain s':>10}{'adaptive s':>12}{'controller s':>14}{'ms / step':>11}")
    xs, ys = [], []
    for n in sizes:
        cfg = grid_scenario(n, int(args.trips * n * n / 400), args.end, tmp / f"grid{n}")
        plain = plain_sumo(RunSpec("fixed", str(tmp / f"p{n}"), sumocfg=str(cfg)), tmp / f"p{n}")
        spec = RunSpec("adaptive", str(tmp / f"a{n}"), sumocfg=str(cfg), progress=False)
        wall, ctl = attached(spec)
        per_step = ctl / steps * 1000.0
        print(f"{n * n:>8}{plain:>10.2f}{wall:>12.2f}{ctl:>14.2f}{per_step:>11.3f}", flush=True)
        xs.append(n * n)
        ys.append(per_step)
    slope = np.polyfit(np.log(xs), np.log(ys), 1)[0]
    print(f"controller cost per step ~ signals^{slope:.2f} (1.00 = linear)")


def main() -> None:
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--sumocfg")
    src.add_argument("--network")
    src.add_argument("--grid", type=int, help="a generated n x n grid")
    src.add_argument("--scaling", help="grid sizes n for the scaling fit, e.g. 4,10,20,32")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--end", type=float, default=None)
    ap.add_argument("--trips", type=int, default=4800, help="--grid: trips (per 400 signals)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--controllers", default="fixed,max-pressure,adaptive")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="attach-"))
    if args.scaling:
        args.end = args.end or 300.0
        scaling(args, tmp)
        return
    sumocfg = args.sumocfg
    if args.grid:
        args.end = args.end or 900.0
        sumocfg = str(grid_scenario(args.grid, args.trips, args.end, tmp / "grid"))
    overhead(args, sumocfg, tmp)


if __name__ == "__main__":
    main()
