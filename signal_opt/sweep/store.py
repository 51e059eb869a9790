"""The sweep's results table on disk: appended run by run, compacted at the end.

``results.csv`` gets one line the moment a cell ends (``status`` ok or failed), so a
sweep that is interrupted keeps everything that finished; ``sweep.json`` holds the settings
every cell shares, so a re-run into the same folder only runs what is missing.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from signal_opt.runs import RunSpec
from signal_opt.sumo.outputs import FIGURES, RunMetrics
from signal_opt.sweep.grid import Cell, SweepError, SweepGrid

METRICS = FIGURES
"""Every numeric metrics.json field, in its own order (the controller's figures stay in
each run's own metrics.json)."""
_INT_METRICS = frozenset(f.name for f in fields(RunMetrics) if f.type in ("int", int))
COLUMNS = (
    "scenario",
    "strategy",
    "scale",
    "seed",
    "status",
    "attempts",
    "error",
    *METRICS,
    "task_wall_s",
    "out_dir",
)
RESULTS = "results.csv"
SETTINGS = "sweep.json"

Key = tuple[str, str, str, int]


def row_key(row: dict[str, Any]) -> Key:
    return (
        str(row["scenario"]),
        str(row["strategy"]),
        f"{float(row['scale']):g}",
        int(row["seed"]),
    )


def make_row(
    cell: Cell,
    status: str,
    attempts: int,
    error: str = "",
    metrics: dict[str, Any] | None = None,
    task_wall_s: float | None = None,
    out_dir: str = "",
) -> dict[str, Any]:
    metrics = metrics or {}
    row: dict[str, Any] = {
        "scenario": cell.source.name,
        "strategy": cell.strategy,
        "scale": cell.scale,
        "seed": cell.seed,
        "status": status,
        "attempts": attempts,
        "error": error,
    }
    row.update({m: metrics.get(m) for m in METRICS})
    row["task_wall_s"] = None if task_wall_s is None else round(task_wall_s, 3)
    row["out_dir"] = out_dir
    return row


def _typed(raw: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = dict(raw)
    row["scale"] = float(raw["scale"])
    row["seed"] = int(raw["seed"])
    row["attempts"] = int(raw["attempts"] or 0)
    for name in (*METRICS, "task_wall_s"):
        text = raw.get(name) or ""
        if not text:
            row[name] = None
        else:
            row[name] = int(float(text)) if name in _INT_METRICS else float(text)
    return row


def load_rows(out: Path) -> dict[Key, dict[str, Any]]:
    """The latest row of every cell in ``out/results.csv`` (empty if there is none)."""
    path = out / RESULTS
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            return {}
        missing = [
            c
            for c in ("scenario", "strategy", "scale", "seed", "status")
            if c not in reader.fieldnames
        ]
        if missing:
            raise SweepError(f"{path} is not a sweep results table (no {missing[0]!r} column)")
        rows: dict[Key, dict[str, Any]] = {}
        for raw in reader:
            row = _typed(raw)
            rows[row_key(row)] = row
    return rows


def append_row(out: Path, row: dict[str, Any]) -> None:
    """Add one finished cell to ``results.csv`` and push it to disk."""
    path = out / RESULTS
    new = not path.is_file() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace ``path`` with exactly ``rows`` (atomically: a crash leaves the old file)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def recover_row(cell: Cell, spec: RunSpec) -> dict[str, Any] | None:
    """A run that finished but never reached the table (the driver stopped first)."""
    path = Path(spec.out_dir) / "run.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if saved.get("spec") != json.loads(json.dumps(asdict(spec))):
        return None  # a different run used this folder
    return make_row(cell, "ok", 1, metrics=saved.get("row", {}), out_dir=spec.out_dir)


def check_settings(out: Path, grid: SweepGrid) -> None:
    """Refuse to mix two sweeps with different shared settings in one folder."""
    path = out / SETTINGS
    current = json.loads(json.dumps(grid.settings()))
    known: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text())
        known = {s["name"]: s for s in data.get("sources", [])}
        saved = data.get("settings")
        if saved != current:
            diff = sorted(k for k in current if current.get(k) != (saved or {}).get(k))
            raise SweepError(
                f"{out} holds a sweep with other settings ({', '.join(diff) or 'settings'}: "
                f"{ {k: (saved or {}).get(k) for k in diff} }); use another --out or the same "
                "settings"
            )
    known.update({s.name: asdict(s) for s in grid.sources})  # a re-run may add scenarios
    path.write_text(
        json.dumps({"settings": current, "sources": list(known.values())}, indent=2) + "\n"
    )
