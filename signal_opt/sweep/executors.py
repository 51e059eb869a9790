"""Where the sweep's tasks run: a local process pool or Ray, behind one small interface.

Both backends start a fresh worker process per run (libsumo allows one simulation per
process) and report each attempt as it finishes. Retries live in one place,
:func:`execute`, so they count the same on both: a run that raises or whose worker dies is
submitted again, at most ``retries`` more times.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from signal_opt.runs import RunSpec
from signal_opt.sweep.grid import SweepError
from signal_opt.sweep.worker import FAULT_ENV, run_cell

TaskFn = Callable[[RunSpec, int], dict[str, Any]]
EXECUTORS = ("process", "ray")
RAY_MISSING = "--executor ray needs Ray: pip install 'signal-opt[ray]' (or 'ray[default]')"


@dataclass(frozen=True)
class Outcome:
    """The last attempt of one task: a row, or the error that made it fail."""

    index: int
    attempts: int
    row: dict[str, Any] | None
    error: str
    task_wall_s: float

    @property
    def ok(self) -> bool:
        return self.row is not None


class Backend(Protocol):
    capacity: int
    """How many tasks to keep submitted at once."""

    def submit(self, ticket: int, spec: RunSpec, attempt: int) -> None: ...

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        """Block until at least one task ends; ``(ticket, result)`` for each that did."""
        ...

    def close(self) -> None: ...


def execute(
    specs: Sequence[RunSpec],
    backend: Backend,
    retries: int,
    on_outcome: Callable[[Outcome], None],
    on_retry: Callable[[int, int, str], None] | None = None,
) -> None:
    """Run each spec until it succeeds or has had ``retries + 1`` attempts.

    ``on_outcome`` is called once per spec, as soon as its last attempt ends;
    ``on_retry(index, attempt, error)`` when an attempt failed and another one follows.
    """
    pending = deque(range(len(specs)))
    attempts = [0] * len(specs)
    running = 0
    try:
        while pending or running:
            while pending and running < backend.capacity:
                i = pending.popleft()
                attempts[i] += 1
                backend.submit(i, specs[i], attempts[i])
                running += 1
            for i, result in backend.wait():
                running -= 1
                row = result.get("row")
                if row is None and attempts[i] <= retries:
                    if on_retry is not None:
                        on_retry(i, attempts[i], str(result.get("error", "")))
                    pending.appendleft(i)  # a retry goes first: its cell is the oldest
                    continue
                on_outcome(
                    Outcome(
                        i,
                        attempts[i],
                        row,
                        str(result.get("error", "")),
                        float(result.get("task_wall_s", 0.0)),
                    )
                )
    finally:
        backend.close()


def _child(conn: Connection, fn: TaskFn, spec: RunSpec, attempt: int) -> None:
    conn.send(fn(spec, attempt))
    conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker died: killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"worker died: exit code {exitcode} without a result"


class ProcessBackend:
    """One spawned process per attempt, at most ``jobs`` at a time."""

    def __init__(self, jobs: int, fn: TaskFn = run_cell) -> None:
        self.capacity = max(1, jobs)
        self._fn = fn
        self._ctx = multiprocessing.get_context("spawn")
        self._running: dict[int, tuple[BaseProcess, Connection]] = {}

    def submit(self, ticket: int, spec: RunSpec, attempt: int) -> None:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_child, args=(send, self._fn, spec, attempt), name=f"sweep-{ticket}", daemon=True
        )
        proc.start()
        send.close()  # the child holds the only write end: EOF when it dies
        self._running[ticket] = (proc, recv)

    def wait(self, timeout: float | None = None) -> list[tuple[int, dict[str, Any]]]:
        """As :meth:`Backend.wait`; with ``timeout`` (s), an empty list if nothing ended."""
        by_conn = {id(conn): t for t, (_, conn) in self._running.items()}
        done = []
        for ready in wait([conn for _, conn in self._running.values()], timeout):
            ticket = by_conn[id(ready)]
            proc, conn = self._running.pop(ticket)
            try:
                result: dict[str, Any] | None = conn.recv()
            except EOFError:  # the child died before sending
                result = None
            conn.close()
            proc.join()
            done.append((ticket, result or {"error": _death(proc.exitcode)}))
        return done

    def close(self) -> None:
        for proc, conn in self._running.values():
            proc.terminate()
            proc.join()
            conn.close()
        self._running.clear()


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise SweepError(RAY_MISSING) from exc
    return ray


class RayBackend:
    """Ray tasks (``num_cpus=1``, a fresh worker per task); retries are the driver's.

    Connects to ``address`` (``auto``, ``host:6379`` or ``ray://host:10001``; default
    ``$RAY_ADDRESS``) or starts a local Ray with ``jobs`` CPUs; a Ray already initialised
    by the caller is used as it is (and left running).
    """

    def __init__(self, jobs: int, address: str | None = None, fn: TaskFn = run_cell) -> None:
        ray = import_ray()
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            address = address or os.environ.get("RAY_ADDRESS")
            try:
                if address:  # an existing cluster sizes itself; Ray Client takes few options
                    ray.init(address=address)
                else:
                    # "local": a new instance even if a cluster runs on this machine
                    ray.init(
                        address="local",
                        num_cpus=max(1, jobs),
                        include_dashboard=False,
                        log_to_driver=False,
                    )
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise SweepError(f"cannot start or reach {where}: {exc}") from exc
        # max_retries=0: a dead worker comes back to execute() and counts as an attempt
        remote = ray.remote(num_cpus=1, max_retries=0, max_calls=1)(fn)
        fault = os.environ.get(FAULT_ENV)
        self._remote = (
            remote.options(runtime_env={"env_vars": {FAULT_ENV: fault}}) if fault else remote
        )
        self.capacity = 1 << 30  # Ray queues what the cluster cannot start yet
        self._refs: dict[Any, int] = {}

    def submit(self, ticket: int, spec: RunSpec, attempt: int) -> None:
        self._refs[self._remote.remote(spec, attempt)] = ticket

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        ready, _ = self._ray.wait(list(self._refs), num_returns=1)
        done = []
        for ref in ready:
            ticket = self._refs.pop(ref)
            try:
                result = self._ray.get(ref)
            except self._ray.exceptions.WorkerCrashedError:
                result = {"error": "worker died: Ray worker crashed (killed or out of memory)"}
            except self._ray.exceptions.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                result = {"error": f"{type(exc).__name__}: {first}"}
            done.append((ticket, result))
        return done

    def close(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        if self._owns:
            self._ray.shutdown()


def make_backend(
    executor: str, jobs: int | None, address: str | None = None, fn: TaskFn = run_cell
) -> Backend:
    jobs = jobs or os.cpu_count() or 1
    if executor == "process":
        if address:
            raise SweepError("--address is for --executor ray")
        return ProcessBackend(jobs, fn)
    if executor == "ray":
        return RayBackend(jobs, address, fn)
    raise SweepError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
