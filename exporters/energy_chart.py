"""The energy report as a bar chart (PNG): per layer, the SNN's energy beside the same-shape ANN's."""

from __future__ import annotations

import os
from pathlib import Path

from exporters.energy import EnergyReport
from snasnet.core.atomic import atomic_path


def write_energy_chart(report: EnergyReport, path: str | os.PathLike) -> Path:
    """Left: one pair of horizontal bars per layer, the SNN's total beside the ANN's (nJ per image, log scale:
    layers differ by orders of magnitude). Right: the two networks' totals, compute and memory stacked."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    from matplotlib import pyplot as plt

    rows = report.layers
    names = [row.layer for row in rows]
    snn = [max(row.snn_total_pj / 1e3, 1e-6) for row in rows]
    ann = [max(row.ann_total_pj / 1e3, 1e-6) for row in rows]
    height = 0.4
    fig, (ax, totals) = plt.subplots(
        1, 2, figsize=(12, 1.6 + 0.32 * len(rows)), gridspec_kw={"width_ratios": [3, 1]}, squeeze=True
    )
    ys = range(len(rows))
    ax.barh([y - height / 2 for y in ys], snn, height, label="SNN (measured spikes)", color="#2a7ab0")
    ax.barh([y + height / 2 for y in ys], ann, height, label="same-shape ANN (one dense pass)", color="#c8c8c8")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("compute + memory per image (nJ, log scale)")
    ax.legend(fontsize=8, loc="lower right")

    t = report.totals()
    compute = [t["snn_compute_pj"] / 1e6, t["ann_compute_pj"] / 1e6]
    memory = [t["snn_memory_pj"] / 1e6, t["ann_memory_pj"] / 1e6]
    totals.bar(["SNN", "ANN"], compute, color="#2a7ab0", label="compute")
    totals.bar(["SNN", "ANN"], memory, bottom=compute, color="#e39c3a", label="memory")
    totals.set_ylabel("energy per image (uJ)")
    totals.legend(fontsize=8)
    rate = report.break_even_rate
    even = "none" if rate is None else f"{rate:.3g}"
    totals.set_title(f"break-even rate {even}\n(measured {t['mean_firing_rate']:.3g} spikes/neuron/step)", fontsize=9)
    fig.suptitle(
        f"{report.profile.name}: SNN {report.snn_energy_pj / 1e6:.3g} uJ vs ANN {report.ann_energy_pj / 1e6:.3g} uJ "
        f"per image, compute + memory (ratio {report.ratio:.3f}), T={report.timesteps}",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
