"""The street layout of a stress draw: nodes, blocks, lanes, left bays and signal programs.

Three kinds, all built on rows (E-W streets, south to north) crossing columns (N-S
streets, west to east), every street running on to a fringe node at both ends:

- ``grid``: 3-5 x 3-5 signals, blocks 100-700 m, node positions jittered, some blocks
  dropped (never leaving a signal with fewer than 3 legs), mixed road classes;
- ``arterial``: one arterial with 9-12 signals, or an arterial and a parallel collector
  with 5-7 signals each, side streets ending at the fringe;
- ``district``: a Yizhuang-like orthogonal 3-5 x 3-5 grid of arterials and collectors,
  blocks 350-700 m, every approach with its own left lane or a long bay, four-stage
  programs with protected lefts at every signal.

Everything is drawn from the ``numpy.random.Generator`` passed in; nothing here touches
SUMO (:mod:`signal_opt.stress.sources` writes the plain XML).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

KINDS = ("grid", "arterial", "district")
KMH = 1 / 3.6
RIGHT = {"E": "S", "S": "W", "W": "N", "N": "E"}
"""Heading after a right turn, by heading of travel."""
LEFT = {"E": "N", "N": "W", "W": "S", "S": "E"}
LEFT_KINDS = ("shared", "lane", "bay", "none")
"""How an approach turns left at its signal: from its leftmost lane, which also runs
through (``shared``); from its leftmost lane only (``lane``); from a left-only lane added
over the last ``bay`` m (``bay``); ``none`` where the block ends at no signal."""


@dataclass(frozen=True)
class RoadClass:
    name: str
    lanes: tuple[int, int]
    """Fewest and most lanes per direction."""
    speed_kmh: tuple[float, float]
    priority: int


ARTERIAL = RoadClass("arterial", (2, 4), (50.0, 70.0), 3)
COLLECTOR = RoadClass("collector", (2, 3), (40.0, 60.0), 2)
LOCAL = RoadClass("local", (1, 2), (30.0, 50.0), 1)
CLASSES = {c.name: c for c in (ARTERIAL, COLLECTOR, LOCAL)}


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    signal: bool


@dataclass(frozen=True)
class Link:
    """One direction of one block, from node ``src`` to node ``dst``."""

    id: str
    src: str
    dst: str
    heading: str
    """Direction of travel: E, W, N or S."""
    street: str
    road: str
    """Road class name (:data:`CLASSES`)."""
    lanes: int
    """Vehicle lanes along the block (a bay adds one over its last ``bay`` m)."""
    speed: float
    """Speed limit (m/s)."""
    left: str
    """See :data:`LEFT_KINDS`."""
    bay: float = 0.0

    @property
    def approach(self) -> str:
        """Id of the edge that reaches ``dst``: the bay's own edge where there is one."""
        return f"{self.id}_bay" if self.left == "bay" else self.id

    @property
    def approach_lanes(self) -> int:
        return self.lanes + 1 if self.left == "bay" else self.lanes


@dataclass(frozen=True)
class Design:
    kind: str
    rows: int
    cols: int
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    dropped: tuple[str, ...]
    """Blocks left out of the grid (``a|b``, both directions)."""
    sidewalks: bool
    four_stage: tuple[str, ...]
    """Signals that run the four-stage protected-left program; the others run netconvert's."""
    four_stage_green: float
    """Untuned green of every stage of the four-stage programs (s)."""
    tls_layout: str
    """netconvert's ``--tls.layout`` for the other signals: ``opposites`` or ``incoming``."""
    tls_cycle: float
    left_green: float
    """netconvert's ``--tls.left-green.time``: protected left arrows of its programs (s)."""

    @property
    def has_interior(self) -> bool:
        """Can trips start and end along the blocks between signals? Not on a lone
        arterial: without U-turns a vehicle never gets to the other direction."""
        return self.rows > 1

    @property
    def signals(self) -> list[str]:
        return [n.id for n in self.nodes if n.signal]

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def block_lengths(self) -> np.ndarray:
        """(B,) straight-line lengths (m) of the blocks between two signals."""
        pos = {n.id: (n.x, n.y) for n in self.nodes}
        signal = {n.id for n in self.nodes if n.signal}
        inner = [lk for lk in self.links if lk.src in signal and lk.dst in signal]
        return np.array([np.hypot(*np.subtract(pos[lk.dst], pos[lk.src])) for lk in inner])

    def summary(self) -> dict[str, Any]:
        """The figures a reader of the results wants about this layout."""
        blocks = self.block_lengths()  # (B,)
        into_signals = [lk for lk in self.links if lk.left != "none"]
        lefts = {k: sum(lk.left == k for lk in into_signals) for k in LEFT_KINDS[:3]}
        bays = [lk.bay for lk in into_signals if lk.left == "bay"]
        return {
            "kind": self.kind,
            "rows": self.rows,
            "cols": self.cols,
            "signals": len(self.signals),
            "four_stage_signals": len(self.four_stage),
            "tls_layout": self.tls_layout,
            "tls_cycle_s": self.tls_cycle,
            "left_green_s": self.left_green,
            "four_stage_green_s": self.four_stage_green,
            "block_m": [round(float(blocks.min()), 1), round(float(blocks.max()), 1)],
            "dropped_blocks": len(self.dropped),
            "lanes": sorted({lk.lanes for lk in self.links}),
            "approach_lefts": lefts,
            "bay_m": [round(min(bays), 1), round(max(bays), 1)] if bays else [],
            "speed_kmh": sorted({round(lk.speed / KMH) for lk in self.links}),
            "sidewalks": self.sidewalks,
        }


def _positions(
    rng: np.random.Generator, n: int, gap: tuple[float, float], start: float
) -> np.ndarray:
    """(n,) coordinates of ``n`` streets with gaps drawn in ``gap`` (m)."""
    gaps = rng.uniform(*gap, size=max(n - 1, 0))  # (n - 1,)
    return start + np.concatenate([[0.0], np.cumsum(gaps)])


def _classes(rng: np.random.Generator, kind: str, rows: int, cols: int) -> tuple[list, list]:
    """Road class of each row (E-W street) and each column (N-S street)."""
    if kind == "district":
        k = int(rng.integers(2))
        row = [ARTERIAL if (i + k) % 2 == 0 else COLLECTOR for i in range(rows)]
        k = int(rng.integers(2))
        col = [ARTERIAL if (i + k) % 2 == 0 else COLLECTOR for i in range(cols)]
        return row, col
    if kind == "arterial":
        row = [ARTERIAL, COLLECTOR][:rows]
        col = [COLLECTOR if rng.random() < 0.4 else LOCAL for _ in range(cols)]
        return row, col
    pick = [ARTERIAL, COLLECTOR, LOCAL]
    p = [0.3, 0.4, 0.3]
    return (
        [pick[int(rng.choice(3, p=p))] for _ in range(rows)],
        [pick[int(rng.choice(3, p=p))] for _ in range(cols)],
    )


def _shape(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    """Rows, columns, gap ranges (m), jitter and share of blocks dropped for ``kind``."""
    if kind == "grid":
        return {
            "rows": int(rng.integers(3, 6)),
            "cols": int(rng.integers(3, 6)),
            "gap_x": (100.0, 700.0),
            "gap_y": (100.0, 700.0),
            "jitter": float(rng.uniform(0.04, 0.15)),
            "drop": float(rng.uniform(0.05, 0.2)),
            "sidewalks": 0.3,
        }
    if kind == "arterial":
        rows = 1 if rng.random() < 0.5 else 2
        return {
            "rows": rows,
            "cols": int(rng.integers(9, 13)) if rows == 1 else int(rng.integers(5, 8)),
            "gap_x": (150.0, 600.0),
            "gap_y": (150.0, 500.0),
            "jitter": float(rng.uniform(0.0, 0.06)),
            "drop": 0.0,
            "sidewalks": 0.4,
        }
    return {
        "rows": int(rng.integers(3, 6)),
        "cols": int(rng.integers(3, 6)),
        "gap_x": (350.0, 700.0),
        "gap_y": (350.0, 700.0),
        "jitter": 0.0,
        "drop": 0.0,
        "sidewalks": 0.6,
    }


def _drop_blocks(
    rng: np.random.Generator, pairs: list[tuple[str, str]], degree: dict[str, int], share: float
) -> set[tuple[str, str]]:
    """Blocks between two signals to leave out.

    Each signal keeps 3 legs, 2 of them to other signals, and every block stays reachable
    from every other one without U-turns (they are not allowed).
    """
    target = round(share * len(pairs))
    inner = {n: 0 for p in pairs for n in p}
    for a, b in pairs:
        inner[a] += 1
        inner[b] += 1
    dropped: set[tuple[str, str]] = set()
    for i in rng.permutation(len(pairs)):
        if len(dropped) >= target:
            break
        a, b = pairs[int(i)]
        if min(degree[a], degree[b]) <= 3 or min(inner[a], inner[b]) <= 2:
            continue
        if not _turns_connected([p for p in pairs if p not in dropped and p != (a, b)]):
            continue
        dropped.add((a, b))
        for n in (a, b):
            degree[n] -= 1
            inner[n] -= 1
    return dropped


def _turns_connected(pairs: list[tuple[str, str]]) -> bool:
    """Can a vehicle on any block reach any other block, turning but never U-turning?"""
    links = [(a, b) for a, b in pairs] + [(b, a) for a, b in pairs]
    nxt: dict[tuple[str, str], list[tuple[str, str]]] = {lk: [] for lk in links}
    back: dict[tuple[str, str], list[tuple[str, str]]] = {lk: [] for lk in links}
    for a, b in links:
        for c, d in links:
            if c == b and d != a:
                nxt[(a, b)].append((c, d))
                back[(c, d)].append((a, b))

    def reach(start: tuple[str, str], step: dict) -> int:
        seen = {start}
        todo = [start]
        while todo:
            for m in step[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return len(seen)

    return not links or (reach(links[0], nxt) == len(links) and reach(links[0], back) == len(links))


def _left(rng: np.random.Generator, kind: str, lanes: int, length: float) -> tuple[str, float]:
    """How an approach of ``lanes`` lanes on a block ``length`` m long turns left, bay (m)."""
    if kind == "district":
        choice = "lane" if lanes >= 2 and rng.random() < 0.5 else "long"
    else:
        choice = str(rng.choice(["shared", "short", "long", "lane"], p=[0.3, 0.25, 0.25, 0.2]))
        if choice == "lane" and lanes < 2:
            choice = "short"
    if choice in ("shared", "lane"):
        return choice, 0.0
    bay = rng.uniform(25.0, 50.0) if choice == "short" else rng.uniform(60.0, 150.0)
    return "bay", round(float(min(bay, max(20.0, 0.5 * length))), 1)


def draw_design(rng: np.random.Generator, kind: str) -> Design:
    """A layout of ``kind`` (one of :data:`KINDS`) drawn from ``rng``."""
    if kind not in KINDS:
        raise ValueError(f"unknown stress kind {kind!r}; choose one of: {', '.join(KINDS)}")
    shape = _shape(rng, kind)
    rows, cols = shape["rows"], shape["cols"]
    fringe = rng.uniform(250.0, 450.0, size=4)  # (4,) W, E, S, N fringe legs (m)
    xs = _positions(rng, cols, shape["gap_x"], float(fringe[0]))  # (cols,)
    ys = _positions(rng, rows, shape["gap_y"], float(fringe[2]))  # (rows,)
    gaps = np.concatenate([np.diff(xs), np.diff(ys), [700.0]])
    sigma = shape["jitter"] * float(gaps.min())
    jitter = np.clip(rng.normal(0.0, 1.0, size=(rows, cols, 2)), -2.0, 2.0) * sigma  # (R, C, 2)
    row_class, col_class = _classes(rng, kind, rows, cols)

    def sid(r: int, c: int) -> str:
        return f"r{r}c{c}"

    pos: dict[str, tuple[float, float]] = {}
    for r in range(rows):
        for c in range(cols):
            pos[sid(r, c)] = (xs[c] + jitter[r, c, 0], ys[r] + jitter[r, c, 1])
    for r in range(rows):
        pos[f"W{r}"] = (0.0, pos[sid(r, 0)][1])
        pos[f"E{r}"] = (xs[-1] + fringe[1], pos[sid(r, cols - 1)][1])
    for c in range(cols):
        pos[f"S{c}"] = (pos[sid(0, c)][0], 0.0)
        pos[f"N{c}"] = (pos[sid(rows - 1, c)][0], ys[-1] + fringe[3])

    # streets as node sequences: (street id, class, forward heading, backward heading, nodes)
    streets = [
        (f"R{r}", row_class[r], "E", "W", [f"W{r}", *(sid(r, c) for c in range(cols)), f"E{r}"])
        for r in range(rows)
    ] + [
        (f"C{c}", col_class[c], "N", "S", [f"S{c}", *(sid(r, c) for r in range(rows)), f"N{c}"])
        for c in range(cols)
    ]
    signals = {sid(r, c) for r in range(rows) for c in range(cols)}
    pairs = [
        (a, b) for *_, seq in streets for a, b in pairwise(seq) if a in signals and b in signals
    ]
    degree = {s: 0 for s in signals}
    for *_, seq in streets:
        for a, b in pairwise(seq):
            for n in (a, b):
                if n in degree:
                    degree[n] += 1
    dropped = _drop_blocks(rng, pairs, degree, shape["drop"])

    links: list[Link] = []
    for street, road, fwd, back, seq in streets:
        lo, hi = road.lanes
        base = int(rng.integers(lo, hi + 1))
        own = {fwd: base, back: base}
        if rng.random() < 0.2:  # one direction a lane more or less than the other
            own[back] = int(np.clip(base + rng.choice([-1, 1]), 1, 4))
        speed = round(float(rng.uniform(*road.speed_kmh)) * KMH, 2)
        for a, b in pairwise(seq):
            if (a, b) in dropped:
                continue
            for src, dst, heading in ((a, b, fwd), (b, a, back)):
                lanes = own[heading]
                if rng.random() < 0.1:  # a block with a lane more or less
                    lanes = int(np.clip(lanes + rng.choice([-1, 1]), 1, 4))
                length = float(np.hypot(*np.subtract(pos[dst], pos[src])))
                left, bay = _left(rng, kind, lanes, length) if dst in signals else ("none", 0.0)
                links.append(
                    Link(
                        f"{src}_{dst}",
                        src,
                        dst,
                        heading,
                        street,
                        road.name,
                        lanes,
                        speed,
                        left,
                        bay,
                    )
                )
    nodes = tuple(
        Node(n, round(float(x), 2), round(float(y), 2), n in signals) for n, (x, y) in pos.items()
    )
    sidewalks = bool(rng.random() < shape["sidewalks"])
    into: dict[str, list[Link]] = {s: [] for s in signals}
    for lk in links:
        if lk.dst in signals:
            into[lk.dst].append(lk)
    eligible = sorted(
        s for s, inc in into.items() if len(inc) == 4 and all(lk.left != "shared" for lk in inc)
    )
    share = 1.0 if kind == "district" else float(rng.uniform(0.0, 1.0))
    four_stage = tuple(s for s in eligible if rng.random() < share)
    return Design(
        kind=kind,
        rows=rows,
        cols=cols,
        nodes=nodes,
        links=tuple(links),
        dropped=tuple(sorted(f"{a}|{b}" for a, b in dropped)),
        sidewalks=sidewalks,
        four_stage=four_stage,
        four_stage_green=float(rng.integers(15, 31)),
        tls_layout="opposites" if rng.random() < 0.6 else "incoming",
        tls_cycle=float(10 * rng.integers(6, 13)),
        left_green=float(rng.integers(6, 13)),
    )
