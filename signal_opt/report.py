"""Comparison reports: a markdown table and plots of delay and speed over time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signal_opt.runs import format_table


def write_report(
    rows: Sequence[dict[str, Any]], out_dir: Path, title: str, notes: Sequence[str] = ()
) -> Path:
    """``report.md``, ``results.json`` and ``timeseries.png`` in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(list(rows), indent=2) + "\n")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for r in rows:
        if "error" in r:
            continue
        series_path = Path(r["out_dir"]) / "timeseries.json"
        if not series_path.is_file():
            continue
        s = json.loads(series_path.read_text())
        t = [x / 3600.0 for x in s["t"]]
        label = f"{r['label']} ({r['scale']:.1f}x)"
        ax1.plot(t, [float("nan") if v is None else v for v in s["mean_time_loss_s"]], label=label)
        ax2.plot(t, [float("nan") if v is None else v for v in s["average_speed_kmh"]], label=label)
    ax1.set_ylabel("mean time loss (s/veh)")
    ax2.set_ylabel("average speed (km/h)")
    ax2.set_xlabel("simulated time (h), trips by arrival")
    ax1.legend(fontsize=8)
    ax1.set_title(title)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "timeseries.png", dpi=110)
    plt.close(fig)
    lines = [f"# {title}", "", format_table(rows, markdown=True), ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", "![delay and speed over time](timeseries.png)", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
