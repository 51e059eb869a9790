"""The optimization core: demand arrays in, timing plans (cycle, splits, offsets) out.

Pure numpy, no IO. Every function works on a whole network at once: arrays over ``N``
intersections padded to ``K`` lane groups and ``P`` stages (see :class:`RetimingProblem`).
"""

from signal_opt.core.build import problem_from_intersections
from signal_opt.core.coordinate import retime_coordinated
from signal_opt.core.delay import (
    control_delay,
    incremental_delay,
    stop_rate,
    uniform_delay,
    webster_cycle,
)
from signal_opt.core.offsets import (
    CoordinationProblem,
    choose_common_cycle,
    link_delay_tables,
    optimize_offsets,
)
from signal_opt.core.problem import CoreSettings, RetimingProblem
from signal_opt.core.result import (
    BAD_INPUT,
    CHANGE_LIMITED,
    CHANGE_LIMITS_RELAXED,
    FLAG_NAMES,
    INFEASIBLE,
    MAX_GREEN_RELAXED,
    NOT_COORDINATED,
    OVERSATURATED,
    UNSERVED_DEMAND,
    RetimingResult,
    flag_names,
)
from signal_opt.core.retime import retime, webster_plan

__all__ = [
    "BAD_INPUT",
    "CHANGE_LIMITED",
    "CHANGE_LIMITS_RELAXED",
    "FLAG_NAMES",
    "INFEASIBLE",
    "MAX_GREEN_RELAXED",
    "NOT_COORDINATED",
    "OVERSATURATED",
    "UNSERVED_DEMAND",
    "CoordinationProblem",
    "CoreSettings",
    "RetimingProblem",
    "RetimingResult",
    "choose_common_cycle",
    "control_delay",
    "flag_names",
    "incremental_delay",
    "link_delay_tables",
    "optimize_offsets",
    "problem_from_intersections",
    "retime",
    "retime_coordinated",
    "stop_rate",
    "uniform_delay",
    "webster_cycle",
    "webster_plan",
]
