"""Coordinated retiming: common cycles per group, then offsets (the whole pipeline)."""

from __future__ import annotations

import numpy as np

from signal_opt.core.offsets import (
    CoordinationProblem,
    choose_common_cycle,
    optimize_offsets,
)
from signal_opt.core.problem import CoreSettings
from signal_opt.core.result import NOT_COORDINATED, RetimingResult
from signal_opt.core.retime import retime


def retime_coordinated(
    coord: CoordinationProblem,
    settings: CoreSettings | None = None,
    result: RetimingResult | None = None,
) -> RetimingResult:
    """Retime ``coord.problem`` with coordinated groups sharing a cycle, then offsets.

    Groups are the connected components of the links. ``result``: the free retiming, if
    already computed. Members that cannot take their group's cycle are flagged
    ``NOT_COORDINATED`` and keep their own cycle (their links are then ignored).
    """
    settings = settings or CoreSettings()
    problem = coord.problem
    free = result if result is not None else retime(problem, settings)
    groups = coord.groups()  # (N,)
    common = choose_common_cycle(problem, free, groups, settings)  # (N,)
    timed = retime(problem, settings, cycle=common)
    offsets = optimize_offsets(coord, timed, settings)
    lost = (groups >= 0) & ~(np.abs(timed.cycle - np.nan_to_num(common)) <= 1e-6)
    out = timed.with_offsets(offsets)
    return RetimingResult(
        cycle=out.cycle,
        greens=out.greens,
        offsets=out.offsets,
        delay=out.delay,
        degree_of_saturation=out.degree_of_saturation,
        total_delay=out.total_delay,
        objective=out.objective,
        flags=out.flags | np.where(lost, NOT_COORDINATED, 0),
        ids=out.ids,
    )
