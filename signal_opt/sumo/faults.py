"""Detector fault injection, for studies of how a controller copes with field failures.

:class:`FaultyReader` is a :class:`DetectorReader` whose interval readings are corrupted
the way roadside detectors fail: stuck on (always occupied, nothing counted), stuck off
(nothing at all), chattering (absurd counts), and dropping out (no reading), either for
fixed detectors or at random for a share of all detectors in every interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from signal_opt.sumo.detector_reader import DetectorReader

FAULT_READINGS = {
    "stuck_on": (0.0, 100.0, 0.0),
    "stuck_off": (0.0, 0.0, 0.0),
    "chattering": (400.0, 50.0, 0.0),
    "missing": (np.nan, np.nan, np.nan),
}
"""What a faulty detector reports over an interval: (vehicles, occupancy %, queue m)."""


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
        unknown = {k for k in (faults or {}).values() if k not in FAULT_READINGS}
        if unknown:
            raise ValueError(f"unknown detector fault kind(s): {', '.join(sorted(unknown))}")
        self.faults = dict(faults or {})
        self.dropout = dropout
        self.rng = rng or np.random.default_rng(0)

    def last_interval(self, ids: Sequence[str]) -> np.ndarray:
        out = super().last_interval(ids)  # (3, D)
        faulted = np.zeros(len(ids), bool)  # (D,)
        for i, det in enumerate(ids):
            kind = self.faults.get(det)
            if kind is not None:
                out[:, i] = FAULT_READINGS[kind]
                faulted[i] = True
        if self.dropout > 0:
            order = np.argsort(np.asarray(ids, dtype=object))  # draws by detector id
            drop = np.zeros(len(ids), bool)
            drop[order] = self.rng.random(len(ids)) < self.dropout
            out[:, drop & ~faulted] = np.nan
        return out
