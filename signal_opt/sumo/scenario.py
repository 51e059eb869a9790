"""Scenarios: a network, its demand and additional files, and a time window.

A scenario comes either from a user's ``.sumocfg`` or from one of the bundled Yizhuang
networks (``networks/<name>/``), whose demand is generated for a given scale and seed.
"""

from __future__ import annotations

import os
import xml.sax
from dataclasses import dataclass, field, replace
from pathlib import Path

import sumolib

from signal_opt.sumo.files import sumo_time
from signal_opt.sumo.network import NetworkError

DEFAULT_DAY_SECONDS = 14400.0
"""The bundled demand compresses a 24 h day into 4 simulated hours (1 h -> 10 min)."""


class ScenarioError(ValueError):
    """A scenario that cannot be run (missing files, unknown network...)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    net_file: Path
    route_files: tuple[Path, ...]
    additional_files: tuple[Path, ...] = ()
    begin: float = 0.0
    end: float = 3600.0
    scale: float = 1.0
    extra_args: tuple[str, ...] = field(default=())

    def with_window(self, begin: float | None, end: float | None) -> Scenario:
        return replace(
            self,
            begin=self.begin if begin is None else float(begin),
            end=self.end if end is None else float(end),
        )


def networks_dir() -> Path:
    """Folder of the bundled networks (``$SIGNAL_OPT_NETWORKS`` overrides)."""
    env = os.environ.get("SIGNAL_OPT_NETWORKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "networks"


def bundled_networks() -> list[str]:
    root = networks_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / f"{p.name}.net.xml").is_file())


def _split_files(value: str | None, base: Path) -> tuple[Path, ...]:
    if not value:
        return ()
    parts = [p for p in value.replace(",", " ").split() if p]
    return tuple((base / p).resolve() for p in parts)


def from_sumocfg(path: str | Path) -> Scenario:
    """Scenario of a SUMO configuration file (net, routes, additionals, begin, end)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"configuration file not found: {path}")
    options: dict[str, str] = {}
    try:
        for opt in sumolib.options.readOptions(str(path)):
            options.setdefault(opt.name, opt.value)
    except xml.sax.SAXException as exc:
        raise ScenarioError(f"cannot parse {path}: {exc}") from exc

    def value(*names: str) -> str | None:
        return next((options[n] for n in names if n in options), None)

    base = path.parent
    net = _split_files(value("net-file", "n"), base)
    if not net:
        raise ScenarioError(f"{path} names no net-file")
    routes = _split_files(value("route-files", "r"), base)
    adds = _split_files(value("additional-files", "a"), base)
    for f in (*net, *routes, *adds):
        if not f.is_file():
            raise ScenarioError(f"{path} refers to a missing file: {f}")
    begin_value, end_value = value("begin", "b"), value("end", "e")
    try:
        begin = sumo_time(begin_value, f"{path.name}: begin") if begin_value else 0.0
        end = sumo_time(end_value, f"{path.name}: end") if end_value else begin + 3600.0
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    return Scenario(
        name=path.stem,
        net_file=net[0],
        route_files=routes,
        additional_files=adds,
        begin=begin,
        end=end,
    )


def bundled(name: str, out_dir: Path, scale: float = 1.0, seed: int = 0) -> Scenario:
    """A bundled network with its demand generated into ``out_dir`` for ``scale`` and ``seed``."""
    from signal_opt.sumo.demand import write_routes

    folder = networks_dir() / name
    net = folder / f"{name}.net.xml"
    if not net.is_file():
        known = ", ".join(bundled_networks()) or "none found"
        raise ScenarioError(f"unknown network {name!r} (bundled: {known})")
    if not scale > 0:
        raise ScenarioError(f"--scale must be positive, got {scale}")
    out_dir.mkdir(parents=True, exist_ok=True)
    routes = out_dir / f"{name}.rou.xml"
    summary = write_routes(folder / "demand.json", routes, scale=scale, seed=seed)
    day = float(getattr(summary, "day_seconds", DEFAULT_DAY_SECONDS))
    adds = tuple(p for p in [folder / f"{name}.det.add.xml"] if p.is_file())
    return Scenario(
        name=name,
        net_file=net,
        route_files=(routes,),
        additional_files=adds,
        begin=0.0,
        end=day,
        scale=scale,
    )


def resolve(
    sumocfg: str | None,
    network: str | None,
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 0,
    begin: float | None = None,
    end: float | None = None,
) -> Scenario:
    if bool(sumocfg) == bool(network):
        raise ScenarioError("give exactly one of --sumocfg PATH or --network NAME")
    try:
        if sumocfg:
            sc = from_sumocfg(sumocfg)
            if scale != 1.0:
                sc = replace(sc, scale=scale, extra_args=("--scale", str(scale)))
        else:
            sc = bundled(str(network), out_dir, scale=scale, seed=seed)
    except NetworkError as exc:
        raise ScenarioError(str(exc)) from exc
    sc = sc.with_window(begin, end)
    if sc.end <= sc.begin:
        raise ScenarioError(f"end ({sc.end}) must be after begin ({sc.begin})")
    return sc
