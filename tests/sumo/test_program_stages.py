"""Stages of engineered programs: overlaps, continuations, leading greens, arrows, runs of
equal phases and marked adjustable phases keep their structure; what cannot be
represented is refused with a reason (no SUMO needed)."""

from __future__ import annotations

import pytest

from signal_opt.model import Intersection, Phase, Stage
from signal_opt.sumo.programs import clearance_times, transition_phases
from signal_opt.sumo.stages import ProgramNotModelled, split_stages


def _program(*rows: tuple[float, str]) -> list[Phase]:
    return [Phase(float(d), s) for d, s in rows]


def _shape(phases, **kw) -> list[tuple[int, float, float]]:
    """``(first phase index, green s, intergreen s)`` per stage."""
    split = split_stages(phases, **kw)
    return [
        (s.phase_index, s.green.duration, sum(p.duration for p in s.intergreen))
        for s in split.stages
    ]


def test_netconvert_program_is_green_yellow_per_stage():
    phases = _program((30, "GGrr"), (3, "yyrr"), (30, "rrGG"), (3, "rryy"))
    assert _shape(phases) == [(0, 30, 3), (2, 30, 3)]


def test_link_green_all_cycle_does_not_make_stages():
    # Link 4 (a slip lane) is green in every phase, all-reds included.
    phases = _program(
        (30, "GGrrG"), (3, "yyrrG"), (2, "rrrrG"), (30, "rrGGG"), (3, "rryyG"), (2, "rrrrG")
    )
    assert _shape(phases) == [(0, 30, 5), (3, 30, 5)]


def test_movement_that_continues_while_others_clear_is_part_of_the_intergreen():
    # Through (0) continues 5 s after the opposing left (1) clears: one stage, not two.
    phases = _program(
        (30, "GGrr"), (3, "Gyrr"), (5, "Grrr"), (3, "yrrr"), (2, "rrrr"), (30, "rrGG"), (4, "rryy")
    )
    assert _shape(phases) == [(0, 30, 13), (5, 30, 4)]


def test_pedestrian_clearance_phase_is_part_of_the_intergreen():
    # netconvert's crossing clearance: the crossing (3) turns red, vehicles keep green.
    phases = _program((25, "GGrG"), (5, "GGrr"), (3, "yyrr"), (25, "rrGr"), (3, "rryr"))
    assert _shape(phases) == [(0, 25, 8), (3, 25, 3)]


def test_yielding_left_that_gets_its_arrow_starts_a_stage():
    # Left (1) yields in the through stage, then gets a protected arrow (g -> G).
    phases = _program(
        (30, "GgrG"), (3, "ygry"), (6, "rGrr"), (3, "ryrr"), (30, "rrGr"), (3, "rryr")
    )
    assert _shape(phases) == [(0, 30, 3), (2, 6, 3), (4, 30, 3)]


def test_leading_green_starts_a_stage_without_intergreen():
    phases = _program((8, "GGrr"), (25, "GGGG"), (3, "yyyy"), (2, "rrrr"))
    assert _shape(phases) == [(0, 8, 0), (1, 25, 5)]


def test_runs_of_equal_phases_are_one_green():
    phases = _program(
        (20, "GGrr"), (5, "GGrr"), (3, "yyrr"), (10, "rrGG"), (10, "rrGG"), (3, "rryy")
    )
    assert _shape(phases) == [(0, 25, 3), (3, 20, 3)]


def test_cycle_starts_with_the_first_stage():
    phases = _program((3, "yyrr"), (2, "rrrr"), (30, "rrGG"), (3, "rryy"), (30, "GGrr"))
    split = split_stages(phases)
    assert split.shift == 5.0
    assert [s.phase_index for s in split.stages] == [2, 4]
    # The wrap-around: the last stage's intergreen is the program's first phases.
    assert [p.state for p in split.stages[1].intergreen] == ["yyrr", "rrrr"]


def test_marked_adjustable_phases_are_the_stages():
    # An engineered program that marks which phases may vary (minDur < maxDur): the fixed
    # 2 s lagging arrow (link 1) stays where and how long the engineer put it.
    phases = [
        Phase(40, "GgrrG", 20, 80),
        Phase(3, "yGrrG", 3, 3),
        Phase(2, "rGrrG", 2, 2),
        Phase(3, "ryrrG", 3, 3),
        Phase(2, "rrrrG", 2, 2),
        Phase(25, "rrGGG", 10, 45),
        Phase(3, "rryyG", 3, 3),
        Phase(2, "rrrrG", 2, 2),
    ]
    assert _shape(phases) == [(0, 40, 10), (5, 25, 5)]
    split = split_stages(phases)
    assert split.stages[0].green.min_dur == 20


def test_marked_phases_that_leave_a_movement_unserved_are_not_used():
    # Only the first green may vary; the second movement runs in fixed phases only, so the
    # marks cannot be the stages (free operation would never serve it).
    phases = [
        Phase(40, "GGrr", 20, 80),
        Phase(3, "yyrr", 3, 3),
        Phase(20, "rrGG", 20, 20),
        Phase(3, "rryy", 3, 3),
    ]
    assert _shape(phases) == [(0, 40, 3), (2, 20, 3)]


@pytest.mark.parametrize(
    ("phases", "kw", "reason"),
    [
        (_program((30, "GGrr"), (3, "yyrr")), {"program_type": "NEMA"}, "NEMA"),
        (_program((30, "GGrr"), (3, "yyrr")), {"jumps": True}, "next"),
        (_program((30, "GGGG")), {}, "green all cycle"),
        (_program((3, "yyyy"), (2, "rrrr")), {}, "green all cycle"),
        (_program((30, "GGrr"), (3, "yyr")), {}, "length"),
        (_program((30, "GOrr"), (3, "yyrr")), {}, "uses"),
        (_program((0, "GGrr"), (3, "yyrr")), {}, "lasts"),
    ],
)
def test_programs_the_model_cannot_represent_are_refused(phases, kw, reason):
    with pytest.raises(ProgramNotModelled, match=reason):
        split_stages(phases, **kw)


def _intersection(*stages: tuple[str, float, list[tuple[float, str]]]) -> Intersection:
    return Intersection(
        id="x",
        program_id="p",
        links=(),
        lane_groups=(),
        stages=tuple(
            Stage(k, state, (), 5.0, green, tuple(Phase(d, s) for d, s in inter))
            for k, (state, green, inter) in enumerate(stages)
        ),
        lead_phases=(),
        conflicts=frozenset(),
        base_offset=0.0,
        cycle_min=30.0,
        cycle_max=150.0,
    )


def test_built_transition_has_the_longest_all_red_and_a_yellow_out_of_a_leading_green():
    x = _intersection(
        ("Grrr", 8.0, []),  # leading green: the next stage only adds links
        ("GGrr", 30.0, [(3.0, "yyrr")]),  # no all-red: its next stage does not conflict
        ("rrGG", 30.0, [(3.0, "rryy"), (2.0, "rrrr")]),
    )
    assert clearance_times(x, 0) == (3.0, 2.0)
    assert clearance_times(x, 1) == (3.0, 2.0)
    phases = transition_phases(x, 0, 2)
    assert [(p.duration, p.state) for p in phases] == [(3.0, "yrrr"), (2.0, "rrrr")]
