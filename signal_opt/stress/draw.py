"""A stress draw: layout, demand, heavier scale and horizon, fixed by (index, base seed).

Every random choice comes from one ``numpy.random.Generator`` seeded with
``(base seed, index)``, in a fixed order, so the same pair always gives the same draw and
the same files. The kind cycles with the index (grid, arterial, district, grid, ...) so
that every few draws cover all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from signal_opt.stress.demand import DemandParams, draw_demand
from signal_opt.stress.design import KINDS, Design, draw_design

HEAVY_SCALES = (1.2, 1.5)
"""Range of the heavier demand scale."""
HEAVY = "heavy"
"""The scale token that stands for each draw's own heavier scale."""
HORIZON = 3600.0
"""Simulated seconds of a draw (24 slots of 150 s)."""


@dataclass(frozen=True)
class Draw:
    index: int
    seed: int
    design: Design
    demand: DemandParams
    heavy_scale: float
    """The draw's heavier demand scale (1.2-1.5)."""
    horizon: float
    routes_seed: int
    """Seed of the Poisson draw of the trips (``write_routes``)."""

    @property
    def name(self) -> str:
        return f"draw{self.index}" if self.seed == 0 else f"seed{self.seed}-draw{self.index}"

    def params(self) -> dict[str, Any]:
        """What the draw varies, for the results file."""
        return {
            "draw": self.index,
            "base_seed": self.seed,
            "name": self.name,
            **self.design.summary(),
            "demand": self.demand.to_dict(),
            "heavy_scale": self.heavy_scale,
            "horizon_s": self.horizon,
            "routes_seed": self.routes_seed,
        }


def make_draw(index: int, seed: int = 0) -> Draw:
    """Draw number ``index`` of the family with base seed ``seed`` (both >= 0)."""
    if index < 0 or seed < 0:
        raise ValueError(f"draw index and seed must be >= 0, got {index} and {seed}")
    rng = np.random.default_rng([seed, index])
    kind = KINDS[(index + seed) % len(KINDS)]
    design = draw_design(rng, kind)
    demand = draw_demand(rng, design)
    heavy = round(float(rng.uniform(*HEAVY_SCALES)), 2)
    return Draw(
        index=index,
        seed=seed,
        design=design,
        demand=demand,
        heavy_scale=heavy,
        horizon=HORIZON,
        routes_seed=int(rng.integers(2**31 - 1)),
    )
