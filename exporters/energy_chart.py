"""The energy report as a bar chart (PNG): per layer, the SNN's energy beside the same-shape ANN's."""

from __future__ import annotations

import os
from pathlib import Path

from exporters.energy import EnergyReport
from snasnet.core.atomic import atomic_path


def write_energy_chart(report: EnergyReport, path: str | os.PathLike) -> Path:
    """One pair of horizontal bars per layer (nJ per image, log scale: layers differ by orders of magnitude)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    from matplotlib import pyplot as plt

    rows = report.layers
    names = [row.layer for row in rows]
    snn = [max(row.energy_pj / 1e3, 1e-6) for row in rows]
    ann = [max(row.ann_energy_pj / 1e3, 1e-6) for row in rows]
    height = 0.4
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(rows)))
    ys = range(len(rows))
    ax.barh([y - height / 2 for y in ys], snn, height, label="SNN (measured spikes)", color="#2a7ab0")
    ax.barh([y + height / 2 for y in ys], ann, height, label="same-shape ANN (one dense pass)", color="#c8c8c8")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("energy per image (nJ, log scale)")
    ax.set_title(
        f"{report.profile.name}: SNN {report.snn_energy_pj / 1e6:.3g} uJ vs ANN {report.ann_energy_pj / 1e6:.3g} uJ "
        f"per image (ratio {report.ratio:.3f}), T={report.timesteps}",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
