"""Scenario sweeps: a grid of independent simulations on a process pool or on Ray.

grid = SweepGrid(sources=make_sources(["yizhuang_core"]), strategies=("fixed", "webster"),
                 seeds=(0, 1, 2), end=3600)
result = run_sweep(grid, "out/sweep", executor="ray", jobs=8)
"""

from signal_opt.sweep.executors import EXECUTORS, ProcessBackend, RayBackend, make_backend
from signal_opt.sweep.grid import Cell, Source, SweepError, SweepGrid, make_sources
from signal_opt.sweep.runner import SweepResult, run_sweep
from signal_opt.sweep.summary import format_summary

__all__ = [
    "EXECUTORS",
    "Cell",
    "ProcessBackend",
    "RayBackend",
    "Source",
    "SweepError",
    "SweepGrid",
    "SweepResult",
    "format_summary",
    "make_backend",
    "make_sources",
    "run_sweep",
]
