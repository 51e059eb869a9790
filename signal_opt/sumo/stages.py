"""Stages of a signal program: which phases are greens a plan may retime, which are the
fixed transitions between them.

A netconvert program is simple: green, yellow, all-red, next green. Engineered programs
(a city's own timings) are richer, and their structure must survive retiming:

- *overlaps*: a movement green across several phases (a right turn or a slip lane green
  all cycle long, a through movement that stays green while the left beside it ends);
- *lagging lefts and clearance phases*: after a stage, some of its movements continue for
  a few seconds while the others clear (netconvert's pedestrian clearance phase is one);
- *leading greens*: a phase that starts some movements while others still show yellow;
- runs of phases with the same state (split only for the controller's bookkeeping).

Where the program marks its adjustable phases (``minDur < maxDur`` on a green phase, every
phase giving both), those are the stages and every fixed phase between them is kept as
the engineer timed it. Otherwise a *stage* starts at a phase without yellow that starts a
movement: it gives a link a green (``G``, or ``g`` for a yielding one) that link has not
shown without a break since the previous such phase. Links green in every phase do not
count; a yielding left that turns into a protected arrow starts a stage. The stage's green
is that phase plus the phases right after it with the same state; everything until the
next stage (continuations, yellows, all-reds, leading greens) is the stage's intergreen
and keeps its engineered durations. Retiming then changes only how long each stage runs.

Programs the model cannot represent safely are reported with
:class:`ProgramNotModelled` and left running as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signal_opt.model import GREEN_STATES, YELLOW_STATES, Phase

SUPPORTED_TYPES = frozenset({"static", "actuated", "delay_based"})
"""Program types whose phase list is the cycle (NEMA programs follow their own rings)."""

KNOWN_STATES = frozenset("rRyYgGsu")
"""Signal characters the model understands (``o``/``O``, signal off, it does not)."""


class ProgramNotModelled(ValueError):
    """A program the stage model cannot represent safely; it keeps running as it is."""


@dataclass(frozen=True)
class StagePhases:
    """One stage of a program: the raw index of its first phase, its green and the
    intergreen phases up to the next stage."""

    phase_index: int
    green: Phase
    intergreen: tuple[Phase, ...]


@dataclass(frozen=True)
class ProgramStages:
    stages: tuple[StagePhases, ...]
    shift: float
    """Seconds from the program's phase 0 to the start of the first stage."""


def always_green(states: Sequence[str]) -> frozenset[int]:
    """Links green in every one of ``states`` (a slip lane, say): they never start a stage."""
    if not states:
        return frozenset()
    return frozenset(i for i in range(len(states[0])) if all(s[i] in GREEN_STATES for s in states))


def _greens(state: str, skip: frozenset[int]) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN_STATES and i not in skip)


def split_stages(
    phases: Sequence[Phase], program_type: str = "static", jumps: bool = False
) -> ProgramStages:
    """Stages of the program ``phases`` (see the module docstring for the rule)."""
    if program_type not in SUPPORTED_TYPES:
        raise ProgramNotModelled(f"program type {program_type!r} is not a plain phase cycle")
    if jumps:
        raise ProgramNotModelled("phases jump to a 'next' phase; the program is not a cycle")
    if not phases:
        raise ProgramNotModelled("the program has no phases")
    n_links = len(phases[0].state)
    for p in phases:
        if len(p.state) != n_links:
            raise ProgramNotModelled("phase states differ in length")
        bad = set(p.state) - KNOWN_STATES
        if bad:
            raise ProgramNotModelled(f"phase state {p.state!r} uses {''.join(sorted(bad))!r}")
        if not p.duration > 0:
            raise ProgramNotModelled(f"phase {p.state!r} lasts {p.duration} s")
    n = len(phases)
    states = [p.state for p in phases]
    always = always_green(states)
    stable = [not any(c in YELLOW_STATES for c in s) and bool(_greens(s, always)) for s in states]
    if not any(stable):
        raise ProgramNotModelled("no phase gives a green that is not green all cycle")
    starts = []
    for k in range(n):
        if not stable[k]:
            continue
        # A link starts here unless it has shown this same green (``G`` or ``g``) without
        # a break since the previous stable phase: a yielding left that becomes a
        # protected arrow starts a stage of its own.
        mine = {i: states[k][i] for i in _greens(states[k], always)}
        j = k
        while True:
            j = (j - 1) % n
            if j == k:
                break
            mine = {i: c for i, c in mine.items() if states[j][i] == c}
            if stable[j] or not mine:
                break
        if j == k or len(mine) < len(_greens(states[k], always)):
            starts.append(k)
    if not starts:
        raise ProgramNotModelled("no phase starts a movement")
    adjustable = _adjustable(phases, stable, always)
    if adjustable:
        starts = adjustable
    out = []
    for a, k in enumerate(starts):
        end = starts[a + 1] if a + 1 < len(starts) else starts[0] + n
        span = [phases[i % n] for i in range(k, end)]
        g = 1
        while g < len(span) and span[g].state == span[0].state and not adjustable:
            g += 1
        green = Phase(
            float(sum(p.duration for p in span[:g])),
            span[0].state,
            _sum_or_none([p.min_dur for p in span[:g]]),
            _sum_or_none([p.max_dur for p in span[:g]]),
        )
        out.append(StagePhases(k, green, tuple(span[g:])))
    shift = float(sum(p.duration for p in phases[: starts[0]]))
    return ProgramStages(tuple(out), shift)


def _adjustable(
    phases: Sequence[Phase], stable: Sequence[bool], always: frozenset[int]
) -> list[int]:
    """Stage phases as the engineer marked them: when every phase gives ``minDur`` and
    ``maxDur``, the stable phases whose duration may vary (``minDur < maxDur``) are the
    stages and the fixed phases between them are kept as they are. Empty when the program
    does not say, or when some movement would be green only in fixed phases (free
    operation could then never serve it)."""
    if any(p.min_dur is None or p.max_dur is None for p in phases):
        return []
    marked = [
        k
        for k, p in enumerate(phases)
        if stable[k] and p.min_dur is not None and p.max_dur is not None and p.min_dur < p.max_dur
    ]
    served = frozenset().union(*(_greens(phases[k].state, always) for k in marked))
    every = frozenset().union(*(_greens(p.state, always) for p in phases))
    return marked if marked and served >= every else []


def _sum_or_none(values: Sequence[float | None]) -> float | None:
    if any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))
