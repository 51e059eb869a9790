"""Sweeps: grid, statistics and retries without SUMO; pool, Ray, kills and resume with it."""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from signal_opt.cli import main
from signal_opt.runs import RunSpec
from signal_opt.sweep import ProcessBackend, SweepError, SweepGrid, make_sources, run_sweep
from signal_opt.sweep.executors import Outcome, execute
from signal_opt.sweep.grid import parse_seeds, read_grid_file
from signal_opt.sweep.stats import mean_ci, t_critical
from signal_opt.sweep.store import METRICS
from signal_opt.sweep.worker import FAULT_ENV

# --- no SUMO -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "t"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423), (120, 1.9799)]
)
def test_t_critical_matches_tables(df, t):
    assert t_critical(df) == pytest.approx(t, abs=1e-4)


def test_mean_ci():
    mean, half = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0
    assert half == pytest.approx(2.7764 * (2.5**0.5) / 5**0.5, rel=1e-4)
    assert mean_ci([7.0])[0] == 7.0 and mean_ci([7.0])[1] != mean_ci([7.0])[1]  # NaN


def test_grid_file_and_flags(tmp_path):
    (tmp_path / "city.sumocfg").write_text("<configuration/>")
    f = tmp_path / "grid.toml"
    f.write_text(
        'networks = ["yizhuang_core"]\nsumocfgs = ["city.sumocfg"]\n'
        'strategies = ["fixed", "webster"]\nscales = [1.0, 1.2]\nseeds = 3\nend = 600\n'
    )
    grid = SweepGrid(**read_grid_file(f))
    assert [s.name for s in grid.sources] == ["yizhuang_core", "city"]
    assert grid.sources[1].sumocfg == str(tmp_path / "city.sumocfg")
    assert grid.seeds == (0, 1, 2) and grid.end == 600.0
    assert len(grid.cells()) == 2 * 2 * 2 * 3
    assert parse_seeds("0-2,7,1") == (0, 1, 2, 7)
    f.write_text('strategy = ["fixed"]\n')
    with pytest.raises(SweepError, match="unknown key 'strategy'"):
        read_grid_file(f)
    with pytest.raises(SweepError, match="unknown strategy 'magic'"):
        SweepGrid(sources=make_sources(["x"]), strategies=("magic",))


class FakeBackend:
    """Fails the first ``fail_first[i]`` attempts of task i; records every submission."""

    capacity = 2

    def __init__(self, fail_first: dict[int, int]) -> None:
        self.fail_first = fail_first
        self.queue: list[tuple[int, int]] = []
        self.submitted: list[tuple[int, int]] = []

    def submit(self, ticket: int, spec: RunSpec, attempt: int) -> None:
        self.queue.append((ticket, attempt))
        self.submitted.append((ticket, attempt))

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        ticket, attempt = self.queue.pop(0)
        if attempt <= self.fail_first.get(ticket, 0):
            return [(ticket, {"error": f"boom {attempt}"})]
        return [(ticket, {"row": {"n": ticket}, "task_wall_s": 1.0})]

    def close(self) -> None:
        pass


def test_execute_retries_then_gives_up():
    specs = [RunSpec(strategy="fixed", out_dir=f"/x/{i}") for i in range(3)]
    backend = FakeBackend({1: 1, 2: 5})
    outcomes: dict[int, Outcome] = {}
    retried: list[tuple[int, int]] = []
    execute(
        specs,
        backend,
        2,
        lambda o: outcomes.__setitem__(o.index, o),
        lambda i, a, e: retried.append((i, a)),
    )
    assert outcomes[0].ok and outcomes[0].attempts == 1
    assert outcomes[1].ok and outcomes[1].attempts == 2
    assert not outcomes[2].ok and outcomes[2].attempts == 3 and outcomes[2].error == "boom 3"
    assert retried == [(1, 1), (2, 1), (2, 2)]
    assert max(a for _, a in backend.submitted) == 3


def _kill_self(spec: RunSpec, attempt: int) -> dict[str, Any]:
    if attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"row": {"attempt": attempt}, "task_wall_s": 0.0}


def test_process_backend_reports_a_killed_worker():
    backend = ProcessBackend(2, fn=_kill_self)
    outcomes: list[Outcome] = []
    retried: list[str] = []
    execute(
        [RunSpec(strategy="fixed", out_dir="/x")],
        backend,
        1,
        outcomes.append,
        lambda i, a, e: retried.append(e),
    )
    assert retried == ["worker died: killed by SIGKILL"]
    assert outcomes[0].ok and outcomes[0].row == {"attempt": 2} and outcomes[0].attempts == 2


def test_ray_missing_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = main(
        [
            "sweep",
            "--network",
            "yizhuang_core",
            "--controllers",
            "fixed",
            "--out",
            str(tmp_path / "o"),
            "--executor",
            "ray",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'signal-opt[ray]'" in err[0]


# --- with SUMO -----------------------------------------------------------------------------

SAME = [m for m in METRICS if m != "sim_wall_s"]


def _grid(cfg: Path, strategies=("fixed", "max-pressure"), seeds=(0, 1)) -> SweepGrid:
    return SweepGrid(
        sources=make_sources(sumocfgs=[cfg]),
        strategies=strategies,
        scales=(1.0,),
        seeds=seeds,
        end=300.0,
    )


def _table(out: Path) -> dict[tuple, dict[str, str]]:
    with (out / "results.csv").open() as fh:
        return {
            (r["scenario"], r["strategy"], r["scale"], r["seed"]): r for r in csv.DictReader(fh)
        }


@pytest.fixture(scope="module")
def pool_sweep(foreign_scenario, tmp_path_factory) -> Path:
    """The 2 x 2 reference sweep on the process pool."""
    out = tmp_path_factory.mktemp("pool")
    result = run_sweep(_grid(foreign_scenario), out, jobs=2)
    assert result.ok and result.ran == 4
    return out


@pytest.mark.sumo
def test_pool_sweep_table_and_summary(pool_sweep):
    rows = _table(pool_sweep)
    assert len(rows) == 4
    for r in rows.values():
        assert r["status"] == "ok" and r["attempts"] == "1" and not r["error"]
        assert (
            json.loads(Path(r["out_dir"], "metrics.json").read_text())["vehicles_loaded"]
            == int(r["vehicles_loaded"])
            > 0
        )
    with (pool_sweep / "summary.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    assert [(s["strategy"], s["runs"]) for s in summary] == [("fixed", "2"), ("max-pressure", "2")]
    assert float(summary[0]["mean_time_loss_s_ci95"]) >= 0
    assert "±" in (pool_sweep / "summary.md").read_text()


@pytest.mark.sumo
def test_killed_worker_is_retried_and_failures_are_marked(
    foreign_scenario, pool_sweep, tmp_path, monkeypatch
):
    monkeypatch.setenv(FAULT_ENV, "kill-once:fixed-x1-seed0:0")
    out = tmp_path / "kill"
    result = run_sweep(_grid(foreign_scenario, ("fixed",), (0,)), out, jobs=2)
    row = _table(out)[("grid", "fixed", "1.0", "0")]
    assert result.ok and row["status"] == "ok" and row["attempts"] == "2"
    ref = _table(pool_sweep)[("grid", "fixed", "1.0", "0")]
    assert {m: row[m] for m in SAME} == {m: ref[m] for m in SAME}

    monkeypatch.setenv(FAULT_ENV, "fail-always:fixed-x1-seed1")
    code = main(
        [
            "sweep",
            "--sumocfg",
            str(foreign_scenario),
            "--controllers",
            "fixed",
            "--seeds",
            "1",
            "--end",
            "300",
            "--out",
            str(out),
            "--retries",
            "1",
        ]
    )
    row = _table(out)[("grid", "fixed", "1.0", "1")]
    assert code == 1 and row["status"] == "failed" and row["attempts"] == "2"
    assert "InjectedFault" in row["error"]
    assert _table(out)[("grid", "fixed", "1.0", "0")]["status"] == "ok"  # kept


@pytest.mark.sumo
def test_rerun_skips_finished_cells(foreign_scenario, tmp_path):
    out = tmp_path / "resume"
    grid = _grid(foreign_scenario, ("fixed",), (0, 1))
    assert run_sweep(grid, out, jobs=2).ran == 2
    first = _table(out)
    again = run_sweep(grid, out, jobs=2)
    assert again.ran == 0 and _table(out) == first
    # a failed cell runs again; a finished run missing from the table is recovered, not re-run
    lines = (out / "results.csv").read_text().splitlines()
    (out / "results.csv").write_text(
        "\n".join([lines[0], lines[1].replace(",ok,", ",failed,"), *lines[3:]]) + "\n"
    )
    Path(first[("grid", "fixed", "1.0", "0")]["out_dir"], "run.json").unlink()
    mtime = Path(first[("grid", "fixed", "1.0", "1")]["out_dir"], "metrics.json").stat().st_mtime
    third = run_sweep(grid, out, jobs=2)
    assert third.ran == 1 and third.ok
    assert (
        Path(first[("grid", "fixed", "1.0", "1")]["out_dir"], "metrics.json").stat().st_mtime
        == mtime
    )
    assert {k: r["mean_time_loss_s"] for k, r in _table(out).items()} == {
        k: r["mean_time_loss_s"] for k, r in first.items()
    }
    with pytest.raises(SweepError, match="other settings"):
        run_sweep(SweepGrid(sources=grid.sources, strategies=("fixed",), end=200.0), out)


@pytest.mark.sumo
def test_ray_gives_the_pool_table_and_retries_a_killed_worker(
    foreign_scenario, pool_sweep, tmp_path, monkeypatch
):
    ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'signal-opt[ray]')")
    monkeypatch.setenv(FAULT_ENV, "kill-once:max-pressure-x1-seed1:0")
    out = tmp_path / "ray"
    try:
        result = run_sweep(_grid(foreign_scenario), out, executor="ray", jobs=2)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert result.ok and result.ran == 4
    ray_rows, pool_rows = _table(out), _table(pool_sweep)
    assert ray_rows.keys() == pool_rows.keys()
    for key, r in ray_rows.items():
        assert {m: r[m] for m in SAME} == {m: pool_rows[key][m] for m in SAME}, key
        assert r["attempts"] == ("2" if key == ("grid", "max-pressure", "1.0", "1") else "1")
