"""Compare the strategies on each draw and scale: adaptive against its best peer.

Every vehicle counts: time loss and speed come from ``metrics.json`` (unfinished trips
included), and ``left`` is the vehicles unfinished plus those never inserted. With
several simulation seeds each figure is the mean over the seeds that finished.

- *best peer*: the strategy other than ``adaptive`` with the lowest mean time loss;
- *ratio*: adaptive's time loss / the best peer's (below 1: adaptive better);
- *E-Town ratio* (per draw): adaptive's network speed at the heavier scale / the base-year
  plan's speed at 1.0x, the base-year plan being the faster of ``fixed`` and ``webster``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import mean
from typing import Any

ADAPTIVE = "adaptive"
BASE_PLANS = ("fixed", "webster")
FIGURES = {
    "time_loss_s": "mean_time_loss_s",
    "speed_kmh": "average_speed_kmh",
    "left": None,  # unfinished + never inserted
    "teleports": "teleports",
}


def _figures(rows: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return None
    out = {}
    for name, key in FIGURES.items():
        if key is None:
            values = [r["vehicles_unfinished"] + r["vehicles_never_inserted"] for r in ok]
        else:
            values = [r[key] for r in ok]
        out[name] = round(float(mean(values)), 3)
    out["runs"] = len(ok)
    return out


def compare(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per draw and scale: every strategy's figures, the best peer, the ratio."""
    groups: dict[tuple[int, float], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    labels: dict[tuple[int, float], tuple[str, str]] = {}
    for r in runs:
        key = (r["draw"], r["scale"])
        groups[key][r["strategy"]].append(r)
        labels[key] = (r["scale_label"], r["kind"])
    out = []
    for (draw, scale), by_strategy in groups.items():
        figures = {s: _figures(rows) for s, rows in by_strategy.items()}
        peers = {s: f for s, f in figures.items() if s != ADAPTIVE and f is not None}
        best = min(peers, key=lambda s: peers[s]["time_loss_s"]) if peers else None
        ours = figures.get(ADAPTIVE)
        ratio = None
        if best is not None and ours is not None and peers[best]["time_loss_s"] > 0:
            ratio = round(ours["time_loss_s"] / peers[best]["time_loss_s"], 4)
        out.append(
            {
                "draw": draw,
                "kind": labels[(draw, scale)][1],
                "scale": scale,
                "scale_label": labels[(draw, scale)][0],
                "strategies": figures,
                "best_peer": best,
                "best_peer_time_loss_s": peers[best]["time_loss_s"] if best else None,
                "adaptive_time_loss_s": ours["time_loss_s"] if ours else None,
                "ratio": ratio,
            }
        )
    return out


def etown(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per draw: adaptive's speed at the heaviest scale / the base-year plan's at 1.0x."""
    by_draw: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by_draw[r["draw"]].append(r)
    out = []
    for draw, rows in by_draw.items():
        heavy = max(r["scale"] for r in rows)
        entry: dict[str, Any] = {"draw": draw, "heavy_scale": heavy, "ratio": None}
        ours = _figures([r for r in rows if r["strategy"] == ADAPTIVE and r["scale"] == heavy])
        base = {
            s: _figures([r for r in rows if r["strategy"] == s and r["scale"] == 1.0])
            for s in BASE_PLANS
        }
        known = {s: f for s, f in base.items() if f is not None}
        if heavy > 1.0 and ours is not None and known:
            plan = max(known, key=lambda s: known[s]["speed_kmh"])
            entry |= {
                "adaptive_speed_kmh": ours["speed_kmh"],
                "base_plan": plan,
                "base_speed_kmh": known[plan]["speed_kmh"],
                "ratio": round(ours["speed_kmh"] / known[plan]["speed_kmh"], 4),
            }
        out.append(entry)
    return out


def summarize(comparisons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale label: the mean adaptive / best-peer ratio over the draws and how many
    draws adaptive lost the least time on."""
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in comparisons:
        by_label[c["scale_label"]].append(c)
    out = []
    for label, items in by_label.items():
        ratios = [c["ratio"] for c in items if c["ratio"] is not None]
        out.append(
            {
                "scale_label": label,
                "draws": len(items),
                "compared": len(ratios),
                "mean_ratio": round(mean(ratios), 4) if ratios else None,
                "adaptive_best": sum(r < 1.0 for r in ratios),
            }
        )
    return out
