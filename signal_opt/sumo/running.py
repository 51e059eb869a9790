"""The signal program each traffic light actually runs when a simulation starts.

SUMO loads the programs of the ``.net.xml`` first, then every ``<tlLogic>`` of the
additional files in the order the configuration lists them; for each traffic light the
program loaded last is the one that runs (``<WAUT>`` switching aside). Engineered
programs usually arrive that way: a city's own timings in an additional file replacing
netconvert's default program ``"0"``. signal-opt models, and ``fixed`` keeps running,
exactly that program; :func:`check_running` confirms it against the live simulation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sumolib
from sumolib.miscutils import parseTime

from signal_opt.model import Phase
from signal_opt.sumo.files import read_elements


@dataclass(frozen=True)
class Program:
    """One ``tlLogic`` as SUMO has it (phases verbatim, in program order)."""

    tls_id: str
    program_id: str
    type: str
    """``static``, ``actuated``, ``delay_based``, ``NEMA``, ..."""
    offset: float
    phases: tuple[Phase, ...]
    source: str
    """File the program was read from (the ``.net.xml`` or an additional file)."""
    jumps: bool = False
    """True if any phase names a ``next`` phase (the program is not a plain cycle)."""
    params: tuple[tuple[str, str], ...] = ()


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        v = float(parseTime(str(value)))
    except (TypeError, ValueError):
        return None
    return v if v >= 0 else None


def _phase(duration: object, state: str, min_dur: object, max_dur: object) -> Phase:
    return Phase(float(parseTime(str(duration))), str(state), _num(min_dur), _num(max_dur))


def _net_programs(net: sumolib.net.Net, source: str) -> dict[str, Program]:
    out: dict[str, Program] = {}
    for tls in net.getTrafficLights():
        for program in tls.getPrograms().values():  # in file order: the last one runs
            phases = program.getPhases()
            out[tls.getID()] = Program(
                tls_id=tls.getID(),
                program_id=str(program._id),
                type=str(program.getType()),
                offset=float(parseTime(str(program.getOffset() or 0))),
                phases=tuple(_phase(p.duration, p.state, p.minDur, p.maxDur) for p in phases),
                source=source,
                jumps=any(p.next not in (None, (), [], "") for p in phases),
                params=tuple(sorted((str(k), str(v)) for k, v in program.getParams().items())),
            )
    return out


_TAGS = {
    "tlLogic": ("id", "programID", "type", "offset"),
    "phase": ("duration", "state", "minDur", "maxDur", "next"),
    "param": ("key", "value"),
}


def _additional_programs(path: Path) -> list[Program]:
    out = []
    for logic in read_elements(path, _TAGS):
        phases = logic.phase if logic.hasChild("phase") else []
        params = logic.param if logic.hasChild("param") else []
        out.append(
            Program(
                tls_id=str(logic.id),
                program_id=str(logic.programID or ""),
                type=str(logic.type or "static"),
                offset=float(parseTime(str(logic.offset or "0"))),
                phases=tuple(_phase(p.duration, p.state, p.minDur, p.maxDur) for p in phases),
                source=str(path),
                jumps=any(p.next not in (None, "") for p in phases),
                params=tuple(sorted((str(q.key), str(q.value)) for q in params)),
            )
        )
    return out


def running_programs(
    net: sumolib.net.Net, net_file: str | Path, additional_files: Iterable[str | Path] = ()
) -> dict[str, Program]:
    """The program each traffic light of ``net`` runs at the start: the one loaded last
    from ``net_file`` then ``additional_files`` (in the order SUMO loads them)."""
    programs = _net_programs(net, str(net_file))
    for path in additional_files:
        for program in _additional_programs(Path(path)):
            if program.tls_id in programs:
                programs[program.tls_id] = program
    return programs


def check_running(conn, programs: Mapping[str, Program]) -> dict[str, str]:
    """Traffic lights whose running program in the live simulation differs from the one
    modelled: ``{tls_id: program id SUMO runs}`` (empty when everything agrees)."""
    mismatched = {}
    for tls_id, program in programs.items():
        live = str(conn.trafficlight.getProgram(tls_id))
        if live != program.program_id:
            mismatched[tls_id] = live
    return mismatched
