"""The command line: one-line errors for bad input, outputs for good input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from signal_opt.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signal_opt.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sumocfg", "/nonexistent.sumocfg", "--controller", "fixed"], "not found"),
        (["--network", "no_such_net", "--controller", "fixed"], "unknown network"),
        (["--network", "yizhuang_core", "--controller", "magic"], "unknown strategy"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, needle):
    res = _run("simulate", *args, "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_network_without_traffic_lights(tmp_path):
    import sumolib

    net = tmp_path / "plain.net.xml"
    subprocess.run(
        [sumolib.checkBinary("netgenerate"), "--grid", "--grid.number", "2", "-o", str(net)],
        check=True,
        capture_output=True,
    )
    cfg = tmp_path / "plain.sumocfg"
    cfg.write_text(
        '<configuration><input><net-file value="plain.net.xml"/></input></configuration>'
    )
    res = _run(
        "simulate", "--sumocfg", str(cfg), "--controller", "fixed", "--out", str(tmp_path / "o")
    )
    assert res.returncode == 2 and "no traffic lights" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.sumo
def test_simulate_writes_outputs(foreign_scenario, tmp_path):
    out = tmp_path / "run"
    code = main(
        [
            "simulate",
            "--sumocfg",
            str(foreign_scenario),
            "--controller",
            "fixed",
            "--out",
            str(out),
            "--end",
            "300",
        ]
    )
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in (
        "mean_travel_time_s",
        "mean_time_loss_s",
        "mean_waiting_time_s",
        "average_speed_kmh",
        "vehicles_loaded",
        "vehicles_inserted",
        "vehicles_arrived",
        "vehicles_unfinished",
        "vehicles_never_inserted",
        "teleports",
        "sim_wall_s",
    ):
        assert key in m
    assert m["vehicles_loaded"] == m["vehicles_inserted"] + m["vehicles_never_inserted"]
    assert m["vehicles_inserted"] == m["vehicles_arrived"] + m["vehicles_unfinished"]
    assert (out / "tripinfo.xml").is_file()
    plans = [json.loads(x) for x in (out / "plans.jsonl").read_text().splitlines()]
    assert {p["intersection"] for p in plans} and all("cycle" in p for p in plans)
