"""Read SUMO's own outputs into the figures a traffic engineer compares.

``metrics.json`` counts every vehicle: trips that arrived, vehicles still driving at the
end (SUMO writes them with ``--tripinfo-output.write-unfinished``) and vehicles that were
loaded but never inserted (still waiting at the network edge when the run ended).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import sumolib
from sumolib.miscutils import parseTime


@dataclass(frozen=True)
class RunMetrics:
    mean_travel_time_s: float
    mean_time_loss_s: float
    """Mean tripinfo ``timeLoss`` over finished and unfinished trips (RESCO's "delay")."""
    mean_waiting_time_s: float
    mean_depart_delay_s: float
    """Mean wait to enter the network, over inserted vehicles."""
    average_speed_kmh: float
    """Total distance driven / total time driven, network-wide."""
    vehicles_loaded: int
    vehicles_inserted: int
    vehicles_arrived: int
    vehicles_unfinished: int
    vehicles_never_inserted: int
    teleports: int
    sim_wall_s: float
    controller: dict[str, Any] = field(default_factory=dict)
    """The strategy's own figures (:meth:`Controller.summary`): for ``adaptive`` retimings,
    fallbacks and detector faults. Not a number: tables read :data:`FIGURES`."""
    control_wall_s: float = 0.0
    """Wall seconds the run spent driving the signals and deciding (not simulating)."""
    signals: dict[str, Any] = field(default_factory=dict)
    """Per traffic light, the program it was modelled from (id, type, file) and its stage
    count, or why it was left running its own program."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIGURES = tuple(
    f.name for f in fields(RunMetrics) if f.type in ("int", "float") and f.name != "control_wall_s"
)
"""The figures of :class:`RunMetrics` that tables and sweeps carry, in order (every
numeric field but ``control_wall_s``)."""


_TRIP_TIMES = {
    "depart": -1.0,
    "arrival": -1.0,
    "duration": 0.0,
    "timeLoss": 0.0,
    "waitingTime": 0.0,
    "departDelay": 0.0,
}
"""Tripinfo times read, and the value of a missing one (-1: never inserted / never arrived)."""


def _tripinfo_arrays(path: Path) -> dict[str, np.ndarray]:
    """Columns of SUMO's tripinfo output, and ``finished`` (1.0 for trips that arrived)."""
    cols: dict[str, list[float]] = {k: [] for k in (*_TRIP_TIMES, "routeLength")}
    attrs = {"tripinfo": tuple(cols)}
    for trip in sumolib.xml.parse(str(path), "tripinfo", attrs, heterogeneous=False):
        for name, missing in _TRIP_TIMES.items():
            value = getattr(trip, name)
            cols[name].append(missing if value is None else float(parseTime(value)))
        cols["routeLength"].append(float(trip.routeLength or 0.0))
    out = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
    out["finished"] = (out["arrival"] >= 0).astype(float)
    return out


def _statistics(path: Path) -> dict[str, int]:
    """Vehicle counts and teleports of SUMO's statistic output (0 where missing)."""
    found = {el.name: el for el in sumolib.xml.parse(str(path), ["vehicles", "teleports"])}
    veh, tele = found.get("vehicles"), found.get("teleports")

    def count(el: Any, name: str) -> int:
        return int(getattr(el, name) or 0) if el is not None else 0

    return {
        "loaded": count(veh, "loaded"),
        "inserted": count(veh, "inserted"),
        "running": count(veh, "running"),
        "waiting": count(veh, "waiting"),
        "teleports": count(tele, "total"),
    }


def _mean(a: np.ndarray) -> float:
    return float(a.mean()) if a.size else 0.0


def read_metrics(tripinfo: Path, statistics: Path, wall_s: float) -> RunMetrics:
    trips = _tripinfo_arrays(tripinfo)
    stats = _statistics(statistics)
    inserted = trips["depart"] >= 0
    dist = float(trips["routeLength"][inserted].sum())
    time = float(trips["duration"][inserted].sum())
    return RunMetrics(
        mean_travel_time_s=_mean(trips["duration"][inserted]),
        mean_time_loss_s=_mean(trips["timeLoss"][inserted]),
        mean_waiting_time_s=_mean(trips["waitingTime"][inserted]),
        mean_depart_delay_s=_mean(trips["departDelay"][inserted]),
        average_speed_kmh=3.6 * dist / time if time > 0 else 0.0,
        vehicles_loaded=stats["loaded"],
        vehicles_inserted=stats["inserted"],
        vehicles_arrived=int(trips["finished"].sum()),
        vehicles_unfinished=stats["running"],
        vehicles_never_inserted=stats["waiting"],
        teleports=stats["teleports"],
        sim_wall_s=round(wall_s, 3),
    )


def time_series(tripinfo: Path, begin: float, end: float, bin_s: float = 300.0) -> dict[str, list]:
    """Mean time loss and speed of trips by the bin in which they arrived (or ended)."""
    trips = _tripinfo_arrays(tripinfo)
    ok = trips["depart"] >= 0
    stop = np.where(trips["arrival"] >= 0, trips["arrival"], end)[ok]
    edges = np.arange(begin, end + bin_s, bin_s)
    idx = np.clip(np.digitize(stop, edges) - 1, 0, len(edges) - 2)
    nb = len(edges) - 1
    count = np.bincount(idx, minlength=nb)
    loss = np.bincount(idx, weights=trips["timeLoss"][ok], minlength=nb)
    dist = np.bincount(idx, weights=trips["routeLength"][ok], minlength=nb)
    dur = np.bincount(idx, weights=trips["duration"][ok], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_loss = np.where(count > 0, loss / np.maximum(count, 1), np.nan)
        speed = np.where(dur > 0, 3.6 * dist / np.maximum(dur, 1e-9), np.nan)
    return {
        "t": [float(x) for x in edges[:-1] + bin_s / 2],
        "trips": [int(c) for c in count],
        "mean_time_loss_s": [None if np.isnan(v) else round(float(v), 2) for v in mean_loss],
        "average_speed_kmh": [None if np.isnan(v) else round(float(v), 2) for v in speed],
    }
