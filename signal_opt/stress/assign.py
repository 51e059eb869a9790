"""How loaded a stress layout is under a demand: an all-or-nothing assignment.

Every trip takes the fastest path over the blocks (free-flow time, turns allowed except
U-turns, as SUMO routes them). Per block and slot the volume is compared with a nominal
capacity of ``lanes x 1,800 veh/h x GREEN_SHARE``; the busiest block's volume / capacity
is the demand's *load*. The draw scales its rates so that the load at scale 1.0 is the
drawn target: the level is set by a rule, not tuned per network.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from signal_opt.stress.design import Design

SATURATION = 1800.0
GREEN_SHARE = 0.4
"""Nominal share of the cycle a block's traffic gets green."""


def _fastest_paths(design: Design, source: int) -> list[int]:
    """Predecessor of every link on the fastest paths from link ``source`` (-1: none)."""
    links = design.links
    pos = {n.id: (n.x, n.y) for n in design.nodes}
    time = [
        math.dist(pos[lk.src], pos[lk.dst]) / lk.speed for lk in links
    ]  # free-flow seconds per link
    out_of: dict[str, list[int]] = {}
    for i, lk in enumerate(links):
        out_of.setdefault(lk.src, []).append(i)
    best = [math.inf] * len(links)
    pred = [-1] * len(links)
    best[source] = time[source]
    heap = [(time[source], source)]
    while heap:
        t, i = heapq.heappop(heap)
        if t > best[i]:
            continue
        for j in out_of.get(links[i].dst, []):
            if links[j].dst == links[i].src:
                continue  # no U-turns
            if t + time[j] < best[j]:
                best[j] = t + time[j]
                pred[j] = i
                heapq.heappush(heap, (best[j], j))
    return pred


def _weights(zone: Mapping[str, Any], role: str, index: Mapping[str, int]) -> dict[int, float]:
    total = sum(zone[role].values())
    return {index[e]: w / total for e, w in zone[role].items()}


def link_volumes(
    design: Design,
    zones: Mapping[str, Mapping[str, Any]],
    profiles: Mapping[str, Sequence[float]],
    flows: Sequence[Mapping[str, Any]],
) -> np.ndarray:
    """(L, S) veh/h on every link of ``design`` in each of the S profile slots."""
    index = {lk.id: i for i, lk in enumerate(design.links)}
    slots = len(next(iter(profiles.values())))
    od: dict[tuple[int, int], np.ndarray] = {}
    for f in flows:
        shape = float(f["rate"]) * np.asarray(profiles[f["profile"]], dtype=float)  # (S,)
        sources = _weights(zones[f["from"]], "sources", index)
        sinks = _weights(zones[f["to"]], "sinks", index)
        for a, wa in sources.items():
            for b, wb in sinks.items():
                if a != b:
                    od[(a, b)] = od.get((a, b), np.zeros(slots)) + wa * wb * shape
    volumes = np.zeros((len(design.links), slots))  # (L, S)
    by_source: dict[int, list[int]] = {}
    for a, b in od:
        by_source.setdefault(a, []).append(b)
    for a, sinks_of_a in by_source.items():
        pred = _fastest_paths(design, a)
        for b in sinks_of_a:
            k = b
            while k != -1:  # back along the path to a, whose predecessor is -1
                volumes[k] += od[(a, b)]
                k = pred[k]
    return volumes


def load(design: Design, spec: Mapping[str, Any], skip_profiles: Sequence[str] = ()) -> float:
    """The busiest block's volume / nominal capacity over the slots (0 without traffic).

    Only blocks that end at a signal count; flows on ``skip_profiles`` are left out.
    """
    flows = [f for f in spec["flows"] if f["profile"] not in skip_profiles]
    volumes = link_volumes(design, spec["zones"], spec["profiles"], flows)  # (L, S)
    signals = set(design.signals)
    capacity = np.array([lk.lanes * SATURATION * GREEN_SHARE for lk in design.links])  # (L,)
    ratio = volumes / capacity[:, None]  # (L, S)
    into = np.array([lk.dst in signals for lk in design.links])  # (L,)
    return float(ratio[into].max()) if into.any() else 0.0
