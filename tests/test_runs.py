"""Parallel runs: progress while they go (no SUMO: fake runs and clocks), best peer."""

from __future__ import annotations

import io
import math
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from signal_opt import runs
from signal_opt.demo import check_targets
from signal_opt.runs import (
    Progress,
    ProgressBoard,
    RunSpec,
    best_peer,
    format_duration,
    format_table,
    peer_lines,
    progress_monitor,
    read_progress,
    run_many,
    write_progress,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_fraction_and_eta():
    p = Progress(t=25200 + 900, begin=25200, end=28800, wall_s=30.0)
    assert p.fraction == pytest.approx(0.25)
    assert p.eta_s == pytest.approx(90.0)  # 900 sim s took 30 s: 2700 left take 90
    assert Progress().eta_s is None and Progress().fraction == 0.0
    assert Progress(t=0, begin=0, end=100, wall_s=5).eta_s is None
    assert [format_duration(s) for s in (None, 45, 370, 3720)] == ["?", "45s", "6m10s", "1h02m"]


def test_progress_monitor_reports_at_most_once_per_interval_and_at_the_end():
    clock, seen = Clock(), []
    sim = SimpleNamespace(ctx=SimpleNamespace(scenario=SimpleNamespace(begin=0.0, end=10.0)))
    hook = progress_monitor(seen.append, every_s=1.0, clock=clock)(sim)
    for t in range(1, 11):
        clock.now += 0.4
        hook(float(t))
    assert [p.t for p in seen] == [1.0, 4.0, 7.0, 10.0]  # every 1.2 s of wall time, and t=end
    assert seen[-1].wall_s == pytest.approx(4.0) and seen[-1].fraction == 1.0


def test_progress_file_round_trip(tmp_path):
    path = tmp_path / "run" / "progress.json"
    assert read_progress(path) is None
    write_progress(path, Progress(60.0, 0.0, 600.0, 2.0))
    assert read_progress(path) == Progress(60.0, 0.0, 600.0, 2.0)
    path.write_text("{half")
    assert read_progress(path) is None


def test_plain_board_prints_a_status_line_every_interval_and_a_line_per_run():
    clock, out = Clock(), io.StringIO()
    board = ProgressBoard(["fixed", "adaptive", "webster"], out, live=False, clock=clock)
    assert board.every_s == 30.0
    board.update(0, Progress())
    board.update(1, Progress(5400.0, 0.0, 14400.0, 60.0))
    for _ in range(29):  # polled every second: nothing until 30 s have passed
        clock.now += 1.0
        board.tick()
    assert out.getvalue() == ""
    clock.now += 1.0
    board.tick()
    line = out.getvalue()
    assert line.count("\n") == 1 and "\x1b" not in line
    assert line.startswith("runs 0/3 done, 2 running, 1 waiting (30s)")
    assert "fixed  preparing" in line
    assert "adaptive  t=5400 s (38% of 0-14400)  eta 1m40s" in line
    clock.now += 5.0
    board.finish(1, {"label": "adaptive", "mean_time_loss_s": 92.71})
    board.finish(0, {"label": "fixed", "error": "SimulationError: SUMO stopped"})
    lines = out.getvalue().splitlines()
    assert lines[1] == "[1/3] adaptive: done in 35s, time loss 92.7 s"
    assert lines[2] == "[2/3] fixed: FAILED after 35s: SimulationError: SUMO stopped"
    board.tick()  # nothing running: no status line
    assert len(out.getvalue().splitlines()) == 3


def test_live_board_redraws_in_place():
    clock, out = Clock(), io.StringIO()
    board = ProgressBoard(["a", "b"], out, live=True, clock=clock)
    board.update(0, Progress(300.0, 0.0, 900.0, 10.0))
    clock.now += 1.0
    board.tick()
    first = out.getvalue()
    assert first.startswith("runs 0/2 done, 1 running, 1 waiting")
    assert "  a  [#######-------------] t=300 s (33% of 0-900)  eta 20s" in first
    board.update(0, Progress(600.0, 0.0, 900.0, 20.0))
    clock.now += 1.0
    board.tick()
    assert out.getvalue()[len(first) :].startswith("\x1b[2F\x1b[J")  # up two lines, clear
    board.finish(0, {"mean_time_loss_s": 1.0})
    board.close()
    assert out.getvalue().endswith(
        "\x1b[J[1/2] a: done in 2s, time loss 1.0 s\n"
        + "runs 1/2 done, 0 running, 1 waiting (2s)\n\x1b[1F\x1b[J"
    )


def test_run_many_in_process_shows_progress_and_failures(monkeypatch, tmp_path):
    def fake_run_spec(spec: RunSpec, on_progress: Any = None) -> dict[str, Any]:
        if spec.strategy == "broken":
            raise RuntimeError("no such thing")
        for t in (100.0, 200.0, 300.0):
            on_progress(Progress(t, 0.0, 300.0, t / 100))
        return {"label": spec.name, "strategy": spec.strategy, "mean_time_loss_s": 12.0}

    monkeypatch.setattr(runs, "run_spec", fake_run_spec)
    specs = [RunSpec("fixed", str(tmp_path / "a")), RunSpec("broken", str(tmp_path / "b"))]
    out = io.StringIO()
    rows = run_many(specs, jobs=1, stream=out)
    assert rows[0]["mean_time_loss_s"] == 12.0
    assert rows[1]["error"] == "RuntimeError: no such thing"
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] fixed: done in") and lines[0].endswith("time loss 12.0 s")
    assert lines[1].startswith("[2/2] broken: FAILED after") and "no such thing" in lines[1]
    assert (
        run_many(specs, jobs=1, progress=False, stream=out)
        and len(out.getvalue().splitlines()) == 2
    )


def test_run_many_pool_reports_each_run_and_removes_progress_files(tmp_path):
    """Two worker processes whose runs fail at once (no configuration file): no SUMO."""
    specs = [
        RunSpec("fixed", str(tmp_path / n), sumocfg=str(tmp_path / "missing.sumocfg"), label=n)
        for n in ("one", "two")
    ]
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / runs.PROGRESS_FILE).write_text('{"t": 5.0}')  # left by a killed run
    out = io.StringIO()
    rows = run_many(specs, jobs=2, stream=out)
    assert [r["label"] for r in rows] == ["one", "two"]
    assert all("configuration file not found" in r["error"] for r in rows)
    lines = sorted(out.getvalue().splitlines())
    assert len(lines) == 2 and all(": FAILED after" in ln for ln in lines)
    assert not list(tmp_path.rglob(runs.PROGRESS_FILE))


def _report_then_maybe_die(spec: RunSpec, attempt: int) -> dict[str, Any]:
    """A worker's task: writes its progress, waits for the parent to read it, then dies
    (label ``dies``) or returns a row."""
    write_progress(runs._progress_path(spec), Progress(450.0, 0.0, 900.0, 3.0))
    time.sleep(2.5)
    if spec.label == "dies":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"row": {"label": spec.label, "mean_time_loss_s": 7.0}}


def test_a_dying_worker_fails_only_its_own_run_and_progress_crosses_processes(tmp_path):
    specs = [RunSpec("fixed", str(tmp_path / n), label=n) for n in ("dies", "lives")]
    out = io.StringIO()
    board = ProgressBoard([s.name for s in specs], out, live=False, every_s=0.5)
    rows = runs._run_processes(specs, 2, board, task=_report_then_maybe_die)
    assert rows[0]["error"] == "worker died: killed by SIGKILL" and rows[0]["label"] == "dies"
    assert rows[1] == {"label": "lives", "mean_time_loss_s": 7.0}
    text = out.getvalue()
    assert "dies  t=450 s (50% of 0-900)  eta 3s" in text
    assert "lives  t=450 s (50% of 0-900)  eta 3s" in text
    assert ": FAILED after" in text and "[2/2]" in text


def _row(strategy: str, loss: float, label: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "label": label or strategy,
        "strategy": strategy,
        "scenario": "net",
        "scale": 1.0,
        "seed": 0,
        "mean_time_loss_s": loss,
        **kw,
    }


def test_best_peer_is_the_least_time_loss_of_every_strategy_but_adaptive():
    rows = [
        _row("fixed", 50.0),
        _row("adaptive", 10.0),
        _row("sumo-actuated", 30.0),
        _row("sumo-delay_based", math.nan),
        {"label": "max-pressure", "strategy": "max-pressure", "error": "boom"},
        _row("webster", 40.0),
    ]
    assert best_peer(rows)["strategy"] == "sumo-actuated"
    assert best_peer([_row("adaptive", 1.0)]) is None
    assert peer_lines(rows) == ["best peer: sumo-actuated 30.0 s; adaptive / best peer: 0.333"]


def test_peer_lines_per_group_only_where_there_is_something_to_compare():
    rows = [
        _row("webster", 141.1, "base-year-plan@1.0"),
        _row("fixed", 219.0, "fixed@1.2", scale=1.2),
        _row("max-pressure", 113.8, "max-pressure@1.2", scale=1.2),
        _row("adaptive", 92.7, "adaptive@1.2", scale=1.2),
    ]
    assert peer_lines(rows) == [
        "best peer (net, 1.20x, seed 0): max-pressure@1.2 113.8 s; adaptive@1.2 / best peer: 0.815"
    ]
    # no adaptive run: the best of several peers still shows
    assert peer_lines(rows[1:3]) == ["best peer: max-pressure@1.2 113.8 s"]
    assert peer_lines(rows[:1]) == []


def test_format_table_names_the_best_peer_below_the_table():
    figures = {key: 1 for key, _, _ in runs.COLUMNS[2:]}
    rows = [
        {**figures, **_row("fixed", 60.0)},
        {**figures, **_row("adaptive", 45.0)},
        {"label": "x", "error": "E: bad"},
    ]
    lines = format_table(rows).splitlines()
    assert lines[4].split() == ["x", "FAILED"]
    assert lines[5:] == [
        "FAILED x: E: bad",
        "best peer: fixed 60.0 s; adaptive / best peer: 0.750",
    ]
    assert format_table(rows, markdown=True).endswith(
        "\n\n- FAILED x: E: bad\n- best peer: fixed 60.0 s; adaptive / best peer: 0.750"
    )
    assert "best peer" not in format_table(rows[:1])


def test_demo_targets_compare_adaptive_with_its_best_peer_of_every_strategy():
    def r(label: str, strategy: str, scale: float, loss: float, speed: float, left: int):
        return {
            "label": label,
            "strategy": strategy,
            "scale": scale,
            "mean_time_loss_s": loss,
            "average_speed_kmh": speed,
            "vehicles_unfinished": left,
            "vehicles_never_inserted": 0,
        }

    rows = [
        r("base-year-plan@1.0", "webster", 1.0, 141.1, 28.85, 138),
        r("adaptive@1.2", "adaptive", 1.2, 92.7, 34.41, 128),
        r("base-year-plan@1.2", "webster", 1.2, 170.0, 26.0, 170),
        r("max-pressure@1.2", "max-pressure", 1.2, 113.8, 31.70, 139),
        r("sumo-delay_based@1.2", "sumo-delay_based", 1.2, 90.0, 33.0, 120),
    ]
    notes = check_targets(rows)
    assert notes[0].startswith("E-Town claim") and notes[0].endswith(": MET")
    assert notes[1] == (
        "lowest time loss at 1.2x: adaptive 92.7 s vs best peer sumo-delay_based@1.2 90.0 s "
        "(adaptive / best peer 1.030): NOT MET"
    )
    assert notes[2].endswith("adaptive 128, best peer 120: NOT MET")


def test_progress_path_is_in_the_run_folder(tmp_path):
    assert runs._progress_path(RunSpec("fixed", str(tmp_path))) == Path(tmp_path, "progress.json")
