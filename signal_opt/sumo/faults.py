"""Detector fault injection, for studies of how a controller copes with field failures.

:class:`FaultyReader` is a :class:`DetectorReader` whose interval readings are corrupted
the way roadside detectors fail: stuck on (always occupied, nothing counted), stuck off
(nothing at all), chattering (absurd counts), and dropping out (no reading), either for
fixed detectors or at random for a share of all detectors in every interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from signal_opt.sumo.detector_reader import DetectorReader, Reading

FAULT_READINGS = {
    "stuck_on": Reading(0.0, 100.0, -1.0),
    "stuck_off": Reading(0.0, 0.0, -1.0),
    "chattering": Reading(400.0, 50.0, 5.0),
}


class FaultyReader(DetectorReader):
    """``faults``: detector id -> kind (``stuck_on``, ``stuck_off``, ``chattering`` or
    ``missing``); ``dropout``: share of the other detectors missing in each interval,
    drawn with ``rng``."""

    def __init__(
        self,
        conn,
        specs: Sequence,
        per_step: bool = False,
        intervals: bool = False,
        gaps: bool = False,
        faults: Mapping[str, str] | None = None,
        dropout: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(conn, specs, per_step, intervals, gaps)
        unknown = {k for k in (faults or {}).values() if k not in (*FAULT_READINGS, "missing")}
        if unknown:
            raise ValueError(f"unknown detector fault kind(s): {', '.join(sorted(unknown))}")
        self.faults = dict(faults or {})
        self.dropout = dropout
        self.rng = rng or np.random.default_rng(0)

    def last_interval(self) -> dict[str, Reading]:
        out = super().last_interval()
        for det, kind in self.faults.items():
            if kind == "missing":
                out.pop(det, None)
            else:
                out[det] = FAULT_READINGS[kind]
        if self.dropout > 0:
            ids = sorted(d for d in out if d not in self.faults)
            drop = self.rng.random(len(ids)) < self.dropout
            for det, gone in zip(ids, drop):
                if gone:
                    del out[det]
        return out
