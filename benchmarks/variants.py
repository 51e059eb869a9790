"""Adaptive with changed settings on the stress draws and the shared scenarios, against the
best peers of a stored benchmark run: the quick loop for trying a control rule.

    signal-opt stress --strategies adaptive --out out/stress_adaptive      # makes the draws
    .venv/bin/python benchmarks/variants.py hold05 '{"free": {"saturated_share": 0.5}}' \\
        --draws out/stress_adaptive [--shared ../shared/scenarios] [--only draw2-x1.44,cologne3]

``SETTINGS`` is JSON overriding :class:`~signal_opt.controllers.adaptive.AdaptiveSettings`
(nested for ``free``). Each draw's ``.sumocfg`` found under ``--draws`` runs with SUMO seed 0,
each shared scenario with seed 42, two at a time. The best peer of each case and its time
loss come from ``benchmarks/results/stress_default.json``, ``stress_heldout_draws8-9.json``
and ``shared_seed42.txt`` (the peers' code did not change since; re-run those benchmarks
when it does). Prints, per case, adaptive's mean time loss (unfinished + never inserted),
teleports, the best peer and the ratio, then the mean ratio over stress draws at 1.0x, at
their heavier scale, over the shared scenarios and over the held-out draws (a ``--draws``
folder of ``signal-opt stress --draws 8-9``, or one holding draws 0-9); writes every run's
metrics to ``<out>/<label>.json``.

Congested runs vary by 10-30 % from seed to seed, so rank variants on several:
``--seed 1`` runs every case with SUMO seed 1 (results in ``<label>-s1.json``; the peers'
figures stay those of the stored seed), ``--seeds 2`` runs the stored seeds and seed 1,
``--seeds 3`` seed 2 as well. ``--against default`` then compares each case's time loss,
averaged over the seeds both ran, with an earlier run of the same loop (``<out>/default.json``,
``default-s1.json``, ...: run ``'{}'`` as ``default`` first) and prints the mean change
over the tuning cases and over the held-out draws. Confirm a change with ``signal-opt
stress --seeds`` and ``benchmarks/shared.py --seeds`` before keeping it.

    .venv/bin/python benchmarks/variants.py default '{}' --draws out/all10 --seeds 2
    .venv/bin/python benchmarks/variants.py satall '{"congested_zones": 0}' --draws out/all10 \\
        --seeds 2 --against default

Before keeping a rule, run it against the default on draws nobody has tuned on: make their
files in seconds (``signal-opt stress --draws 10-15 --strategies fixed --end 30 --out
out/val6``), then run both labels with ``--draws out/val6 --shared /nonexistent`` (no shared
scenarios) into an ``--out`` of their own; their peers are not stored, so only
``--against`` means anything there.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"


HELD_OUT = "stress_heldout_draws8-9.json"
"""The stored run of the held-out draws (never tuned on)."""
STRESS_RUNS = ("stress_default.json", HELD_OUT)


def _stress_cases(file: str) -> list[dict[str, Any]]:
    return json.loads((RESULTS / file).read_text())["comparisons"]


def _case(c: dict[str, Any]) -> str:
    return f"draw{c['draw']}-x{c['scale']:g}"


def stored_peers() -> dict[str, tuple[str, float]]:
    """Case name -> (best peer, its mean time loss s) from the stored benchmark runs."""
    out: dict[str, tuple[str, float]] = {}
    for file in STRESS_RUNS:
        for c in _stress_cases(file):
            out[_case(c)] = (c["best_peer"], c["best_peer_time_loss_s"])
    for block in (RESULTS / "shared_seed42.txt").read_text().split("\n\n"):
        lines = [ln for ln in block.strip().splitlines() if not ln.startswith("#")]
        found = re.search(r"best peer: (\S+) ([\d.]+) s", block)
        if lines and found:
            out[lines[0].strip()] = (found.group(1), float(found.group(2)))
    return out


def cases(draws: Path | None, shared: Path | None) -> list[tuple[str, str, int]]:
    """``(name, sumocfg, seed)`` of every stress draw under ``draws`` and shared scenario."""
    out = []
    if draws is not None:
        for cfg in sorted(draws.glob("draw*/draw*-x*.sumocfg")):
            out.append((cfg.stem, str(cfg), 0))
    if shared is not None and shared.is_dir():
        for folder in sorted(p for p in shared.iterdir() if p.is_dir()):
            own = folder / f"{folder.name}.sumocfg"
            cfgs = [own] if own.exists() else sorted(folder.glob("*.sumocfg"))
            if cfgs:
                out.append((folder.name, str(cfgs[0]), 42))
    return out


def _merged(obj: Any, over: dict[str, Any]) -> Any:
    return replace(
        obj,
        **{k: _merged(getattr(obj, k), v) if isinstance(v, dict) else v for k, v in over.items()},
    )


def _run(job: tuple[str, dict[str, Any], str, str, int, str]) -> tuple[str, dict[str, Any]]:
    label, over, name, cfg, seed, out = job
    from signal_opt.controllers.adaptive import AdaptiveController, AdaptiveSettings
    from signal_opt.sumo.scenario import resolve
    from signal_opt.sumo.simulation import run

    folder = Path(out) / label / name
    controller = AdaptiveController(settings=_merged(AdaptiveSettings(), over))
    scenario = resolve(cfg, None, folder, 1.0, seed, None, None)
    try:
        return name, run(scenario, controller, folder, seed=seed, progress=False).to_dict()
    except Exception as exc:  # one failed case must not lose the others
        return name, {"error": f"{type(exc).__name__}: {exc}"}


def _seed_labels(label: str, seed: int | None, seeds: int) -> list[tuple[str, int | None]]:
    """``(file label, SUMO seed or None for the stored seeds)`` of each run asked for."""
    if seed is not None:
        return [(f"{label}-s{seed}", seed)]
    return [(label, None)] + [(f"{label}-s{k}", k) for k in range(1, seeds)]


def _loss(path: Path) -> dict[str, float]:
    """Case -> mean time loss of a stored run (failed cases left out; {} if not run)."""
    if not path.exists():
        return {}
    runs = json.loads(path.read_text())
    return {k: v["mean_time_loss_s"] for k, v in runs.items() if "error" not in v}


def compare(out: Path, base: str, label: str, suffixes: list[str], held_out: set[str]) -> None:
    """Print each case's change of time loss against run ``base``, averaged over the seeds
    (file ``suffixes``) both have, and the mean change over tuning and held-out cases."""
    pairs = [(_loss(out / f"{base}{x}.json"), _loss(out / f"{label}{x}.json")) for x in suffixes]
    names = sorted({n for b, v in pairs for n in v if n in b})
    print(f"\nagainst {base} (time loss s, mean over the seeds both ran):")
    changes: dict[str, list[float]] = {"tuning": [], "held out": []}
    for n in names:
        both = [(b[n], v[n]) for b, v in pairs if n in b and n in v]
        old = statistics.mean(x for x, _ in both)
        new = statistics.mean(y for _, y in both)
        change = new / old - 1
        changes["held out" if n in held_out else "tuning"].append(change)
        print(f"{n:22s} {old:7.1f} -> {new:7.1f} s  {100 * change:+6.1f} %  ({len(both)} seeds)")
    for group, values in changes.items():
        if values:
            worse = sum(c > 0.03 for c in values)
            better = sum(c < -0.03 for c in values)
            print(
                f"mean change {group}: {100 * statistics.mean(values):+.1f} % over {len(values)}"
                f" cases (worse by more than 3 %: {worse}, better: {better})"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("label")
    ap.add_argument("settings", help="JSON overriding AdaptiveSettings, e.g. '{}'")
    ap.add_argument("--draws", type=Path, help="a signal-opt stress --out folder")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument(
        "--seed",
        type=int,
        help="SUMO seed of every case (default: 0 for draws, 42 for shared scenarios);"
        " results go to <out>/<label>-s<seed>",
    )
    ap.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="run the stored seeds, then SUMO seeds 1 .. N-1 on every case",
    )
    ap.add_argument("--against", help="label of an earlier run of this loop to compare with")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="out/variants")
    args = ap.parse_args()
    over = json.loads(args.settings)
    todo = cases(args.draws, args.shared)
    if args.only:
        todo = [c for c in todo if c[0] in set(args.only.split(","))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    peers = stored_peers()
    held_out = {_case(c) for c in _stress_cases(HELD_OUT)}
    runs = _seed_labels(args.label, args.seed, args.seeds)
    # a fresh process per run, as signal_opt.runs does: libsumo carries state from one
    # simulation to the next in a process (cologne1 run after bologna_pasubio: 19.5 s;
    # alone, or both through TraCI in one process: 19.9 s)
    with Pool(args.jobs, maxtasksperchild=1) as pool:
        for label, seed in runs:
            cases_now = todo if seed is None else [(n, cfg, seed) for n, cfg, _ in todo]
            jobs = [(label, over, *c, args.out) for c in cases_now]
            results = dict(pool.map(_run, jobs, chunksize=1))
            (out / f"{label}.json").write_text(json.dumps(results, indent=1))
            print(f"{label}:")
            _report(results, todo, peers, held_out)
    if args.against:
        suffixes = [label[len(args.label) :] for label, _ in runs]
        compare(out, args.against, args.label, suffixes, held_out)


def _report(
    results: dict[str, dict[str, Any]],
    todo: list[tuple[str, str, int]],
    peers: dict[str, tuple[str, float]],
    held_out: set[str],
) -> None:
    """Per case adaptive against the stored best peer, then the mean ratio per group."""
    ratios: dict[str, list[float]] = {
        "stress 1.0x": [],
        "stress heavier": [],
        "shared": [],
        "held out": [],
    }
    for name, _cfg, _seed in todo:
        m = results[name]
        if "error" in m:
            print(f"{name:22s} failed: {m['error']}")
            continue
        left = m["vehicles_unfinished"] + m["vehicles_never_inserted"]
        peer, peer_loss = peers.get(name, ("?", float("nan")))
        ratio = m["mean_time_loss_s"] / peer_loss
        if name in held_out:
            group = "held out"
        elif not name.startswith("draw"):
            group = "shared"
        else:
            group = "stress 1.0x" if name.endswith("-x1") else "stress heavier"
        ratios[group].append(ratio)
        print(
            f"{name:22s} {m['mean_time_loss_s']:7.1f} s ({left:5d}) teleports {m['teleports']:4d}"
            f"   best peer {peer:16s} {peer_loss:7.1f} s   ratio {ratio:.3f}"
        )
    for group, values in ratios.items():
        if values:
            print(
                f"mean {group}: {statistics.mean(values):.3f}"
                f" (max {max(values):.3f}, {len(values)} cases)"
            )


if __name__ == "__main__":
    main()
