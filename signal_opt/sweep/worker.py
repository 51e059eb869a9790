"""The body of one sweep task, the same on the process pool and on Ray.

It runs in a fresh worker process and returns a small dict (never raises): ``{"row": ...}``
for a finished run, ``{"error": "..."}`` for a run that raised. A worker that dies (SIGKILL,
out of memory, segfault in SUMO) returns nothing; the executor reports that.

Fault injection for tests and drills: ``SIGNAL_OPT_SWEEP_FAULT=<action>:<match>[:<delay s>]``
makes every run whose folder contains ``match`` misbehave: ``kill-once`` SIGKILLs its own
process ``delay`` seconds into the first attempt (mid-simulation), ``fail-once`` raises on
the first attempt, ``fail-always`` raises on every attempt.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from typing import Any

from signal_opt.runs import RunSpec, run_spec

FAULT_ENV = "SIGNAL_OPT_SWEEP_FAULT"


class InjectedFault(RuntimeError):
    pass


def _inject_fault(spec: RunSpec, attempt: int) -> None:
    text = os.environ.get(FAULT_ENV, "")
    if not text:
        return
    action, _, rest = text.partition(":")
    match, _, delay = rest.partition(":")
    if not match or match not in spec.out_dir:
        return
    if action == "kill-once" and attempt == 1:
        pid = os.getpid()
        timer = threading.Timer(float(delay or 0.0), os.kill, (pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()
    elif action == "fail-always" or (action == "fail-once" and attempt == 1):
        raise InjectedFault(f"injected failure ({FAULT_ENV}={text}), attempt {attempt}")


def run_cell(spec: RunSpec, attempt: int) -> dict[str, Any]:
    """Run one cell's simulation; ``{"row": ..., "task_wall_s": ...}`` or ``{"error": ...}``."""
    t0 = time.perf_counter()
    try:
        _inject_fault(spec, attempt)
        row = run_spec(spec)
    except Exception as exc:  # reported in the table, retried by the driver
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "error": f"{type(exc).__name__}: {exc} "
            f"({os.path.basename(where.filename)}:{where.lineno})",
            "task_wall_s": time.perf_counter() - t0,
        }
    return {"row": row, "task_wall_s": time.perf_counter() - t0}


def noop(spec: RunSpec, attempt: int) -> dict[str, Any]:
    """A task that does nothing: measures an executor's own cost per task."""
    return {"row": {}, "task_wall_s": 0.0}
