"""Folder benchmarks (benchmarks/resco.py, benchmarks/shared.py) and the sweep summary's
best peer, on made-up rows: no SUMO."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

from signal_opt.sweep.benchmark import (
    add_arguments,
    benchmark_specs,
    find_scenarios,
    format_summary,
    main_from_args,
    mean_ratio,
    summarize,
)
from signal_opt.sweep.summary import format_summary as format_sweep_summary
from signal_opt.sweep.summary import summary_peer_lines


def _run(scenario: str, strategy: str, seed: int, loss: float, **kw: Any) -> dict[str, Any]:
    return {
        "label": f"{scenario}:{strategy}:{seed}",
        "scenario": scenario,
        "strategy": strategy,
        "seed": seed,
        "mean_time_loss_s": loss,
        "average_speed_kmh": 30.0,
        "vehicles_unfinished": 3,
        "vehicles_never_inserted": 1,
        "teleports": 0,
        **kw,
    }


STRATEGIES = ("fixed", "max-pressure", "sumo-actuated", "adaptive")


def test_find_scenarios_takes_each_folder_with_one_sumocfg(tmp_path):
    for name, cfgs in {
        "a": ["a.sumocfg"],
        "b": ["other.sumocfg"],
        "c": [],
        "d": ["x.sumocfg", "y.sumocfg"],
        "e": ["e.sumocfg", "e_long.sumocfg"],
    }.items():
        (tmp_path / name).mkdir()
        for c in cfgs:
            (tmp_path / name / c).write_text("<configuration/>")
    (tmp_path / "README.md").write_text("not a scenario")
    found, skipped = find_scenarios(tmp_path)
    assert [(s.name, s.sumocfg.name) for s in found] == [
        ("a", "a.sumocfg"),
        ("b", "other.sumocfg"),
        ("e", "e.sumocfg"),
    ]
    assert skipped[0].startswith("skipping c: no .sumocfg")
    assert skipped[1].startswith("skipping d: several .sumocfg (x.sumocfg, y.sumocfg)")
    found, skipped = find_scenarios(tmp_path, ["e", "zz", "a"])
    assert [s.name for s in found] == ["e", "a"] and skipped[0].startswith("skipping zz")


def test_benchmark_specs_folders_and_labels(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a.sumocfg").write_text("<configuration/>")
    found, _ = find_scenarios(tmp_path)
    one = benchmark_specs(found, ["fixed", "adaptive"], [0], tmp_path / "out")
    assert [(s.label, Path(s.out_dir).relative_to(tmp_path)) for s in one] == [
        ("a:fixed", Path("out/a/fixed")),
        ("a:adaptive", Path("out/a/adaptive")),
    ]
    many = benchmark_specs(found, ["fixed"], [3, 4], tmp_path / "out")
    assert [(s.label, s.seed, Path(s.out_dir).name) for s in many] == [
        ("a:fixed:3", 3, "seed3"),
        ("a:fixed:4", 4, "seed4"),
    ]


def test_summary_means_best_peer_ratio_and_failures():
    rows = [
        _run("s1", "fixed", 0, 40.0),
        _run("s1", "fixed", 1, 50.0),
        _run("s1", "max-pressure", 0, 20.0),
        _run("s1", "max-pressure", 1, 30.0),
        _run("s1", "sumo-actuated", 0, 10.0),
        {
            "label": "s1:sumo-actuated:1",
            "scenario": "s1",
            "strategy": "sumo-actuated",
            "seed": 1,
            "error": "SimulationError: SUMO stopped",
        },
        _run("s1", "adaptive", 0, 18.0),
        _run("s1", "adaptive", 1, 27.0),
        _run("s2", "fixed", 0, 80.0),
        _run("s2", "adaptive", 0, 60.0),
        _run("s2", "fixed", 1, 100.0),
        _run("s2", "adaptive", 1, 80.0),
    ]
    summary = summarize(rows, STRATEGIES)
    s1, s2 = summary
    # sumo-actuated's one finished seed (10 s) is the least mean time loss but adaptive's
    assert s1["best_peer"] == "sumo-actuated" and s1["adaptive_over_best_peer"] == 2.25
    by = {e["strategy"]: e for e in s1["strategies"]}
    assert by["fixed"]["mean_time_loss_s"] == 45.0 and by["fixed"]["vehicles_left"] == 4.0
    assert by["fixed"]["adaptive_lower_on"] == [2, 2]
    assert by["max-pressure"]["adaptive_lower_on"] == [2, 2]
    assert by["sumo-actuated"]["adaptive_lower_on"] == [0, 1]
    assert by["sumo-actuated"]["failed"] == [{"seed": 1, "error": "SimulationError: SUMO stopped"}]
    assert by["adaptive"]["adaptive_lower_on"] is None
    assert s2["best_peer"] == "fixed" and s2["adaptive_over_best_peer"] == pytest.approx(70 / 90)
    assert mean_ratio(summary) == pytest.approx((2.25 + 70 / 90) / 2)

    text = format_summary(summary, seeds=[0, 1])
    assert "  FAILED sumo-actuated seed 1: SimulationError: SUMO stopped" in text
    assert "  best peer: sumo-actuated 10.00 s; adaptive / best peer: 2.250" in text
    assert text.splitlines()[-1] == (
        "mean adaptive / best peer over 2 scenarios: 1.514 (s1 2.250, s2 0.778)"
    )
    fixed = next(ln for ln in text.splitlines() if ln.strip().startswith("fixed"))
    assert fixed.split() == ["fixed", "45.00", "30.00", "4.0", "0.0", "2", "2/2", "seeds"]


def test_a_strategy_that_failed_on_every_seed_is_no_peer():
    rows = [
        _run("s", "fixed", 0, 40.0),
        {
            "label": "s:max-pressure",
            "scenario": "s",
            "strategy": "max-pressure",
            "seed": 0,
            "error": "boom",
        },
        _run("s", "adaptive", 0, 30.0),
    ]
    (s,) = summarize(rows, STRATEGIES)
    assert s["best_peer"] == "fixed" and s["adaptive_over_best_peer"] == 0.75
    assert math.isnan(s["strategies"][1]["mean_time_loss_s"])
    lines = format_summary([s], seeds=[0]).splitlines()
    assert lines[4].split() == ["max-pressure", "FAILED"]
    assert "  FAILED max-pressure: boom" in lines
    (alone,) = summarize([rows[1]], STRATEGIES)
    assert alone["best_peer"] is None and mean_ratio([alone]) is None


def _args(tmp_path: Path, *argv: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    add_arguments(ap, tmp_path / "nowhere", str(tmp_path / "out"))
    return ap.parse_args(list(argv))


def test_a_missing_folder_is_skipped_cleanly(tmp_path, capsys):
    assert main_from_args(_args(tmp_path), "shared scenarios") == 0
    out = capsys.readouterr().out
    assert out.startswith("shared scenarios: no scenarios folder at") and "nothing to do" in out
    assert not (tmp_path / "out").exists()


def test_bad_options_are_one_line(tmp_path, capsys):
    tmp_path.joinpath("nowhere").mkdir()
    assert main_from_args(_args(tmp_path, "--strategies", "fixed,magic"), "x") == 2
    assert "unknown strategy 'magic'" in capsys.readouterr().out
    assert main_from_args(_args(tmp_path, "--seeds", "a-b"), "x") == 2
    assert main_from_args(_args(tmp_path), "x") == 0  # an empty folder: nothing to run
    assert "no scenario to run" in capsys.readouterr().out


def test_benchmark_writes_json_without_nan(tmp_path, monkeypatch, capsys):
    from signal_opt.sweep import benchmark

    (tmp_path / "nowhere" / "a").mkdir(parents=True)
    (tmp_path / "nowhere" / "a" / "a.sumocfg").write_text("<configuration/>")

    def fake_run_many(specs, jobs=None):
        return [
            {"error": "boom"} if s.strategy == "fixed" else _run("?", s.strategy, s.seed, 5.0)
            for s in specs
        ]

    monkeypatch.setattr(benchmark, "run_many", fake_run_many)
    code = main_from_args(_args(tmp_path, "--strategies", "fixed,adaptive"), "x")
    assert code == 1  # a run failed
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["scenario"] for r in data["runs"]] == ["a", "a"]
    assert data["summary"][0]["strategies"][0]["mean_time_loss_s"] is None
    assert data["mean_adaptive_over_best_peer"] is None
    assert "FAILED fixed: boom" in capsys.readouterr().out


def test_sweep_summary_names_the_best_peer_per_scenario_and_scale():
    def s(scenario, strategy, scale, loss):
        mean = {"mean_time_loss_s_mean": loss, "mean_time_loss_s_ci95": math.nan}
        return {"scenario": scenario, "strategy": strategy, "scale": scale, **mean}

    summary = [
        s("net", "fixed", 1.0, 50.0),
        s("net", "sumo-delay_based", 1.0, 40.0),
        s("net", "adaptive", 1.0, 30.0),
        s("net", "fixed", 1.2, 90.0),
        s("net", "adaptive", 1.2, math.nan),  # every seed failed
    ]
    assert summary_peer_lines(summary) == [
        "best peer (net, 1.00x): sumo-delay_based 40.0 s; adaptive / best peer: 0.750",
    ]
    full = [{**r, "runs": 1, "failed": 0} for r in summary]
    for r in full:
        for m in (
            "mean_travel_time_s",
            "mean_waiting_time_s",
            "average_speed_kmh",
            "vehicles_arrived",
            "teleports",
        ):
            r[f"{m}_mean"], r[f"{m}_ci95"] = 1.0, math.nan
    assert format_sweep_summary(full).endswith("adaptive / best peer: 0.750")
    assert format_sweep_summary(full, markdown=True).endswith(
        "\n\n- best peer (net, 1.00x): sumo-delay_based 40.0 s; adaptive / best peer: 0.750"
    )
