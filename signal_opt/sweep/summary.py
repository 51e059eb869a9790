"""The sweep summary: per scenario x strategy x scale, mean and 95 % CI across seeds, and
per scenario x scale the best peer and adaptive / best peer (on the means)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signal_opt.runs import peer_lines
from signal_opt.sweep.stats import mean_ci
from signal_opt.sweep.store import METRICS

SHOWN = (
    ("mean_time_loss_s", "time loss s", 1),
    ("mean_travel_time_s", "travel s", 1),
    ("mean_waiting_time_s", "waiting s", 1),
    ("average_speed_kmh", "speed km/h", 2),
    ("vehicles_arrived", "arrived", 0),
    ("teleports", "teleports", 1),
)
"""Metrics of the printed / markdown summary: (field, heading, decimals)."""
GROUP = ("scenario", "strategy", "scale")


def summarize(rows: Sequence[dict[str, Any]], confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per scenario x strategy x scale, in first-seen order.

    ``runs`` counts the seeds that finished, ``failed`` the others; each metric has
    ``<name>_mean`` and ``<name>_ci95`` (half-width; NaN with fewer than two runs).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[g] for g in GROUP), []).append(r)
    out = []
    for key, members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        s: dict[str, Any] = dict(zip(GROUP, key))
        s["runs"], s["failed"] = len(ok), len(members) - len(ok)
        s["seeds"] = " ".join(str(r["seed"]) for r in ok)
        for m in METRICS:
            mean, half = mean_ci([float(r[m]) for r in ok if r.get(m) is not None], confidence)
            s[f"{m}_mean"], s[f"{m}_ci95"] = mean, half
        out.append(s)
    return out


def _cell(s: dict[str, Any], metric: str, decimals: int) -> str:
    mean, half = s[f"{metric}_mean"], s[f"{metric}_ci95"]
    if math.isnan(mean):
        return "-"
    text = f"{mean:.{decimals}f}"
    return text if math.isnan(half) else f"{text} ± {half:.{decimals}f}"


def format_summary(summary: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The summary as a fixed-width (or markdown) table of ``mean ± 95 % half-width``."""
    heads = ["scenario", "strategy", "scale", "runs", *(h for _, h, _ in SHOWN)]
    body = [
        [
            str(s["scenario"]),
            str(s["strategy"]),
            f"{s['scale']:.2f}",
            f"{s['runs']}" + (f" ({s['failed']} failed)" if s["failed"] else ""),
            *(_cell(s, m, d) for m, _, d in SHOWN),
        ]
        for s in summary
    ]
    peers = summary_peer_lines(summary)
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines + ([""] + [f"- {p}" for p in peers] if peers else []))
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    table = [line(heads), line(["-" * w for w in widths]), *(line(r) for r in body)]
    return "\n".join(table + peers)


def summary_peer_lines(summary: Sequence[dict[str, Any]]) -> list[str]:
    """Per scenario and scale: the strategy of least mean time loss but adaptive, and
    adaptive's mean time loss over it."""
    return peer_lines(
        summary, loss="mean_time_loss_s_mean", label="strategy", group=("scenario", "scale")
    )


def write_summary(out: Path, summary: Sequence[dict[str, Any]], title: str) -> None:
    """``summary.csv`` (every metric, mean and CI half-width) and ``summary.md``."""
    cols = [
        *GROUP,
        "runs",
        "failed",
        "seeds",
        *(f"{m}_{x}" for m in METRICS for x in ("mean", "ci95")),
    ]
    with (out / "summary.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for s in summary:
            writer.writerow(
                {k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in s.items()}
            )
    (out / "summary.md").write_text(
        f"# {title}\n\nMean ± half-width of the 95 % confidence interval across seeds "
        "(Student t); one row per scenario, strategy and demand scale.\n\n"
        + format_summary(summary, markdown=True)
        + "\n"
    )
