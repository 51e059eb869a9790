"""Use-cases over simulations: run one strategy, or several side by side in processes.

The command line (and later sweeps) describe each run as a :class:`RunSpec`; every run
happens in its own process (libsumo allows one simulation per process) and returns a row
of figures for the comparison table. While runs go, :func:`run_many` shows each one's
simulated time and ETA (a :class:`ProgressBoard`); the tables name each group's best peer.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from signal_opt.strategies import make_controller
from signal_opt.sumo.scenario import resolve
from signal_opt.sumo.simulation import run

if TYPE_CHECKING:
    from signal_opt.sumo.simulation import Simulation

ADAPTIVE = "adaptive"
"""The strategy every other one is a peer of (see :func:`best_peer`)."""
PROGRESS_FILE = "progress.json"
"""Written (and removed at the end) in a run's folder by a :func:`run_many` worker."""


@dataclass(frozen=True)
class RunSpec:
    strategy: str
    out_dir: str
    sumocfg: str | None = None
    network: str | None = None
    scale: float = 1.0
    seed: int = 0
    begin: float | None = None
    end: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    backend: str = "libsumo"
    progress: bool | None = None

    @property
    def name(self) -> str:
        return self.label or self.strategy


@dataclass(frozen=True)
class Progress:
    """How far one run has got."""

    t: float | None = None
    """Simulated time reached (s); None while the run prepares (demand, plans, SUMO start)."""
    begin: float = 0.0
    end: float = 0.0
    wall_s: float = 0.0
    """Wall time since the first simulation step."""

    @property
    def fraction(self) -> float:
        if self.t is None or self.end <= self.begin:
            return 0.0
        return min(1.0, max(0.0, (self.t - self.begin) / (self.end - self.begin)))

    @property
    def eta_s(self) -> float | None:
        """Wall seconds left at the pace so far (None before 1 % of the window has passed)."""
        if self.t is None or self.fraction < 0.01 or self.wall_s <= 0:
            return None
        return self.wall_s * max(0.0, self.end - self.t) / (self.t - self.begin)


ProgressFn = Callable[[Progress], None]


def progress_monitor(
    report: ProgressFn, every_s: float = 1.0, clock: Callable[[], float] = time.monotonic
) -> Callable[[Simulation], Callable[[float], None]]:
    """A :func:`signal_opt.sumo.simulation.run` monitor that calls ``report`` with the
    simulated time reached, at most once per ``every_s`` of wall time (and at the end)."""

    def make(sim: Simulation) -> Callable[[float], None]:
        begin, end = sim.ctx.scenario.begin, sim.ctx.scenario.end
        t0 = clock()
        last = -math.inf

        def hook(t: float) -> None:
            nonlocal last
            now = clock()
            if now - last >= every_s or t >= end:
                last = now
                report(Progress(float(t), begin, end, now - t0))

        return hook

    return make


def run_spec(spec: RunSpec, on_progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run one spec; the row has the spec's identity, its metrics and its output folder."""
    out = Path(spec.out_dir)
    scenario = resolve(spec.sumocfg, spec.network, out, spec.scale, spec.seed, spec.begin, spec.end)
    controller = make_controller(spec.strategy, **spec.options)
    monitors = (progress_monitor(on_progress),) if on_progress is not None else ()
    metrics = run(
        scenario,
        controller,
        out,
        seed=spec.seed,
        backend=spec.backend,
        progress=spec.progress,
        monitors=monitors,
    )
    row = {
        "label": spec.name,
        "strategy": spec.strategy,
        "scenario": scenario.name,
        "scale": spec.scale,
        "seed": spec.seed,
        **metrics.to_dict(),
        "out_dir": str(out),
    }
    (out / "run.json").write_text(json.dumps({"spec": asdict(spec), "row": row}, indent=2))
    return row


def _safe_run(spec: RunSpec, on_progress: ProgressFn | None = None) -> dict[str, Any]:
    try:
        if on_progress is not None:
            on_progress(Progress())  # started: preparing
        return run_spec(spec, on_progress)
    except Exception as exc:  # one failed run must not lose the others
        return _failed(spec, f"{type(exc).__name__}: {exc}")


def write_progress(path: Path, p: Progress) -> None:
    """``progress.json``, replaced atomically so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(p)))
    os.replace(tmp, path)


def read_progress(path: Path) -> Progress | None:
    """What a worker last wrote to ``path``; None if it has not started (or wrote nothing)."""
    try:
        return Progress(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _progress_path(spec: RunSpec) -> Path:
    return Path(spec.out_dir) / PROGRESS_FILE


def _process_task(spec: RunSpec, attempt: int, report: bool = False) -> dict[str, Any]:
    """A worker process's task: the run's row, telling the parent how far it got in
    ``progress.json`` (with ``report``)."""
    if not report:
        return {"row": _safe_run(spec)}
    path = _progress_path(spec)
    try:
        return {"row": _safe_run(spec, lambda p: write_progress(path, p))}
    finally:
        path.unlink(missing_ok=True)


def _failed(spec: RunSpec, error: str) -> dict[str, Any]:
    return {
        "label": spec.name,
        "strategy": spec.strategy,
        "scale": spec.scale,
        "seed": spec.seed,
        "error": error,
        "out_dir": spec.out_dir,
    }


def run_many(
    specs: Sequence[RunSpec],
    jobs: int | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> list[dict[str, Any]]:
    """Run ``specs`` in parallel processes (at most ``jobs``, default the core count), one
    fresh process per run: a run that fails or whose process dies gives a row with
    ``error`` and the others go on.

    With ``progress``, a :class:`ProgressBoard` on ``stream`` (default stderr) shows each
    running run's simulated time and ETA, and a line as each run ends.
    """
    if not specs:
        return []
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(specs)))
    board = ProgressBoard([s.name for s in specs], stream) if progress else None
    try:
        if jobs == 1:
            return _run_here(specs, board)
        return _run_processes(specs, jobs, board)
    finally:
        if board is not None:
            board.close()


def _run_here(specs: Sequence[RunSpec], board: ProgressBoard | None) -> list[dict[str, Any]]:
    rows = []
    for i, spec in enumerate(specs):
        if board is None:
            rows.append(_safe_run(spec))
            continue

        def show(p: Progress, i: int = i, board: ProgressBoard = board) -> None:
            board.update(i, p)
            board.tick()

        rows.append(_safe_run(spec, show))
        board.finish(i, rows[-1])
    return rows


POLL_S = 1.0
"""How often the parent reads the workers' progress files."""


def _run_processes(
    specs: Sequence[RunSpec],
    jobs: int,
    board: ProgressBoard | None,
    task: Callable[[RunSpec, int], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    # imported here: the sweep's executors build on this module
    from signal_opt.sweep.executors import ProcessBackend

    task = task or partial(_process_task, report=board is not None)
    for s in specs:  # a file left by an earlier, killed run must not show as this one's
        _progress_path(s).unlink(missing_ok=True)
    rows: list[dict[str, Any]] = [{} for _ in specs]
    backend = ProcessBackend(jobs, task)
    queue = deque(range(len(specs)))
    running: set[int] = set()
    try:
        while queue or running:
            while queue and len(running) < jobs:
                i = queue.popleft()
                backend.submit(i, specs[i], 1)
                running.add(i)
                if board is not None:
                    board.update(i, Progress())  # preparing, until its file says more
            for i, result in backend.wait(timeout=POLL_S if board is not None else None):
                running.discard(i)
                row = result.get("row")
                rows[i] = row if row is not None else _failed(specs[i], str(result.get("error")))
                if board is not None:
                    board.finish(i, rows[i])
            if board is not None:
                for i in running:
                    p = read_progress(_progress_path(specs[i]))
                    if p is not None:
                        board.update(i, p)
                board.tick()
    finally:
        backend.close()
    return rows


def format_duration(seconds: float | None) -> str:
    """``45s``, ``6m10s``, ``1h02m``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressBoard:
    """The runs of :func:`run_many` as they go: per running run its label, the simulated
    time reached in its window and an ETA, with runs done / total.

    On a terminal the board is redrawn in place every ``every_s`` (default 1 s) below the
    lines of the runs that ended; elsewhere (CI logs, a file) it prints one plain line per
    run that ends and one status line every ``every_s`` (default 30 s).
    """

    def __init__(
        self,
        labels: Sequence[str],
        stream: TextIO | None = None,
        live: bool | None = None,
        every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.labels = list(labels)
        self.stream = stream if stream is not None else sys.stderr
        self.live = _isatty(self.stream) if live is None else live
        self.every_s = every_s if every_s is not None else (1.0 if self.live else 30.0)
        self.clock = clock
        self.state: dict[int, Progress] = {}
        self.started: dict[int, float] = {}
        self.done = 0
        self._t0 = clock()
        self._last = self._t0
        self._drawn = 0
        self._width = max(map(len, self.labels), default=0)

    def update(self, i: int, p: Progress) -> None:
        self.started.setdefault(i, self.clock())
        self.state[i] = p

    def finish(self, i: int, row: dict[str, Any]) -> None:
        """Run ``i`` ended with ``row``: one permanent line."""
        self.state.pop(i, None)
        self.done += 1
        took = self.clock() - self.started.pop(i, self._t0)
        label = self.labels[i]
        if "error" in row:
            note = f"FAILED after {format_duration(took)}: {row['error']}"
        else:
            loss = row.get("mean_time_loss_s")
            note = f"done in {format_duration(took)}" + (
                f", time loss {loss:.1f} s" if isinstance(loss, int | float) else ""
            )
        self._erase()
        self._write(f"[{self.done}/{len(self.labels)}] {label}: {note}")
        if self.live:
            self._draw()

    def tick(self) -> None:
        """Redraw (on a terminal) or print a status line, if ``every_s`` has passed."""
        now = self.clock()
        if now - self._last < self.every_s:
            return
        self._last = now
        if self.live:
            self._erase()
            self._draw()
        elif self.state:
            self._write(self.status_line())

    def close(self) -> None:
        self._erase()

    def header(self) -> str:
        waiting = len(self.labels) - self.done - len(self.state)
        parts = [f"runs {self.done}/{len(self.labels)} done", f"{len(self.state)} running"]
        if waiting > 0:
            parts.append(f"{waiting} waiting")
        return ", ".join(parts) + f" ({format_duration(self.clock() - self._t0)})"

    def run_line(self, i: int, bar: int = 0) -> str:
        """``label  t=5400 s (38% of 0-14400)  eta 6m10s`` (``preparing`` before the first
        step); with ``bar``, the label padded to the longest and a gauge ``bar`` wide."""
        p = self.state[i]
        label = self.labels[i].ljust(self._width if bar else 0)
        if p.t is None:
            return f"{label}  preparing"
        gauge = ""
        if bar:
            full = round(p.fraction * bar)
            gauge = "[" + "#" * full + "-" * (bar - full) + "] "
        return (
            f"{label}  {gauge}t={p.t:.0f} s ({100 * p.fraction:.0f}% of "
            f"{p.begin:.0f}-{p.end:.0f})  eta {format_duration(p.eta_s)}"
        )

    def status_line(self) -> str:
        """Everything on one line, for logs."""
        return "; ".join([self.header(), *(self.run_line(i) for i in sorted(self.state))])

    def _draw(self) -> None:
        width = shutil.get_terminal_size().columns - 1
        lines = [self.header(), *("  " + self.run_line(i, bar=20) for i in sorted(self.state))]
        self.stream.write("".join(line[:width] + "\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the board's first line, clear
            self._drawn = 0

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def best_peer(
    rows: Iterable[dict[str, Any]], loss: str = "mean_time_loss_s"
) -> dict[str, Any] | None:
    """The row of least ``loss`` among every strategy's but adaptive's (failed runs and
    missing or NaN figures left out); None if there is none."""
    peers = [
        r
        for r in rows
        if r.get("strategy") != ADAPTIVE
        and "error" not in r
        and isinstance(r.get(loss), int | float)
        and math.isfinite(r[loss])
    ]
    return min(peers, key=lambda r: r[loss]) if peers else None


def adaptive_over_best_peer(adaptive_loss: float, peer_loss: float) -> float:
    """Adaptive's time loss as a fraction of the best peer's (< 1: adaptive is better)."""
    return adaptive_loss / peer_loss if peer_loss > 0 else math.nan


GROUP = ("scenario", "scale", "seed")
"""Runs compared with each other: same scenario, demand and seed."""


def peer_lines(
    rows: Sequence[dict[str, Any]],
    loss: str = "mean_time_loss_s",
    label: str = "label",
    group: Sequence[str] = GROUP,
) -> list[str]:
    """Per group of rows with adaptive or with several peers: the best peer and
    ``adaptive / best peer``, one line each (the group named when there are several)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        if "error" not in r:
            groups.setdefault(tuple(r.get(g) for g in group), []).append(r)
    lines = []
    for key, members in groups.items():
        best = best_peer(members, loss)
        ours = [
            r
            for r in members
            if r.get("strategy") == ADAPTIVE
            and isinstance(r.get(loss), int | float)
            and math.isfinite(r[loss])
        ]
        if best is None or (not ours and sum(r.get("strategy") != ADAPTIVE for r in members) < 2):
            continue
        where = f" ({_describe(dict(zip(group, key)))})" if len(groups) > 1 else ""
        text = f"best peer{where}: {best[label]} {best[loss]:.1f} s"
        for r in ours:
            ratio = adaptive_over_best_peer(r[loss], best[loss])
            text += f"; {r[label]} / best peer: {ratio:.3f}"
        lines.append(text)
    return lines


def _describe(key: dict[str, Any]) -> str:
    parts = []
    for name, value in key.items():
        if value is None:
            continue
        if name == "scale":
            parts.append(f"{float(value):.2f}x")
        elif name == "seed":
            parts.append(f"seed {value}")
        else:
            parts.append(str(value))
    return ", ".join(parts)


COLUMNS = (
    ("label", "strategy", "{}"),
    ("scale", "scale", "{:.2f}"),
    ("mean_time_loss_s", "time loss s", "{:.1f}"),
    ("mean_travel_time_s", "travel s", "{:.1f}"),
    ("mean_waiting_time_s", "waiting s", "{:.1f}"),
    ("average_speed_kmh", "speed km/h", "{:.2f}"),
    ("vehicles_loaded", "loaded", "{}"),
    ("vehicles_arrived", "arrived", "{}"),
    ("vehicles_unfinished", "unfinished", "{}"),
    ("vehicles_never_inserted", "never ins.", "{}"),
    ("teleports", "teleports", "{}"),
    ("sim_wall_s", "wall s", "{:.1f}"),
)


def format_table(rows: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The comparison as a fixed-width (or markdown) table.

    Below it, each failed run's error (its row says FAILED), then the best peer of each
    group of runs and adaptive / best peer (:func:`peer_lines`).
    """
    heads = [h for _, h, _ in COLUMNS]
    body = []
    notes = []
    for r in rows:
        if "error" in r:
            scale = r.get("scale")
            body.append(
                [str(r.get("label")), "" if scale is None else f"{scale:.2f}", "FAILED"]
                + [""] * (len(COLUMNS) - 3)
            )
            notes.append(f"FAILED {r.get('label')}: {r['error']}")
            continue
        body.append([fmt.format(r.get(key, "")) for key, _, fmt in COLUMNS])
    notes += peer_lines(rows)
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        if notes:
            lines += ["", *(f"- {n}" for n in notes)]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(heads)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    table = [line(heads), line(["-" * w for w in widths]), *(line(r) for r in body)]
    return "\n".join(table + notes)
