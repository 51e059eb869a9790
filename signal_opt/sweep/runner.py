"""Run a sweep: skip what is done, execute the rest, keep every result as it arrives."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signal_opt.runs import RunSpec
from signal_opt.sweep.executors import Backend, Outcome, execute, make_backend
from signal_opt.sweep.grid import Cell, SweepGrid
from signal_opt.sweep.store import (
    RESULTS,
    append_row,
    check_settings,
    load_rows,
    make_row,
    recover_row,
    write_rows,
)
from signal_opt.sweep.summary import summarize, write_summary


@dataclass(frozen=True)
class SweepResult:
    rows: list[dict[str, Any]]
    """One row per cell of the grid, in grid order."""
    summary: list[dict[str, Any]]
    ran: int
    """Cells executed by this call (the others were done before)."""
    failed: int
    """Cells of the grid whose last attempt failed."""
    wall_s: float
    out: Path

    @property
    def ok(self) -> bool:
        return self.failed == 0


def cell_spec(cell: Cell, grid: SweepGrid, out: Path) -> RunSpec:
    return RunSpec(
        strategy=cell.strategy,
        out_dir=str(out / cell.folder),
        sumocfg=cell.source.sumocfg,
        network=cell.source.network,
        scale=cell.scale,
        seed=cell.seed,
        begin=grid.begin,
        end=grid.end,
        options=dict(grid.options),
        label=cell.describe(),
        progress=False,
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_sweep(
    grid: SweepGrid,
    out: str | Path,
    executor: str = "process",
    jobs: int | None = None,
    retries: int = 2,
    address: str | None = None,
    backend: Backend | None = None,
    log: Callable[[str], None] = _stderr,
) -> SweepResult:
    """Run every cell of ``grid`` not yet done in ``out``; write the table and the summary.

    ``out/results.csv`` gains a line as each cell ends; at the end it is rewritten with one
    line per cell, and ``summary.csv`` / ``summary.md`` cover this grid's cells.
    """
    t0 = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, grid)
    cells = grid.cells()
    specs = {c.key: cell_spec(c, grid, out) for c in cells}
    done = load_rows(out)
    todo: list[Cell] = []
    for c in cells:
        if done.get(c.key, {}).get("status") == "ok":
            continue
        row = recover_row(c, specs[c.key])
        if row is not None:
            append_row(out, row)
            done[c.key] = row
        else:
            todo.append(c)
    skipped = len(cells) - len(todo)
    if skipped:
        log(f"sweep: {skipped} of {len(cells)} cells already done in {out}")
    if todo:
        if backend is None:
            backend = make_backend(executor, jobs, address)
        finished = 0

        def record(o: Outcome) -> None:
            nonlocal finished
            finished += 1
            c = todo[o.index]
            if o.ok:
                row = make_row(
                    c,
                    "ok",
                    o.attempts,
                    metrics=o.row,
                    task_wall_s=o.task_wall_s,
                    out_dir=specs[c.key].out_dir,
                )
                note = f"ok in {o.task_wall_s:.1f} s"
            else:
                row = make_row(c, "failed", o.attempts, error=o.error, out_dir=specs[c.key].out_dir)
                note = f"FAILED: {o.error}"
            append_row(out, row)  # on disk before anything else can go wrong
            done[c.key] = row
            tries = f" after {o.attempts} attempts" if o.attempts > 1 else ""
            log(f"[{finished}/{len(todo)}] {c.describe()}: {note}{tries}")

        def retry(i: int, attempt: int, error: str) -> None:
            log(f"retry {todo[i].describe()}: attempt {attempt} of {retries + 1} failed: {error}")

        execute([specs[c.key] for c in todo], backend, retries, record, retry)
    in_grid = {c.key for c in cells}
    rows = [done[c.key] for c in cells]
    write_rows(out / RESULTS, rows + [r for k, r in done.items() if k not in in_grid])
    summary = summarize(rows)
    names = ", ".join(s.name for s in grid.sources)
    write_summary(out, summary, f"Sweep of {names}: {len(cells)} runs")
    failed = sum(r["status"] != "ok" for r in rows)
    return SweepResult(rows, summary, len(todo), failed, time.perf_counter() - t0, out)
