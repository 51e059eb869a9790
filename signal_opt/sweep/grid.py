"""The sweep grid: scenarios x strategies x demand scales x seeds, and its cells.

A grid comes from command-line flags or from a small TOML or JSON file::

    # grid.toml
    networks = ["yizhuang_core"]          # bundled networks
    sumocfgs = ["my_city/city.sumocfg"]   # relative to this file
    strategies = ["fixed", "webster", "max-pressure"]
    scales = [1.0, 1.2]
    seeds = [0, 1, 2, 3, 4]               # or a count: seeds = 5  (0..4)
    end = 3600                            # optional window, seconds
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signal_opt.strategies import STRATEGIES


class SweepError(ValueError):
    """A sweep that cannot run as given (bad grid, incompatible output folder...)."""


@dataclass(frozen=True)
class Source:
    """One scenario of the grid: a bundled network or a user's ``.sumocfg``."""

    name: str
    network: str | None = None
    sumocfg: str | None = None


@dataclass(frozen=True)
class Cell:
    """One simulation of the sweep: a point of the grid."""

    source: Source
    strategy: str
    scale: float
    seed: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Identity of the cell in the results table (scale normalised as text)."""
        return (self.source.name, self.strategy, f"{self.scale:g}", self.seed)

    @property
    def folder(self) -> str:
        """Run folder, relative to the sweep's output folder."""
        return f"runs/{self.source.name}/{self.strategy}-x{self.scale:g}-seed{self.seed}"

    def describe(self) -> str:
        return f"{self.source.name} {self.strategy} x{self.scale:g} seed {self.seed}"


@dataclass(frozen=True)
class SweepGrid:
    sources: tuple[Source, ...]
    strategies: tuple[str, ...]
    scales: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0,)
    begin: float | None = None
    end: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sources:
            raise SweepError("the grid has no scenario: give --network NAME or --sumocfg PATH")
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SweepError(
                f"two scenarios share the name {dup[0]!r}; rename one of the .sumocfg files"
            )
        if not self.strategies:
            raise SweepError("the grid has no strategy")
        for s in self.strategies:
            if s not in STRATEGIES:
                raise SweepError(f"unknown strategy {s!r}; choose from: {', '.join(STRATEGIES)}")
        for x in self.scales:
            if not x > 0:
                raise SweepError(f"scale {x} is not positive")
        if not self.scales or not self.seeds:
            raise SweepError("the grid needs at least one scale and one seed")

    def cells(self) -> list[Cell]:
        """Every cell, scenario-major; seeds vary fastest."""
        return [
            Cell(src, strategy, scale, seed)
            for src in self.sources
            for strategy in self.strategies
            for scale in self.scales
            for seed in self.seeds
        ]

    def settings(self) -> dict[str, Any]:
        """What must match for two sweeps to share an output folder."""
        return {"begin": self.begin, "end": self.end, "options": self.options}


def make_sources(
    networks: Iterable[str] = (), sumocfgs: Iterable[str | Path] = (), base: Path | None = None
) -> tuple[Source, ...]:
    out = [Source(name=n, network=n) for n in networks]
    for cfg in sumocfgs:
        path = Path(cfg)
        if base is not None and not path.is_absolute():
            path = base / path
        out.append(Source(name=path.stem, sumocfg=str(path.resolve())))
    return tuple(out)


def parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise SweepError(f"{what} {text!r} is empty")
    return items


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in parse_list(text, "--scales"))
    except ValueError as exc:
        raise SweepError(f"--scales {text!r} is not a list of numbers") from exc


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"``, ``"0-4"`` or a mix (``"0-2,7"``)."""
    seeds: list[int] = []
    try:
        for item in parse_list(text, "--seeds"):
            lo, sep, hi = item.partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError as exc:
        raise SweepError(f"--seeds {text!r}: use a list like 0,1,2 or a range like 0-4") from exc
    return tuple(dict.fromkeys(seeds))


def _seeds_value(value: Any, path: Path) -> tuple[int, ...]:
    if isinstance(value, int):
        return tuple(range(value))
    if isinstance(value, str):
        return parse_seeds(value)
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise SweepError(f"{path}: 'seeds' has value {value!r}; give a count or a list of integers")


_KEYS = {"networks", "sumocfgs", "strategies", "scales", "seeds", "begin", "end", "options"}


def read_grid_file(path: str | Path) -> dict[str, Any]:
    """The grid file's entries as keyword values for :class:`SweepGrid` (TOML or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"grid file not found: {path}")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"cannot parse grid file {path}: {exc}") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise SweepError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    out: dict[str, Any] = {}
    if "networks" in data or "sumocfgs" in data:
        out["sources"] = make_sources(
            _strings(data, "networks", path), _strings(data, "sumocfgs", path), base=path.parent
        )
    if "strategies" in data:
        out["strategies"] = tuple(_strings(data, "strategies", path))
    if "scales" in data:
        out["scales"] = tuple(float(x) for x in data["scales"])
    if "seeds" in data:
        out["seeds"] = _seeds_value(data["seeds"], path)
    for key in ("begin", "end"):
        if key in data:
            out[key] = float(data[key])
    if "options" in data:
        out["options"] = dict(data["options"])
    return out


def _strings(data: dict[str, Any], key: str, path: Path) -> Sequence[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not all(isinstance(v, str) for v in value):
        raise SweepError(f"{path}: {key!r} has value {value!r}; expected a list of strings")
    return list(value)
