"""Throwaway servers on 127.0.0.1 for the suites that need real ones: PostgreSQL,
Prometheus, and the service itself: under uvicorn in a thread of the test process, or as
a real ``signal-opt serve`` child process (crash and load suites)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

HOW = "run .ci/install-services.sh (apt-get install postgresql prometheus) to run it"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_ctl() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    path = found[-1] if found else shutil.which("pg_ctl")
    return Path(path).resolve() if path else None


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: drop to the ``postgres`` system user then."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A new cluster in a temporary folder; yields its SQLAlchemy URL."""
    ctl = pg_ctl()
    assert ctl is not None
    bindir = ctl.parent
    tmp = Path(tempfile.mkdtemp(prefix="signal-opt-pg-"))
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(tmp, "postgres")
    data, log = tmp / "data", tmp / "log"
    port = free_port()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*prefix, str(ctl), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(ctl), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def prometheus_server(target: str, tmp: Path, rule_files: tuple[Path, ...] = ()) -> Iterator[str]:
    """Prometheus scraping ``target`` (host:port) every second, evaluating ``rule_files``
    every second; yields its base URL."""
    binary = prometheus_binary()
    assert binary is not None
    config = tmp / "prometheus.yml"
    rules = "".join(f"  - {p}\n" for p in rule_files)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: signal-opt\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
        + (f"rule_files:\n{rules}" if rules else "")
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "prometheus.log", "wb"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError((tmp / "prometheus.log").read_text()[-2000:])
            try:
                if httpx.get(f"{base}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Prometheus did not become ready")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServiceProcess:
    """``signal-opt serve`` as a real child process on 127.0.0.1 with a SQLite file.

    Only ``yizhuang_core`` is bundled, the scheduler is off; ``kill()`` sends SIGKILL (no
    clean shutdown), ``start()`` again restarts it on the same database and port.
    """

    def __init__(self, tmp: Path, networks_dir: Path, **env: str) -> None:
        self.tmp = tmp
        self.db = tmp / "service.db"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "server.log"
        self.env = {
            **os.environ,
            "SIGNAL_OPT_DATABASE_URL": f"sqlite:///{self.db}",
            "SIGNAL_OPT_NETWORKS_DIR": str(networks_dir),
            "SIGNAL_OPT_SCHEDULER_ENABLED": "false",
            "OMP_NUM_THREADS": "1",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        exe = Path(sys.executable).with_name("signal-opt")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "signal_opt.cli"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*cmd, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not become ready")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or close anything."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
