"""The stress family run: comparisons from rows, and a one-draw run through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signal_opt.cli import main
from signal_opt.stress.command import parse_draws, parse_scales
from signal_opt.stress.compare import compare, etown, summarize
from signal_opt.sweep import SweepError

# --- no SUMO -------------------------------------------------------------------------------


def _row(strategy: str, scale: float, loss: float, speed: float, **kw: Any) -> dict[str, Any]:
    row = {
        "draw": 0,
        "kind": "grid",
        "scale": scale,
        "scale_label": "1" if scale == 1.0 else "heavy",
        "sim_seed": 0,
        "strategy": strategy,
        "status": "ok",
        "mean_time_loss_s": loss,
        "average_speed_kmh": speed,
        "vehicles_unfinished": 3,
        "vehicles_never_inserted": 2,
        "teleports": 1,
    }
    return row | kw


def test_best_peer_ratio_and_etown() -> None:
    runs = [
        _row("fixed", 1.0, 100.0, 20.0),
        _row("webster", 1.0, 90.0, 22.0),
        _row("max-pressure", 1.0, 80.0, 25.0),
        _row("adaptive", 1.0, 60.0, 27.0),
        _row("fixed", 1.3, 200.0, 12.0),
        _row("max-pressure", 1.3, 150.0, 15.0),
        _row("max-pressure", 1.3, 170.0, 14.0, sim_seed=1),
        _row("adaptive", 1.3, 180.0, 13.2),
        _row("webster", 1.3, 0.0, 0.0, status="failed"),
    ]
    cmp = {c["scale"]: c for c in compare(runs)}
    assert cmp[1.0]["best_peer"] == "max-pressure" and cmp[1.0]["ratio"] == pytest.approx(0.75)
    assert cmp[1.3]["best_peer"] == "max-pressure"  # mean of its two seeds, 160 s
    assert cmp[1.3]["ratio"] == pytest.approx(180.0 / 160.0)
    assert cmp[1.3]["strategies"]["webster"] is None
    assert cmp[1.0]["strategies"]["fixed"]["left"] == 5
    (e,) = etown(runs)
    assert e["base_plan"] == "webster" and e["ratio"] == pytest.approx(13.2 / 22.0)
    by_label = {s["scale_label"]: s for s in summarize(list(cmp.values()))}
    assert by_label["1"]["adaptive_best"] == 1 and by_label["heavy"]["adaptive_best"] == 0


def test_draw_and_scale_flags() -> None:
    assert parse_draws("3") == (0, 1, 2)
    assert parse_draws("3-5") == (3, 4, 5)
    assert parse_draws("0,4") == (0, 4)
    assert parse_scales("1.0,heavy,1.30") == ("1", "heavy", "1.3")
    with pytest.raises(SweepError):
        parse_scales("1.0,big")
    with pytest.raises(SweepError):
        parse_draws("0")


def test_unknown_strategy_is_a_usage_error(tmp_path: Path, capsys) -> None:
    code = main(["stress", "--draws", "1", "--strategies", "nope", "--out", str(tmp_path)])
    assert code == 2
    assert "nope" in capsys.readouterr().err


# --- SUMO ----------------------------------------------------------------------------------


@pytest.mark.sumo
def test_one_draw_two_strategies_writes_the_results(tmp_path: Path, capsys) -> None:
    out = tmp_path / "stress"
    argv = ["stress", "--draws", "4-4", "--scales", "1.0,heavy", "--end", "240"]
    argv += ["--strategies", "fixed,adaptive", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "adaptive/best peer" in printed and "draw4" in printed
    results = json.loads((out / "stress.json").read_text())
    assert set(results) >= {"settings", "draws", "runs", "comparisons", "etown", "summary"}
    (draw,) = results["draws"]
    assert draw["draw"] == 4 and draw["kind"] and draw["signals"] >= 9
    assert [s["label"] for s in draw["scales"]] == ["1", "heavy"]
    assert len(results["runs"]) == 4
    for run in results["runs"]:
        assert run["status"] == "ok", run["error"]
        for key in (
            "mean_time_loss_s",
            "average_speed_kmh",
            "vehicles_unfinished",
            "vehicles_never_inserted",
            "teleports",
            "task_wall_s",
            "sumocfg",
        ):
            assert run[key] is not None
        assert Path(run["sumocfg"]).is_file()
    assert {c["scale_label"] for c in results["comparisons"]} == {"1", "heavy"}
    for c in results["comparisons"]:
        assert c["best_peer"] == "fixed" and c["ratio"] is not None
    (e,) = results["etown"]
    assert e["base_plan"] == "fixed" and e["ratio"] > 0
