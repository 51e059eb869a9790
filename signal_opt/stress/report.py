"""The stress family's results as text: a table per draw and scale, then the summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signal_opt.stress.draw import HEAVY

ROWS = (
    ("time_loss_s", "time loss s", "{:.1f}"),
    ("speed_kmh", "speed km/h", "{:.2f}"),
    ("left", "unfin.+never ins.", "{:.0f}"),
    ("teleports", "teleports", "{:.0f}"),
)


def describe(draw: dict[str, Any]) -> str:
    """One line on what the draw is."""
    lo, hi = draw["block_m"]
    demand = draw["demand"]
    four, signals = draw["four_stage_signals"], draw["signals"]
    programs = f"{four} four-stage"
    if four < signals:
        programs += f", {signals - four} netconvert {draw['tls_layout']} {draw['tls_cycle_s']:g} s"
    return (
        f"{draw['name']}: {draw['kind']}, {signals} signals ({programs}), "
        f"blocks {lo:.0f}-{hi:.0f} m, lanes "
        f"{'-'.join(str(n) for n in (min(draw['lanes']), max(draw['lanes'])))}, "
        f"peak from {demand['peak_from']} (load {demand['load']:.2f}), surge "
        f"{demand['surge_zone']}, trucks {100 * demand['truck_share']:.0f} %, "
        f"heavier scale {draw['heavy_scale']:.2f}"
    )


def _table(comparisons: Sequence[dict[str, Any]], strategies: Sequence[str]) -> list[str]:
    heads = ["scale", "", *strategies, "adaptive/best peer"]
    body: list[list[str]] = []
    for c in comparisons:
        for k, (key, label, fmt) in enumerate(ROWS):
            cells = [f"{c['scale']:.2f}" if k == 0 else "", label]
            for s in strategies:
                f = c["strategies"].get(s)
                cells.append("failed" if f is None else fmt.format(f[key]))
            if k == 0 and c["ratio"] is not None:
                cells.append(f"{c['ratio']:.3f} ({c['best_peer']})")
            else:
                cells.append("")
            body.append(cells)
    widths = [max(len(r[i]) for r in [heads, *body]) for i in range(len(heads))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (1, len(cells) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(heads), *(line(r) for r in body)]


def format_results(results: dict[str, Any]) -> str:
    """Per draw its description and table, then the summary over the draws."""
    strategies = list(results["settings"]["strategies"])
    lines: list[str] = []
    for draw in results["draws"]:
        own = sorted(
            (c for c in results["comparisons"] if c["draw"] == draw["draw"]),
            key=lambda c: c["scale"],
        )
        lines += [describe(draw), *_table(own, strategies), ""]
    lines.append("summary: adaptive / best peer time loss (mean over draws; below 1 = better)")
    for s in results["summary"]:
        ratio = "-" if s["mean_ratio"] is None else f"{s['mean_ratio']:.3f}"
        label = s["scale_label"]
        label = label if label == HEAVY else f"{float(label):.2f}"
        lines.append(
            f"  scale {label:>5}: {ratio} over {s['compared']} draws, adaptive best "
            f"on {s['adaptive_best']} of {s['compared']}"
        )
    shown = [e for e in results["etown"] if e["ratio"] is not None]
    if shown:
        lines.append(
            "E-Town ratio: adaptive's speed at the heavier scale / the base-year plan's "
            "(faster of fixed, webster) at 1.0x"
        )
        for e in shown:
            lines.append(
                f"  draw {e['draw']}: {e['ratio']:.3f} ({e['adaptive_speed_kmh']:.2f} km/h at "
                f"{e['heavy_scale']:.2f}x vs {e['base_plan']} {e['base_speed_kmh']:.2f} km/h)"
            )
        mean_ratio = sum(e["ratio"] for e in shown) / len(shown)
        lines.append(f"  mean {mean_ratio:.3f} over {len(shown)} draws")
    return "\n".join(lines)
